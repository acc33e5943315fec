//! Maildir mailboxes through the import pipeline: poll → sync_mailbox → import_messages. Every
//! message is recorded once, imported once, and never dropped, even when it cannot be read.

use std::path::Path;
use std::sync::Arc;

use emailgator::clients::mail::NewMessages;
use emailgator::db;
use emailgator::domain::EmailAddress;
use emailgator::jobs::{ArchiveMessages, EnqueueOptions, Poll, SyncMailbox};
use emailgator::services::{imports, mailboxes, trash};

use crate::support::{TestApp, TestDb};

fn new_maildir(dir: &Path) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).expect("maildir folders");
    }
}

fn deliver(dir: &Path, n: usize) -> String {
    let name = format!("17000{n:05}.M{n}P1.mail.example");
    let message = format!(
        "From: \"Shop {n}\" <news{n}@shop.example>\r\nTo: owner@localhost\r\nSubject: Offer number {n}\r\n\
         Date: Tue, 24 Nov 2026 10:{:02}:00 +0100\r\nMessage-ID: <m{n}@shop.example>\r\n\
         List-Id: Shop News <news.shop.example>\r\n\
         List-Unsubscribe: <https://shop.example/u/{n}>, <mailto:leave@shop.example>\r\n\
         List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nHello, this is offer {n}.\r\n",
        n % 60
    );
    std::fs::write(dir.join("new").join(&name), message).expect("deliver");
    name
}

fn add_mailbox(app: &TestApp, dir: &Path) -> db::mailboxes::Mailbox {
    let owner = EmailAddress::parse("owner@localhost").expect("email");
    mailboxes::add_maildir(&mut app.conn(), &owner, dir, app.now()).expect("add maildir")
}

fn states(app: &TestApp, mailbox_id: &str) -> Vec<(String, i64)> {
    db::emails::count_by_state(&mut app.conn(), mailbox_id).expect("count")
}

#[tokio::test]
async fn a_maildir_is_polled_synced_and_imported_exactly_once() {
    let app = TestApp::spawn().await;
    let maildir = tempfile::tempdir().expect("dir");
    new_maildir(maildir.path());
    for n in 0..120 {
        deliver(maildir.path(), n);
    }
    let mailbox = add_mailbox(&app, maildir.path());

    app.enqueue(&Poll {});
    let report = app.run_pending_jobs().await;

    // The sort finds no categories yet, so the emails wait as imported.
    assert_eq!(report.completed, 1 + 1 + 3 + 1, "poll, one sync, three import batches of up to 50, one sort");
    assert_eq!(states(&app, &mailbox.id), [("imported".to_owned(), 120)]);
    let email = db::emails::find_by_provider_id(&mut app.conn(), &mailbox.id, "1700000007.M7P1.mail.example")
        .expect("query")
        .expect("imported");
    assert_eq!(email.subject, "Offer number 7");
    assert_eq!(email.from_name.as_deref(), Some("Shop 7"));
    assert_eq!(email.from_address.as_deref(), Some("news7@shop.example"));
    assert_eq!(email.list_id.as_deref(), Some("news.shop.example"));
    assert!(email.is_one_click);
    assert!(email.list_unsubscribe_urls.contains("https://shop.example/u/7"));
    assert_eq!(email.sent_at.map(|t| t.to_string()), Some("2026-11-24 09:07:00".to_owned()), "Date in UTC");
    assert!(email.text_body.as_deref().is_some_and(|t| t.contains("offer 7")));
    assert!(email.parse_problems.is_none());

    // Polling again finds nothing new; a new delivery is imported once.
    app.enqueue(&Poll {});
    app.run_pending_jobs().await;
    assert_eq!(states(&app, &mailbox.id), [("imported".to_owned(), 120)]);
    deliver(maildir.path(), 500);
    app.enqueue(&Poll {});
    app.run_pending_jobs().await;
    assert_eq!(states(&app, &mailbox.id), [("imported".to_owned(), 121)]);
    let synced = db::mailboxes::find(&mut app.conn(), &mailbox.id).expect("q").expect("mailbox");
    assert!(synced.last_synced_at.is_some() && synced.last_error.is_none());
}

