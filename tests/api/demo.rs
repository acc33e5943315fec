//! The demo: one button on an empty local dashboard (or `emailgator demo`) fills a Maildir with the
//! sample mailbox and starter categories, and every sample email is imported, none dropped.

use emailgator::db;
use emailgator::demo::corpus;

use crate::support::TestApp;

#[tokio::test]
async fn the_demo_button_loads_the_sample_mailbox_and_every_email_is_imported() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let home = app.client.get(app.url("/")).send().await.expect("home").text().await.expect("body");
    assert!(home.contains("Load the demo mailbox"), "{home}");

    let csrf = app.csrf_token().await;
    assert_eq!(app.post_form("/demo", &[("csrf", &csrf)]).await.status(), 303);
    app.run_pending_jobs().await;
    // Again: nothing doubles.
    assert_eq!(app.post_form("/demo", &[("csrf", &csrf)]).await.status(), 303);
    app.run_pending_jobs().await;

    let mailboxes = db::mailboxes::list_active(&mut app.conn()).expect("mailboxes");
    assert_eq!(mailboxes.len(), 1);
    let emails = db::emails::list_for_mailbox(&mut app.conn(), &mailboxes[0].id).expect("emails");
    assert!(corpus::MESSAGES.len() >= 60);
    assert_eq!(emails.len(), corpus::MESSAGES.len());
    // The starter categories are there, so the local sorter sorts them at once (they are archived a
    // minute later, in one batch), or leaves them for review when it is unsure.
    assert!(
        emails.iter().all(|e| matches!(e.state.as_str(), "sorted" | "archived" | "needs_review")),
        "{:?}",
        emails.iter().map(|e| &e.state).collect::<Vec<_>>()
    );
    let sure = emails.iter().filter(|e| e.state != "needs_review").count();
    println!("demo: {sure} of {} sorted with confidence (archived after the archive delay)", emails.len());
    assert!(sure * 2 >= emails.len(), "most of the demo is sorted with confidence: {sure}");
    assert!(emails.iter().all(|e| e.summary.as_deref().is_some_and(|s| !s.is_empty())), "every email summarised");
    assert!(emails.iter().filter(|e| e.parse_problems.is_some()).count() >= 3, "malformed ones are flagged");
    assert!(emails.iter().filter(|e| e.list_unsubscribe_urls != "[]").count() >= 15);
    assert!(emails.iter().any(|e| !e.subject.is_ascii()), "non-English subjects decoded");
    let categories = db::categories::list_for_user(&mut app.conn(), &mailboxes[0].user_id).expect("categories");
    assert_eq!(categories.len(), corpus::STARTER_CATEGORIES.len());

    let home = app.client.get(app.url("/")).send().await.expect("home").text().await.expect("body");
    assert!(!home.contains("Load the demo mailbox"), "offered only on an empty dashboard");
    assert!(home.contains(&format!("{} new today", corpus::MESSAGES.len())), "{home}");
}
