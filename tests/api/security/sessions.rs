//! Session fixation: a session id planted before sign-in is never the one after it, signing in
//! again rotates the id, and signing out ends the session on the server, not only in the browser.

use emailgator::db;
use emailgator::services::auth;

use super::anonymous_client;
use crate::support::TestApp;

/// The `eg_session` value a response sets.
fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("eg_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

/// A one-time sign-in token for the owner.
fn owner_token(app: &TestApp) -> String {
    let owner = emailgator::domain::EmailAddress::parse(&app.state.config.local.owner_email).expect("email");
    let mut conn = app.conn();
    let user = auth::ensure_local_owner(&mut conn, &owner, app.now()).expect("owner");
    auth::create_login_token(&mut conn, &user.id, std::time::Duration::from_secs(60), app.now()).expect("token")
}

/// Signs in with `token`, sending `cookie` as the session cookie the browser already had.
async fn sign_in_with_cookie(app: &TestApp, cookie: Option<&str>, token: &str) -> String {
    let mut request = anonymous_client().post(app.url("/auth/local")).form(&[("token", token)]);
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("eg_session={cookie}"));
    }
    let response = request.send().await.expect("sign in");
    assert_eq!(response.status(), 303);
    session_cookie(&response)
}

/// Who a session cookie signs in, as the settings page shows it; None when it signs in nobody.
async fn who(app: &TestApp, cookie: &str) -> Option<String> {
    let response = anonymous_client()
        .get(app.url("/settings"))
        .header("cookie", format!("eg_session={cookie}"))
        .send()
        .await
        .expect("settings");
    match response.status().as_u16() {
        200 => {
            let page = response.text().await.expect("body");
            ["owner@localhost", "mallory@example.com"].into_iter().find(|e| page.contains(e)).map(str::to_owned)
        }
        401 => None,
        other => panic!("settings answered {other}"),
    }
}

#[tokio::test]
async fn a_session_id_planted_before_sign_in_is_replaced_and_never_signs_anyone_in() {
    let app = TestApp::spawn().await;
    let planted = "attacker-chosen-session-id-0123456789abcdef";
    let issued = sign_in_with_cookie(&app, Some(planted), &owner_token(&app)).await;
    assert_ne!(issued, planted, "the server chose a new id");
    assert_eq!(who(&app, &issued).await.as_deref(), Some("owner@localhost"));
    assert_eq!(who(&app, planted).await, None, "the planted id is not a session");
}

#[tokio::test]
async fn an_attackers_real_session_planted_in_a_victims_browser_does_not_become_the_victims() {
    let app = TestApp::spawn().await;
    // Mallory has an account and a valid session of her own, whose id she plants in the owner's browser.
    app.other_browser("mallory@example.com").await;
    let cookie = {
        let user = db::users::find_by_email(&mut app.conn(), "mallory@example.com").expect("find").expect("mallory");
        let policy = emailgator::web::extract::session_policy(&app.state);
        auth::start_session(&mut app.conn(), &user.id, policy, app.now()).expect("session").cookie_value
    };
    assert_eq!(who(&app, &cookie).await.as_deref(), Some("mallory@example.com"));
    let issued = sign_in_with_cookie(&app, Some(&cookie), &owner_token(&app)).await;
    assert_ne!(issued, cookie);
    assert_eq!(who(&app, &issued).await.as_deref(), Some("owner@localhost"));
    assert_ne!(
        who(&app, &cookie).await.as_deref(),
        Some("owner@localhost"),
        "the planted id did not become the owner's"
    );
}

#[tokio::test]
async fn signing_in_again_rotates_the_id_and_the_old_one_stops_working() {
    let app = TestApp::spawn().await;
    let first = sign_in_with_cookie(&app, None, &owner_token(&app)).await;
    let second = sign_in_with_cookie(&app, Some(&first), &owner_token(&app)).await;
    assert_ne!(first, second);
    assert_eq!(who(&app, &second).await.as_deref(), Some("owner@localhost"));
    assert_eq!(who(&app, &first).await, None, "the previous session was ended on the server");
}

#[tokio::test]
async fn signing_out_invalidates_the_old_cookie_on_the_server() {
    let app = TestApp::spawn().await;
    let cookie = sign_in_with_cookie(&app, None, &owner_token(&app)).await;
    let client = anonymous_client();
    let home = client
        .get(app.url("/"))
        .header("cookie", format!("eg_session={cookie}"))
        .send()
        .await
        .expect("home")
        .text()
        .await
        .expect("body");
    let marker = "name=\"csrf\" value=\"";
    let start = home.find(marker).expect("signed in") + marker.len();
    let csrf = home[start..].split('"').next().expect("token").to_owned();
    let response = client
        .post(app.url("/auth/sign-out"))
        .header("cookie", format!("eg_session={cookie}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("sign out");
    assert_eq!(response.status(), 303);
    let cleared = session_cookie(&response);
    assert!(cleared.is_empty(), "the browser is told to drop the cookie: {cleared:?}");
    // A copy of the cookie kept by an attacker (or a browser that ignored the removal) is dead.
    assert_eq!(who(&app, &cookie).await, None);
}