#[tokio::test]
async fn two_instances_syncing_one_mailbox_at_once_import_each_message_once() {
    let db = Arc::new(TestDb::new());
    let first = TestApp::spawn_on(db.clone(), &[]).await;
    let second = TestApp::spawn_on(db.clone(), &[]).await;
    let maildir = tempfile::tempdir().expect("dir");
    new_maildir(maildir.path());
    for n in 0..200 {
        deliver(maildir.path(), n);
    }
    let mailbox = add_mailbox(&first, maildir.path());
    // Two syncs of the same mailbox, as two instances would run them, without the unique key.
    for app in [&first, &second] {
        app.enqueue_with(&SyncMailbox { mailbox_id: mailbox.id.clone() }, EnqueueOptions::default());
    }

    tokio::join!(first.run_pending_jobs(), second.run_pending_jobs());
    first.run_pending_jobs().await;

    assert_eq!(states(&first, &mailbox.id), [("imported".to_owned(), 200)]);
    let queued: usize = crate::support::test_jobs::import_job_ids(&mut first.conn()).len();
    assert_eq!(queued, 200, "every message was queued for import exactly once");
}

#[tokio::test]
async fn a_message_that_cannot_be_parsed_is_stored_with_a_note() {
    let app = TestApp::spawn().await;
    let maildir = tempfile::tempdir().expect("dir");
    new_maildir(maildir.path());
    std::fs::write(maildir.path().join("new").join("1.garbage.host"), [0xff, 0x00, 0xfe, 0x13, 0x37]).expect("write");
    let mailbox = add_mailbox(&app, maildir.path());

    app.enqueue(&SyncMailbox { mailbox_id: mailbox.id.clone() });
    app.run_pending_jobs().await;

    let email = db::emails::find_by_provider_id(&mut app.conn(), &mailbox.id, "1.garbage.host")
        .expect("query")
        .expect("stored, not dropped");
    assert_eq!(email.state, "imported");
    assert_eq!(email.raw_size, 5);
    assert!(email.parse_problems.is_some(), "{email:?}");
}

#[tokio::test]
async fn a_message_removed_before_its_import_is_stored_with_a_note() {
    let app = TestApp::spawn().await;
    let maildir = tempfile::tempdir().expect("dir");
    new_maildir(maildir.path());
    let name = deliver(maildir.path(), 1);
    let mailbox = add_mailbox(&app, maildir.path());
    let found = NewMessages { ids: vec![name.clone()], cursor: None };
    let new = imports::record_new_messages(&mut app.conn(), &mailbox.id, &found, app.now()).expect("record");
    assert_eq!(new, 1);
    std::fs::remove_file(maildir.path().join("new").join(&name)).expect("take the message away");

    app.run_pending_jobs().await;

    let email = db::emails::find_by_provider_id(&mut app.conn(), &mailbox.id, &name).expect("q").expect("kept");
    assert_eq!(email.state, "imported");
    assert!(email.parse_problems.as_deref().is_some_and(|p| p.contains("no longer in the mailbox")), "{email:?}");
}

#[tokio::test]
async fn poll_skips_mailboxes_that_are_not_active() {
    let app = TestApp::spawn().await;
    let maildir = tempfile::tempdir().expect("dir");
    new_maildir(maildir.path());
    deliver(maildir.path(), 1);
    let mailbox = add_mailbox(&app, maildir.path());
    db::mailboxes::set_status(&mut app.conn(), &mailbox.id, "needs_reconnect", app.now()).expect("status");

    app.enqueue(&Poll {});
    let report = app.run_pending_jobs().await;

    assert_eq!(report.completed, 1, "only the poll ran");
    assert!(states(&app, &mailbox.id).is_empty());
}

