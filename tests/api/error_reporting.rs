//! Error reporting: the real binary with `SENTRY_DSN` set reports a server error to Sentry with the
//! request id it answered with and the signed-in user's id.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use emailgator::db;

use crate::support::fake_sentry::FakeSentry;
use crate::support::{TestDb, http_client, wait_until};

#[tokio::test]
async fn a_server_error_reaches_sentry_with_the_request_id_and_the_user_id() {
    let sentry = FakeSentry::start().await;
    let test_db = TestDb::new();
    let mut child = crate::binary::emailgator(test_db.dir.path())
        .env("PORT", "0")
        .env("DATABASE_URL", &test_db.url)
        .env("SENTRY_DSN", sentry.dsn())
        .env("EMAILGATOR__JOBS__ENABLED", "false")
        .env("EMAILGATOR__CRON__ENABLED", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start emailgator");
    let stdout = child.stdout.take().expect("stdout");
    let link = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).find(|line| line.contains("/auth/local?token="))
    })
    .await
    .expect("read stdout")
    .expect("serve printed a sign-in link");
    let (base, token) = link.trim().split_once("/auth/local?token=").expect("a link with a token");

    let client = http_client().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let signed_in = client.post(format!("{base}/auth/local")).form(&[("token", token)]).send().await.expect("sign in");
    assert_eq!(signed_in.status(), 303);

    // Break the table the review page reads, so the page fails with an internal error.
    let pool = db::connect_pool(&test_db.url, 1, Duration::from_secs(5), true).expect("pool");
    let mut conn = pool.get().expect("connection");
    conn.execute_batch("ALTER TABLE emails RENAME TO emails_gone").expect("rename");
    let owner = db::users::find_by_email(&mut conn, "owner@localhost").expect("query").expect("the owner");

    let response = client.get(format!("{base}/review")).send().await.expect("review");
    assert_eq!(response.status(), 500);
    let request_id =
        response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).expect("x-request-id").to_owned();
    let body = response.text().await.expect("body");
    assert!(!body.contains("emails"), "5xx text stays generic: {body}");

    // The child's Sentry client sends in the background, which is slow on a busy machine.
    wait_until(60, "the error reaches the fake Sentry", || {
        let found = sentry.envelopes().iter().any(|e| e.contains(&request_id));
        async move { found }
    })
    .await;
    let envelope = sentry.envelopes().into_iter().find(|e| e.contains(&request_id)).expect("the envelope");
    assert!(envelope.contains(&format!("\"request_id\":\"{request_id}\"")), "tagged with the id: {envelope}");
    assert!(envelope.contains(&format!("\"user\":{{\"id\":\"{}\"", owner.id)), "names the user: {envelope}");
    assert!(envelope.contains("500 on GET /review"), "says what failed: {envelope}");
    assert!(envelope.contains(&format!("emailgator@{}", env!("CARGO_PKG_VERSION"))), "the release: {envelope}");
    assert!(!envelope.contains("owner@localhost"), "no address is sent: {envelope}");

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    let exit = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert!(exit.success(), "a clean stop: {exit:?}");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_a_plain_upstream_one() {
    let app = crate::support::TestApp::spawn().await;
    let fresh = app.client.get(app.url("/health")).send().await.expect("health");
    let id = fresh.headers().get("x-request-id").and_then(|v| v.to_str().ok()).expect("an id").to_owned();
    assert_eq!(id.len(), 32, "a new uuid: {id}");

    let kept =
        app.client.get(app.url("/health")).header("fly-request-id", "01HZXAMPLE-iad").send().await.expect("health");
    assert_eq!(kept.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("01HZXAMPLE-iad"));

    let forged =
        app.client.get(app.url("/health")).header("x-request-id", "evil\" injected=1").send().await.expect("health");
    let replaced = forged.headers().get("x-request-id").and_then(|v| v.to_str().ok()).expect("an id");
    assert_ne!(replaced, "evil\" injected=1");
    assert_eq!(replaced.len(), 32);
}
