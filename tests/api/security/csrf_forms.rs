//! CSRF on every state-changing form: the owner's own browser posting each form with no token, a
//! stale token (from the session before the last sign-in) or another session's token is refused
//! with 403, and nothing changes.

use super::route_table::{Access, ROUTES};
use super::{app_with_owner, assert_unchanged, csrf_of, snapshot};

#[tokio::test]
async fn every_form_refuses_a_missing_stale_or_foreign_token_and_changes_nothing() {
    let (app, owner) = app_with_owner().await;
    let stale = app.csrf_token().await;
    app.sign_in_as_owner().await;
    let current = app.csrf_token().await;
    assert_ne!(stale, current, "a new session has a new token");
    let (mallory, _) = app.other_browser("mallory@example.com").await;
    let foreign = csrf_of(&app, &mallory).await;
    let before = snapshot(&app);

    let forms: Vec<_> =
        ROUTES.iter().filter(|r| r.method == "POST" && matches!(r.access, Access::User | Access::Admin)).collect();
    assert!(forms.len() >= 18, "{}", forms.len());
    for route in &forms {
        let path = route.concrete(&owner);
        for (what, token) in [
            ("no", None),
            ("an empty", Some("")),
            ("a stale", Some(stale.as_str())),
            ("a foreign", Some(foreign.as_str())),
        ] {
            let mut form = route.form(&owner);
            if let Some(token) = token {
                form.push(("csrf".into(), token.to_owned()));
            }
            let response = app.client.post(app.url(&path)).form(&form).send().await.expect("post");
            let status = response.status().as_u16();
            let body = response.text().await.expect("body");
            // A form type that needs the field answers 400 before it can check it; a wrong token 403.
            let refused = if token.is_none() { status == 400 || status == 403 } else { status == 403 };
            assert!(refused, "POST {path} with {what} token: {status}\n{body}");
        }
    }
    assert_unchanged(&before, &snapshot(&app), "forms without the session's token");
    let home = app.client.get(app.url("/")).send().await.expect("home").text().await.expect("body");
    assert!(home.contains("Sign out"), "sign-out without the token did not sign the owner out");

    // The same forms with the current token are accepted, so the refusals above were about the token.
    let response = app
        .client
        .post(app.url(&format!("/mailboxes/{}/sync", owner.mailbox_id)))
        .form(&[("csrf", current.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 303);
}

/// Signing in is the one form without a session token: the sign-in token is itself the secret, and a
/// cross-site post is refused by the Origin check before the handler runs.
#[tokio::test]
async fn signing_in_from_another_site_is_refused() {
    let app = crate::support::TestApp::spawn().await;
    let anonymous = super::anonymous_client();
    for (header, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let response = anonymous
            .post(app.url("/auth/local"))
            .header(header, value)
            .form(&[("token", "whatever")])
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), 403, "{header}: {value}");
    }
}
