//! Google sign-in and connected Gmail accounts, end to end over HTTP with cookies against the fake
//! Google: PKCE and state checks, friendly pages for every failure, connect, reconnect, disconnect.

use emailgator::db;
use emailgator::jobs::SyncMailbox;
use url::Url;

use crate::support::TestApp;
use crate::support::fake_google::FakeGoogle;

pub async fn spawn_with_google(fake: &FakeGoogle, extra: &[(&str, &str)]) -> TestApp {
    let settings = fake.settings();
    let mut overrides: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // Google's real budget (250 units/s) would make a 1,200-message test take 24 s.
    overrides.push(("EMAILGATOR__GMAIL__QUOTA_UNITS_PER_SECOND", "1000000"));
    overrides.extend_from_slice(extra);
    TestApp::spawn_with(&overrides).await
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").expect("a redirect").to_str().expect("ascii").to_owned()
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    Url::parse(url).expect("url").query_pairs().into_owned().collect()
}

/// Signs the app's browser in with Google as `email`; returns the user id.
pub async fn sign_in_with_google(app: &TestApp, fake: &FakeGoogle, email: &str) -> String {
    let start = app.client.get(app.url("/auth/google")).send().await.expect("start");
    assert_eq!(start.status(), 303);
    let callback = fake.approve(&location(&start), email);
    let done = app.client.get(&callback).send().await.expect("callback");
    assert_eq!(done.status(), 303, "signed in: {}", done.text().await.unwrap_or_default());
    db::users::find_by_email(&mut app.conn(), email).expect("query").expect("user").id
}

/// Connects `email`'s Gmail through the dashboard button; returns the mailbox.
pub async fn connect_gmail(app: &TestApp, fake: &FakeGoogle, email: &str) -> db::mailboxes::Mailbox {
    let csrf = app.csrf_token().await;
    let start = app.post_form("/mailboxes/connect", &[("csrf", &csrf)]).await;
    assert_eq!(start.status(), 303);
    let callback = fake.approve(&location(&start), email);
    let done = app.client.get(&callback).send().await.expect("callback");
    assert_eq!(done.status(), 303, "connected: {}", done.text().await.unwrap_or_default());
    let mailboxes = db::mailboxes::list_active(&mut app.conn()).expect("mailboxes");
    mailboxes.into_iter().find(|m| m.address == email).expect("the connected mailbox")
}

#[tokio::test]
async fn signing_in_with_google_uses_pkce_and_state_and_creates_the_user() {
    let fake = FakeGoogle::start().await;
    fake.add_account("ann@example.com", "Ann Example");
    let app = spawn_with_google(&fake, &[]).await;

    let landing = app.client.get(app.url("/")).send().await.expect("landing").text().await.expect("body");
    assert!(landing.contains("href=\"/auth/google\""), "a sign-in button");
    let start = app.client.get(app.url("/auth/google")).send().await.expect("start");
    let to_google = location(&start);
    let params = query(&to_google);
    assert!(to_google.starts_with(&fake.auth_url()));
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert_eq!(params["scope"], "openid email profile");
    assert!(params["state"].len() >= 32);
    assert_eq!(params["redirect_uri"], app.url("/auth/google/callback"));

    let callback = fake.approve(&to_google, "ann@example.com");
    let done = app.client.get(&callback).send().await.expect("callback");
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/");
    let home = app.client.get(app.url("/")).send().await.expect("home").text().await.expect("body");
    assert!(home.contains("Hello, Ann Example"), "{home}");
    assert!(home.contains("Connect a Gmail account"));
    let user = db::users::find_by_email(&mut app.conn(), "ann@example.com").expect("q").expect("user");
    assert!(user.google_subject.is_some());
    assert!(!user.is_admin);

    // Signing in again finds the same user.
    let again = crate::support::http_client().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build();
    let again = again.expect("client");
    let start = again.get(app.url("/auth/google")).send().await.expect("start");
    let done = again.get(fake.approve(&location(&start), "ann@example.com")).send().await.expect("callback");
    assert_eq!(done.status(), 303);
    assert_eq!(db::users::count(&mut app.conn()).expect("count"), 1);
}

