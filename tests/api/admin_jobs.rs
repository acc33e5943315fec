//! The admin job dashboard: only admins see it; it shows queues, schedules and failures; its buttons
//! retry, cancel and discard jobs.

use crate::support::TestApp;
use crate::support::test_jobs::{FailPermanently, FailTimes, RecordRun};

#[tokio::test]
async fn the_dashboard_needs_a_signed_in_user() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/admin/jobs")).send().await.expect("get");
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_dashboard_is_forbidden_to_non_admins() {
    let app = TestApp::spawn().await;
    app.sign_in_as("someone@example.com").await;
    let response = app.client.get(app.url("/admin/jobs")).send().await.expect("get");
    assert_eq!(response.status(), 403);
    let token = app.csrf_token().await;
    let id = app.enqueue(&RecordRun { key: "x".into() });
    let response = app.post_form(&format!("/admin/jobs/{id}/cancel"), &[("csrf", token.as_str())]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(app.job(&id).state, "available");
}

#[tokio::test]
async fn admin_emails_grant_the_dashboard() {
    let app = TestApp::spawn_with(&[("ADMIN_EMAILS", "ops@example.com")]).await;
    app.sign_in_as("ops@example.com").await;
    let response = app.client.get(app.url("/admin/jobs")).send().await.expect("get");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_dashboard_shows_queues_schedules_and_failures() {
    let app = TestApp::spawn().await;
    app.expect_failed_jobs();
    app.enqueue(&FailPermanently {});
    app.enqueue(&RecordRun { key: "ok".into() });
    app.run_pending_jobs().await;
    app.sign_in_as_owner().await;

    let page = app.client.get(app.url("/admin/jobs")).send().await.expect("get").text().await.expect("body");

    assert!(page.contains("<th scope=\"row\">default</th>"), "queues are listed");
    assert!(page.contains("<th scope=\"row\">prune</th>"), "schedules are listed");
    assert!(page.contains("test_fail_permanently") && page.contains("the grant was revoked"), "failures show");
    assert!(page.contains("data-refresh"), "the page refreshes itself");
}

#[tokio::test]
async fn an_admin_retries_a_discarded_job_and_it_runs() {
    // A backoff of about a second: the test looks at the job between its attempts, and the default
    // 10 ms backoff can run out inside the same drain on a busy machine.
    let app = TestApp::spawn_with(&[("EMAILGATOR__JOBS__RETRY_BASE_MS", "1000")]).await;
    let id = app.enqueue(&FailTimes { key: "retry-me".into(), failures: 1 });
    emailgator::db::jobs::claim(&mut app.conn(), "default", "w", 1, app.now(), app.now()).expect("claim");
    emailgator::db::jobs::discard(&mut app.conn(), &id, "w", app.now(), "gave up").expect("discard");
    app.sign_in_as_owner().await;
    let token = app.csrf_token().await;

    let response = app.post_form(&format!("/admin/jobs/{id}/retry"), &[("csrf", token.as_str())]).await;

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin/jobs?done=retried");
    assert_eq!(app.job(&id).state, "available");
    app.run_pending_jobs().await;
    assert_eq!(app.job(&id).state, "retryable", "the first run fails as the job says");
    crate::support::wait_until(10, "the retried job completes", || async {
        app.run_pending_jobs().await;
        app.job(&id).state == "completed"
    })
    .await;
}

#[tokio::test]
async fn an_admin_cancels_and_discards_waiting_jobs() {
    let app = TestApp::spawn().await;
    app.expect_failed_jobs();
    let cancel = app.enqueue(&RecordRun { key: "cancel".into() });
    let discard = app.enqueue(&RecordRun { key: "discard".into() });
    app.sign_in_as_owner().await;
    let token = app.csrf_token().await;
    for (id, action) in [(&cancel, "cancel"), (&discard, "discard")] {
        let response = app.post_form(&format!("/admin/jobs/{id}/{action}"), &[("csrf", token.as_str())]).await;
        assert_eq!(response.status(), 303);
    }
    assert_eq!(app.job(&cancel).state, "cancelled");
    assert_eq!(app.job(&discard).state, "discarded");
    app.run_pending_jobs().await;
    assert_eq!(app.runs("cancel") + app.runs("discard"), 0, "neither runs");

    let again = app.post_form(&format!("/admin/jobs/{cancel}/cancel"), &[("csrf", token.as_str())]).await;
    assert_eq!(again.status(), 409, "a finished job cannot be cancelled");
}

#[tokio::test]
async fn a_stale_csrf_token_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&RecordRun { key: "keep".into() });
    app.sign_in_as_owner().await;
    let response = app.post_form(&format!("/admin/jobs/{id}/cancel"), &[("csrf", "token-from-an-old-session")]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(app.job(&id).state, "available");
}
