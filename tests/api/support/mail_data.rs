//! Mail for the page and API tests: the owner signed in with the demo mailbox sorted, and seeded
//! archived emails in a category.

use chrono::{Duration, NaiveDateTime};
use emailgator::db::{self, emails::Email};

use super::TestApp;

/// The owner signed in, with the demo mailbox imported and sorted: (app, user id, mailbox id).
pub async fn app_with_demo() -> (TestApp, String, String) {
    app_with_demo_and(&[]).await
}

pub async fn app_with_demo_and(overrides: &[(&str, &str)]) -> (TestApp, String, String) {
    let app = TestApp::spawn_with(overrides).await;
    app.sign_in_as_owner().await;
    let csrf = app.csrf_token().await;
    assert_eq!(app.post_form("/demo", &[("csrf", &csrf)]).await.status(), 303);
    app.run_pending_jobs().await;
    let mailbox = db::mailboxes::list_active(&mut app.conn()).expect("mailboxes").remove(0);
    (app, mailbox.user_id, mailbox.id)
}

/// `n` archived emails in a category, one minute apart; their ids newest first.
pub fn seed(app: &TestApp, mailbox_id: &str, category_id: &str, n: usize, subject: &str) -> Vec<String> {
    let start = app.now() - Duration::days(2);
    let mut ids = Vec::new();
    for i in 0..n {
        // Every tenth shares its minute with the one before, to prove ties are paged by id.
        let minute = i64::try_from(i - usize::from(i % 10 == 9)).expect("minute");
        let at: NaiveDateTime = start + Duration::minutes(minute);
        let email = Email {
            subject: format!("{subject} {i}"),
            from_name: Some(format!("Sender {i}")),
            from_address: Some(format!("sender{i}@shop.example")),
            summary: Some(format!("Summary of {subject} {i}.")),
            text_body: Some(format!("Body of {subject} {i}.")),
            sanitized_html: Some(format!("<p>Body of {subject} {i}.</p>")),
            list_id: Some("deals.shop.example".into()),
            list_unsubscribe_urls: "[\"https://shop.example/unsubscribe\",\"mailto:leave@shop.example\"]".into(),
            state: "archived".into(),
            category_id: Some(category_id.to_owned()),
            sort_source: Some("local".into()),
            confidence: Some(0.8),
            sent_at: Some(at),
            listed_at: at,
            archived_at: Some(at),
            ..db::emails::discovered(mailbox_id, &format!("seed-{subject}-{i}"), at)
        };
        db::emails::insert(&mut app.conn(), &email).expect("insert");
        ids.push((at, email.id));
    }
    ids.sort_by(|a, b| b.cmp(a));
    ids.into_iter().map(|(_, id)| id).collect()
}

pub fn category_named(app: &TestApp, user_id: &str, name: &str) -> db::categories::Category {
    db::categories::list_for_user(&mut app.conn(), user_id)
        .expect("categories")
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("a category called {name}"))
}