#[tokio::test]
async fn a_replayed_callback_a_foreign_state_and_another_browser_end_on_friendly_pages() {
    let fake = FakeGoogle::start().await;
    fake.add_account("bob@example.com", "Bob");
    let app = spawn_with_google(&fake, &[]).await;

    let start = app.client.get(app.url("/auth/google")).send().await.expect("start");
    let callback = fake.approve(&location(&start), "bob@example.com");
    assert_eq!(app.client.get(&callback).send().await.expect("first").status(), 303);
    let replay = app.client.get(&callback).send().await.expect("replay");
    assert_eq!(replay.status(), 400);
    let page = replay.text().await.expect("body");
    assert!(page.contains("already completed"), "{page}");
    assert!(page.contains("href=\"/auth/google\""), "a way back");

    for path in ["/auth/google/callback?code=abc", "/auth/google/callback?state=forged&code=abc"] {
        let response = app.client.get(app.url(path)).send().await.expect("callback");
        assert_eq!(response.status(), 400, "{path}");
        assert!(response.text().await.expect("body").contains("sign-in button"));
    }

    // Started in this browser, finished in another (no round-trip cookie): refused.
    let start = app.client.get(app.url("/auth/google")).send().await.expect("start");
    let callback = fake.approve(&location(&start), "bob@example.com");
    let other = crate::support::http_client().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = other.get(&callback).send().await.expect("callback");
    assert_eq!(response.status(), 400);
    assert!(response.text().await.expect("body").contains("another browser"));
}

#[tokio::test]
async fn a_denied_consent_and_a_wrong_pkce_verifier_change_nothing() {
    let fake = FakeGoogle::start().await;
    fake.add_account("cy@example.com", "Cy");
    let app = spawn_with_google(&fake, &[]).await;

    let start = app.client.get(app.url("/auth/google")).send().await.expect("start");
    let response = app.client.get(fake.deny(&location(&start))).send().await.expect("callback");
    assert_eq!(response.status(), 400);
    assert!(response.text().await.expect("body").contains("You cancelled"));

    // The verifier we send must match the challenge Google saw: tamper with ours.
    let start = app.client.get(app.url("/auth/google")).send().await.expect("start");
    let callback = fake.approve(&location(&start), "cy@example.com");
    app.conn().execute_batch("UPDATE oauth_states SET code_verifier = 'not-the-verifier'").expect("tamper");
    let response = app.client.get(&callback).send().await.expect("callback");
    assert_eq!(response.status(), 400);
    assert!(response.text().await.expect("body").contains("no longer accepts"));
    assert_eq!(db::users::count(&mut app.conn()).expect("count"), 0);
}

#[tokio::test]
async fn connecting_gmail_asks_for_offline_access_and_stores_sealed_tokens() {
    let fake = FakeGoogle::start().await;
    fake.add_account("dee@example.com", "Dee");
    fake.add_account("dee.work@example.com", "Dee at work");
    let app = spawn_with_google(&fake, &[]).await;
    let user_id = sign_in_with_google(&app, &fake, "dee@example.com").await;

    let csrf = app.csrf_token().await;
    let start = app.post_form("/mailboxes/connect", &[("csrf", &csrf)]).await;
    let params = query(&location(&start));
    assert_eq!(params["access_type"], "offline");
    assert_eq!(params["prompt"], "consent");
    assert!(params["scope"].split(' ').any(|s| s == "https://www.googleapis.com/auth/gmail.modify"));
    assert_eq!(params["code_challenge_method"], "S256");
    let done = app.client.get(fake.approve(&location(&start), "dee@example.com")).send().await.expect("callback");
    assert_eq!(done.status(), 303);

    let mailbox = db::mailboxes::find_by_address(&mut app.conn(), &user_id, "dee@example.com").expect("q");
    let mailbox = mailbox.expect("mailbox");
    assert_eq!(mailbox.kind, "gmail");
    assert_eq!(mailbox.status, "active");
    let sealed = mailbox.encrypted_refresh_token.clone().expect("sealed refresh token");
    assert!(!sealed.contains("1//"), "tokens are ciphertext in the database");
    assert!(!mailbox.encrypted_access_token.clone().unwrap_or_default().contains("ya29."));
    assert!(db::jobs::is_pending_with_key(&mut app.conn(), &SyncMailbox::unique_key(&mailbox.id)).expect("q"));

    // A second account, then the first again: a reconnect keeps the mailbox and its position.
    let second = connect_gmail(&app, &fake, "dee.work@example.com").await;
    assert_ne!(second.id, mailbox.id);
    app.conn()
        .execute_batch(&format!(
            "UPDATE mailboxes SET sync_cursor = '4242', status = 'needs_reconnect' WHERE id = '{}'",
            mailbox.id
        ))
        .expect("cursor");
    let home = app.client.get(app.url("/")).send().await.expect("home").text().await.expect("body");
    assert!(home.contains("needs reconnect") && home.contains("Reconnect"), "{home}");
    let again = connect_gmail(&app, &fake, "dee@example.com").await;
    assert_eq!(again.id, mailbox.id);
    assert_eq!(again.sync_cursor.as_deref(), Some("4242"));
    assert_eq!(again.status, "active");
    let page = app.client.get(app.url("/")).send().await.expect("home").text().await.expect("body");
    assert!(page.contains("dee@example.com") && page.contains("dee.work@example.com"));
    assert!(!page.contains("1//") && !page.contains("ya29."), "no token on pages");
}