#[tokio::test]
async fn poll_lets_a_rate_limited_mailbox_sync_only_after_its_wait() {
    let app = TestApp::spawn().await;
    let maildir = tempfile::tempdir().expect("dir");
    new_maildir(maildir.path());
    deliver(maildir.path(), 1);
    let mailbox = add_mailbox(&app, maildir.path());
    let until = app.now() + chrono::Duration::minutes(10);
    db::mailboxes::set_rate_limited(&mut app.conn(), &mailbox.id, until, app.now()).expect("rate limited");

    app.enqueue(&Poll {});
    let report = app.run_pending_jobs().await;

    assert_eq!(report.completed, 1, "only the poll ran; the sync waits");
    assert!(states(&app, &mailbox.id).is_empty());
    let run_at: chrono::NaiveDateTime = {
        use diesel::prelude::*;
        use emailgator::db::schema::jobs;
        jobs::table
            .filter(jobs::unique_key.eq(SyncMailbox::unique_key(&mailbox.id)))
            .select(jobs::run_at)
            .first(&mut app.conn())
            .expect("a sync is queued")
    };
    assert_eq!(run_at.and_utc().timestamp(), until.and_utc().timestamp());
}

#[tokio::test]
async fn a_vanished_maildir_is_reported_on_the_mailbox_and_retried() {
    let app = TestApp::spawn().await;
    app.expect_failed_jobs();
    let maildir = tempfile::tempdir().expect("dir");
    new_maildir(maildir.path());
    let mailbox = add_mailbox(&app, maildir.path());
    std::fs::remove_dir_all(maildir.path()).expect("remove");

    let id = app.enqueue(&SyncMailbox { mailbox_id: mailbox.id.clone() });
    app.run_pending_jobs().await;

    let job = app.job(&id);
    assert_eq!(job.state, "retryable");
    let mailbox = db::mailboxes::find(&mut app.conn(), &mailbox.id).expect("q").expect("mailbox");
    assert!(
        mailbox.last_error.as_deref().is_some_and(|e| e.starts_with("the mailbox folder cannot be read")),
        "{mailbox:?}"
    );
}

#[test]
fn a_folder_that_is_not_a_maildir_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let db = TestDb::new();
    let config = crate::support::app::test_config(&db, &[]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let pool = runtime.block_on(emailgator::startup::open_database(&config, true)).expect("db");
    let owner = EmailAddress::parse("owner@localhost").expect("email");
    let error =
        mailboxes::add_maildir(&mut pool.get().expect("conn"), &owner, dir.path(), chrono::Utc::now().naive_utc())
            .expect_err("refused");
    assert!(format!("{error:?}").contains("is not a Maildir"), "{error:?}");
}

#[tokio::test]
async fn the_dashboard_shows_each_mailbox_with_what_it_is_doing_and_todays_mail() {
    let app = TestApp::spawn().await;
    let maildir = tempfile::tempdir().expect("dir");
    new_maildir(maildir.path());
    for n in 0..3 {
        deliver(maildir.path(), n);
    }
    let mailbox = add_mailbox(&app, maildir.path());
    app.sign_in_as_owner().await;
    let dashboard = || async { app.client.get(app.url("/")).send().await.expect("get").text().await.expect("body") };

    app.enqueue_with(
        &SyncMailbox { mailbox_id: mailbox.id.clone() },
        EnqueueOptions { unique_key: Some(SyncMailbox::unique_key(&mailbox.id)), ..Default::default() },
    );
    let page = dashboard().await;
    assert!(page.contains(">syncing<") && page.contains("Mail is on its way: checking for new mail"), "{page}");

    app.run_pending_jobs().await;
    let page = dashboard().await;
    assert!(page.contains(">idle<") && page.contains("3 new today"), "{page}");
    assert!(!page.contains("Mail is on its way"), "no banner once the work is done");

    db::mailboxes::record_error(&mut app.conn(), &mailbox.id, "access to the mailbox was revoked", app.now())
        .expect("error");
    db::mailboxes::set_status(&mut app.conn(), &mailbox.id, "needs_reconnect", app.now()).expect("status");
    let page = dashboard().await;
    assert!(page.contains("needs reconnect") && page.contains("Last problem: access to the mailbox was revoked"));
}

