//! The metrics ops alert on: job failures by kind, sync lag, unsubscribe outcomes and the database pool,
//! read from what is really in the database.

use chrono::Duration;
use emailgator::db;

use crate::support::TestApp;

fn user(app: &TestApp) -> db::users::User {
    let now = app.now();
    let user = db::users::User {
        id: db::new_id(),
        email: "ops@example.com".into(),
        name: "Ops".into(),
        is_admin: false,
        ai_settings: "{}".into(),
        created_at: now,
        updated_at: now,
        google_subject: None,
        is_keeping_inbox: false,
        is_labelling: true,
    };
    db::users::insert(&mut app.conn(), &user).expect("user");
    user
}

fn mailbox(app: &TestApp, user_id: &str, address: &str, last_synced_at: Option<chrono::NaiveDateTime>) {
    let now = app.now();
    let mailbox = db::mailboxes::Mailbox {
        id: db::new_id(),
        user_id: user_id.to_owned(),
        kind: "maildir".into(),
        address: address.to_owned(),
        encrypted_access_token: None,
        encrypted_refresh_token: None,
        token_key_id: None,
        token_expires_at: None,
        granted_scopes: String::new(),
        sync_cursor: None,
        status: "active".into(),
        rate_limited_until: None,
        last_synced_at,
        last_error: None,
        backfill_days: 7,
        created_at: now - Duration::days(2),
        updated_at: now,
        maildir_path: Some("/nonexistent".into()),
    };
    db::mailboxes::insert(&mut app.conn(), &mailbox).expect("mailbox");
}

fn finished_job(app: &TestApp, kind: &str, state: &str, finished_ago: Duration) {
    let now = app.now();
    let job = db::jobs::JobRow {
        id: db::new_id(),
        kind: kind.to_owned(),
        args: "{}".into(),
        queue: "default".into(),
        priority: 0,
        state: state.to_owned(),
        attempt: 3,
        max_attempts: 3,
        run_at: now - finished_ago,
        lease_owner: None,
        lease_expires_at: None,
        last_error: Some("gave up".into()),
        unique_key: None,
        created_at: now - finished_ago,
        attempted_at: Some(now - finished_ago),
        finished_at: (state == "discarded").then_some(now - finished_ago),
    };
    db::jobs::insert(&mut app.conn(), &job).expect("job");
}

fn unsubscribe_attempt(app: &TestApp, user_id: &str, method: &str, status: &str) {
    let now = app.now();
    let attempt = db::unsubscribe_attempts::UnsubscribeAttempt {
        id: db::new_id(),
        user_id: user_id.to_owned(),
        subscription_key: "list.example.com".into(),
        email_id: None,
        method: method.to_owned(),
        url: Some("https://list.example.com/u".into()),
        status: status.to_owned(),
        reason: None,
        steps: "[]".into(),
        screenshot_path: None,
        started_at: Some(now - Duration::minutes(5)),
        finished_at: Some(now - Duration::minutes(4)),
        created_at: now - Duration::minutes(5),
    };
    db::unsubscribe_attempts::insert(&mut app.conn(), &attempt).expect("attempt");
}

fn value(text: &str, series: &str) -> f64 {
    let line = text
        .lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"));
    line[series.len()..].trim().parse().unwrap_or_else(|_| panic!("a number in {line:?}"))
}

#[tokio::test]
async fn metrics_report_job_failures_sync_lag_unsubscribe_outcomes_and_the_pool() {
    let app = TestApp::spawn().await;
    app.expect_failed_jobs();
    let owner = user(&app);
    mailbox(&app, &owner.id, "fresh@example.com", Some(app.now() - Duration::seconds(30)));
    mailbox(&app, &owner.id, "stale@example.com", Some(app.now() - Duration::minutes(50)));
    finished_job(&app, "sync_mailbox", "discarded", Duration::minutes(10));
    finished_job(&app, "sync_mailbox", "discarded", Duration::minutes(20));
    finished_job(&app, "sort_emails", "discarded", Duration::hours(3));
    finished_job(&app, "import_messages", "retryable", Duration::minutes(1));
    unsubscribe_attempt(&app, &owner.id, "one_click", "failed");
    unsubscribe_attempt(&app, &owner.id, "one_click", "succeeded");
    unsubscribe_attempt(&app, &owner.id, "browser", "failed");

    let text = app.client.get(app.url("/metrics")).send().await.expect("request").text().await.expect("body");

    assert_eq!(value(&text, "emailgator_job_failures_last_hour{kind=\"sync_mailbox\"}"), 2.0);
    assert!(!text.contains("emailgator_job_failures_last_hour{kind=\"sort_emails\"}"), "older than an hour: {text}");
    assert_eq!(value(&text, "emailgator_jobs_retrying{kind=\"import_messages\"}"), 1.0);
    assert_eq!(value(&text, "emailgator_mailboxes{kind=\"maildir\",status=\"active\"}"), 2.0);
    let lag = value(&text, "emailgator_mailbox_sync_age_seconds{kind=\"maildir\"}");
    assert!((2990.0..3100.0).contains(&lag), "the stale mailbox decides the lag: {lag}");
    assert_eq!(value(&text, "emailgator_unsubscribe_attempts_last_hour{method=\"one_click\",status=\"failed\"}"), 1.0);
    assert_eq!(
        value(&text, "emailgator_unsubscribe_attempts_last_hour{method=\"one_click\",status=\"succeeded\"}"),
        1.0
    );
    assert_eq!(value(&text, "emailgator_unsubscribe_attempts_last_hour{method=\"browser\",status=\"failed\"}"), 1.0);
    assert_eq!(value(&text, "emailgator_db_pool_max_connections"), 6.0, "the test pool size");
    let in_use = value(&text, "emailgator_db_pool_connections{state=\"in_use\"}");
    let idle = value(&text, "emailgator_db_pool_connections{state=\"idle\"}");
    assert!(in_use + idle >= 1.0 && in_use + idle <= 6.0, "in use {in_use}, idle {idle}");
}