#[tokio::test]
async fn a_consent_without_the_gmail_permission_is_explained_and_stores_nothing() {
    let fake = FakeGoogle::start().await;
    fake.add_account("eve@example.com", "Eve");
    let app = spawn_with_google(&fake, &[]).await;
    sign_in_with_google(&app, &fake, "eve@example.com").await;
    let csrf = app.csrf_token().await;
    let start = app.post_form("/mailboxes/connect", &[("csrf", &csrf)]).await;
    let callback = fake.approve_with_scopes(&location(&start), "eve@example.com", &["openid", "email"]);
    let response = app.client.get(&callback).send().await.expect("callback");
    assert_eq!(response.status(), 400);
    assert!(response.text().await.expect("body").contains("permission to read"));
    assert!(db::mailboxes::list_active(&mut app.conn()).expect("q").is_empty());
}

#[tokio::test]
async fn disconnect_revokes_at_google_and_keeps_or_removes_the_emails() {
    let fake = FakeGoogle::start().await;
    fake.add_account("fay@example.com", "Fay");
    fake.add_account("fay.two@example.com", "Fay two");
    let app = spawn_with_google(&fake, &[]).await;
    sign_in_with_google(&app, &fake, "fay@example.com").await;
    let kept = connect_gmail(&app, &fake, "fay@example.com").await;
    let removed = connect_gmail(&app, &fake, "fay.two@example.com").await;
    fake.deliver("fay@example.com", b"From: a@example.com\r\nSubject: Kept\r\n\r\nbody\r\n");
    fake.deliver("fay.two@example.com", b"From: b@example.com\r\nSubject: Gone\r\n\r\nbody\r\n");
    app.run_pending_jobs().await;
    app.enqueue(&SyncMailbox { mailbox_id: kept.id.clone() });
    app.enqueue(&SyncMailbox { mailbox_id: removed.id.clone() });
    app.run_pending_jobs().await;
    assert_eq!(db::emails::list_for_mailbox(&mut app.conn(), &kept.id).expect("q").len(), 1);

    let csrf = app.csrf_token().await;
    let response =
        app.post_form(&format!("/mailboxes/{}/disconnect", kept.id), &[("csrf", &csrf), ("emails", "keep")]).await;
    assert_eq!(response.status(), 303);
    let response =
        app.post_form(&format!("/mailboxes/{}/disconnect", removed.id), &[("csrf", &csrf), ("emails", "remove")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(fake.revoked_tokens().len(), 2, "both grants revoked at Google");

    let kept = db::mailboxes::find(&mut app.conn(), &kept.id).expect("q").expect("kept mailbox");
    assert_eq!(kept.status, "disconnected");
    assert!(kept.encrypted_refresh_token.is_none() && kept.encrypted_access_token.is_none());
    assert_eq!(db::emails::list_for_mailbox(&mut app.conn(), &kept.id).expect("q").len(), 1);
    assert!(db::mailboxes::find(&mut app.conn(), &removed.id).expect("q").is_none());
    assert!(db::emails::list_for_mailbox(&mut app.conn(), &removed.id).expect("q").is_empty());

    // Someone else's mailbox is not found, and a stale form is refused.
    let response = app.post_form(&format!("/mailboxes/{}/sync", kept.id), &[("csrf", "stale")]).await;
    assert_eq!(response.status(), 403);
}