#[tokio::test]
async fn only_stored_and_sorted_emails_are_archived_and_only_once() {
    let app = TestApp::spawn().await;
    let maildir = tempfile::tempdir().expect("dir");
    new_maildir(maildir.path());
    let names: Vec<String> = (0..3).map(|n| deliver(maildir.path(), n)).collect();
    let mailbox = add_mailbox(&app, maildir.path());
    app.enqueue(&SyncMailbox { mailbox_id: mailbox.id.clone() });
    app.run_pending_jobs().await;
    let category = db::categories::Category {
        id: db::new_id(),
        user_id: mailbox.user_id.clone(),
        name: "Shopping".into(),
        name_key: "shopping".into(),
        description: "Offers and receipts from shops".into(),
        position: 0,
        gmail_label_ids: "{}".into(),
        created_at: app.now(),
        updated_at: app.now(),
    };
    db::categories::insert(&mut app.conn(), &category).expect("category");
    let emails = db::emails::list_for_mailbox(&mut app.conn(), &mailbox.id).expect("emails");
    // The first two are sorted (as the sorter will do); the third is still unsorted.
    for email in &emails[..2] {
        app.conn()
            .execute_batch(&format!(
                "UPDATE emails SET state = 'sorted', category_id = '{}' WHERE id = '{}'",
                category.id, email.id
            ))
            .expect("sort");
    }
    let job =
        ArchiveMessages { mailbox_id: mailbox.id.clone(), email_ids: emails.iter().map(|e| e.id.clone()).collect() };

    app.enqueue(&job);
    app.run_pending_jobs().await;
    app.enqueue(&job);
    app.run_pending_jobs().await;

    let mut states = states(&app, &mailbox.id);
    states.sort();
    assert_eq!(states, [("archived".to_owned(), 2), ("imported".to_owned(), 1)]);
    for name in &names[..2] {
        assert!(maildir.path().join(".Archive/cur").join(format!("{name}:2,S")).exists(), "{name} archived");
    }
    assert!(maildir.path().join("new").join(&names[2]).exists(), "the unsorted one stays in the inbox");
    let archived = db::emails::find(&mut app.conn(), &emails[0].id).expect("q").expect("email");
    assert!(archived.archived_at.is_some());
}

#[tokio::test]
async fn delete_moves_maildir_files_to_trash_and_undo_moves_them_to_the_archive() {
    let app = TestApp::spawn().await;
    let maildir = tempfile::tempdir().expect("dir");
    new_maildir(maildir.path());
    let name = deliver(maildir.path(), 7);
    let mailbox = add_mailbox(&app, maildir.path());
    app.enqueue(&SyncMailbox { mailbox_id: mailbox.id.clone() });
    app.run_pending_jobs().await;
    let email = db::emails::list_for_mailbox(&mut app.conn(), &mailbox.id).expect("emails").remove(0);

    let deleted = trash::trash(&mut app.conn(), &mailbox.user_id, std::slice::from_ref(&email.id), app.now());
    assert_eq!(deleted.expect("trash"), 1);
    app.run_pending_jobs().await;
    assert!(maildir.path().join(".Trash/cur").join(format!("{name}:2,S")).exists(), "in the trash on disk");
    assert!(!maildir.path().join("new").join(&name).exists());

    let restored = trash::restore(&mut app.conn(), &mailbox.user_id, std::slice::from_ref(&email.id), app.now());
    assert_eq!(restored.expect("restore"), 1);
    app.run_pending_jobs().await;
    assert!(maildir.path().join(".Archive/cur").join(format!("{name}:2,S")).exists(), "back, archived");
    let email = db::emails::find(&mut app.conn(), &email.id).expect("q").expect("email");
    assert!(email.trashed_at.is_none());
}
