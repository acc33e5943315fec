//! Local sign-in links and server-side sessions: single use, expiry, rotation, idle expiry, sign-out.

use std::time::Duration;

use emailgator::db;
use emailgator::domain::EmailAddress;
use emailgator::services::auth::{self, SessionPolicy};

use crate::support::TestApp;

fn owner_token(app: &TestApp, created: chrono::NaiveDateTime) -> String {
    let mut conn = app.conn();
    let owner = EmailAddress::parse("owner@localhost").expect("email");
    let user = auth::ensure_local_owner(&mut conn, &owner, created).expect("owner");
    auth::create_login_token(&mut conn, &user.id, Duration::from_secs(15 * 60), created).expect("token")
}

async fn home(app: &TestApp) -> String {
    app.client.get(app.url("/")).send().await.expect("home").text().await.expect("body")
}

#[tokio::test]
async fn a_sign_in_link_works_once() {
    let app = TestApp::spawn().await;
    let token = owner_token(&app, app.now());

    let confirm = app.client.get(app.url(&format!("/auth/local?token={token}"))).send().await.expect("get");
    let confirm = confirm.text().await.expect("body");
    assert!(confirm.contains("<form method=\"post\" action=\"/auth/local\">"), "GET only shows a button");

    let response = app.sign_in_with_token(&token).await;
    let cookie = response.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(home(&app).await.contains("Sign out"));

    let again = app.post_form("/auth/local", &[("token", token.as_str())]).await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.expect("body").contains("already been used"));
}

#[tokio::test]
async fn an_expired_sign_in_link_is_refused() {
    let app = TestApp::spawn().await;
    let token = owner_token(&app, app.now() - chrono::Duration::minutes(16));
    let response = app.post_form("/auth/local", &[("token", token.as_str())]).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.expect("body").contains("expired"));
    assert!(!home(&app).await.contains("Sign out"));
}

#[tokio::test]
async fn a_made_up_link_is_refused() {
    let app = TestApp::spawn().await;
    let page =
        app.client.get(app.url("/auth/local?token=guess")).send().await.expect("get").text().await.expect("body");
    assert!(page.contains("not valid"));
}

#[tokio::test]
async fn signing_in_replaces_the_previous_session() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let sessions_before = session_count(&app);
    let token = owner_token(&app, app.now());
    app.sign_in_with_token(&token).await;
    assert_eq!(session_count(&app), sessions_before, "the old session was deleted, a new one made");
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = TestApp::spawn_with(&[("EMAILGATOR__SERVER__SESSION_IDLE_MINUTES", "60")]).await;
    let owner =
        auth::ensure_local_owner(&mut app.conn(), &EmailAddress::parse("owner@localhost").expect("e"), app.now())
            .expect("owner");
    let policy = SessionPolicy { idle: Duration::from_secs(3600), absolute: Duration::from_secs(86400 * 30) };
    let long_ago = app.now() - chrono::Duration::hours(2);
    let session = auth::start_session(&mut app.conn(), &owner.id, policy, long_ago).expect("session");
    let client = crate::support::http_client().build().expect("client");
    let page = client
        .get(app.url("/"))
        .header("cookie", format!("eg_session={}", session.cookie_value))
        .send()
        .await
        .expect("home")
        .text()
        .await
        .expect("body");
    assert!(!page.contains("Sign out"), "an idle session does not sign anyone in");
    assert!(db::sessions::find(&mut app.conn(), &session.session.id_hash).expect("query").is_none(), "and is deleted");
}

#[tokio::test]
async fn signing_out_needs_the_csrf_token_and_ends_the_session() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let token = app.csrf_token().await;

    let forged = app.post_form("/auth/sign-out", &[("csrf", "stale")]).await;
    assert_eq!(forged.status(), 403);
    assert!(forged.text().await.expect("body").contains("This form has expired"));
    assert!(home(&app).await.contains("Sign out"), "still signed in");

    let response = app.post_form("/auth/sign-out", &[("csrf", token.as_str())]).await;
    assert_eq!(response.status(), 303);
    assert!(!home(&app).await.contains("Sign out"));
    assert_eq!(session_count(&app), 0);
}

fn session_count(app: &TestApp) -> i64 {
    let mut conn = app.conn();
    let owner = db::users::find_by_email(&mut conn, "owner@localhost").expect("query").expect("owner");
    db::sessions::count_for_user(&mut conn, &owner.id).expect("count")
}
