//! Cross-site request forgery: state-changing requests from other origins are refused before any
//! handler runs, and forms need the session's token.

use crate::support::TestApp;

#[tokio::test]
async fn a_post_from_another_origin_is_refused() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let token = app.csrf_token().await;
    let response = app
        .client
        .post(app.url("/auth/sign-out"))
        .header("origin", "https://evil.example")
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 403);
    assert!(response.text().await.expect("body").contains("did not come from an EmailGator page"));
    let home = app.client.get(app.url("/")).send().await.expect("home").text().await.expect("body");
    assert!(home.contains("Sign out"), "nothing changed");
}

#[tokio::test]
async fn a_cross_site_post_without_origin_is_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/auth/local"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("token", "x")])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_post_from_our_own_origin_is_accepted() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let token = app.csrf_token().await;
    let response = app
        .client
        .post(app.url("/auth/sign-out"))
        .header("origin", app.address.clone())
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 303);
}
