//! Who may ask: nobody anonymously; a signed-in browser with the session's CSRF token in
//! `X-CSRF-Token` on every POST; an API client with a personal token, until it is revoked. GET runs
//! queries only; GraphiQL exists only when enabled.

use emailgator::db;
use emailgator::services::auth::hash_token;
use serde_json::json;

use super::{Api, Auth, reply};
use crate::support::TestApp;

const CREATE: &str = "mutation { createCategory(name: \"Forged\", description: \"should not exist\") { id } }";

fn forged_exists(app: &TestApp) -> bool {
    let owner = db::users::find_by_email(&mut app.conn(), &app.state.config.local.owner_email).expect("query");
    owner.is_some_and(|owner| {
        db::categories::list_for_user(&mut app.conn(), &owner.id)
            .expect("categories")
            .iter()
            .any(|c| c.name == "Forged")
    })
}

#[tokio::test]
async fn anonymous_requests_get_only_unauthenticated() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let anonymous = Api::anonymous(&app);
    for reply in [
        anonymous.post("{ me { id } }", json!({})).await,
        anonymous.get("{ categories { id } }", json!({})).await,
        anonymous.post(CREATE, json!({})).await,
        anonymous.post("{ __schema { queryType { name } } }", json!({})).await,
        Api::bearer(&app, "egt_not-a-real-token").post("{ me { id } }", json!({})).await,
    ] {
        assert_eq!((reply.status, reply.code().as_str()), (401, "UNAUTHENTICATED"), "{:#}", reply.body);
        assert!(reply.body.get("data").is_none());
    }
    let malformed = app
        .client
        .post(app.url("/api/graphql"))
        .header("authorization", "Basic b3duZXI6cHc=")
        .json(&json!({ "query": "{ me { id } }" }));
    let reply = reply(malformed.send().await.expect("post")).await;
    assert_eq!(reply.code(), "UNAUTHENTICATED", "another scheme is not a session, even with the cookie");
    assert!(!forged_exists(&app));
}

#[tokio::test]
async fn a_signed_in_browser_must_send_the_sessions_csrf_token_with_every_post() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let api = Api::session(&app).await;
    let Auth::Session { csrf, .. } = &api.auth else { panic!("a session") };
    let send = |token: Option<&str>, query: &str| {
        let request = app.client.post(app.url("/api/graphql")).json(&json!({ "query": query }));
        let request = match token {
            Some(token) => request.header("x-csrf-token", token),
            None => request,
        };
        async move { reply(request.send().await.expect("post")).await }
    };
    for token in [None, Some(""), Some("wrong-token")] {
        let refused = send(token, CREATE).await;
        assert_eq!((refused.status, refused.code().as_str()), (403, "FORBIDDEN"), "{token:?}");
        let query = send(token, "{ me { id } }").await;
        assert_eq!(query.status, 403, "every POST needs it, queries too");
    }
    assert!(!forged_exists(&app), "nothing changed");
    assert_eq!(api.get("{ me { email } }", json!({})).await.data()["me"]["email"], "owner@localhost", "GET needs none");
    assert!(send(Some(csrf), "{ me { id } }").await.body["data"]["me"]["id"].is_string());

    let cross_site = app
        .client
        .post(app.url("/api/graphql"))
        .header("x-csrf-token", csrf)
        .header("origin", "https://evil.example")
        .json(&json!({ "query": CREATE }))
        .send()
        .await
        .expect("post");
    assert_eq!(cross_site.status(), 403, "the Origin check still guards cookie requests");
    assert!(!forged_exists(&app));
}

#[tokio::test]
async fn mutations_are_refused_on_get() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let api = Api::session(&app).await;
    let refused = api.get(CREATE, json!({})).await;
    assert_eq!((refused.status, refused.code().as_str()), (405, "METHOD_NOT_ALLOWED"));
    assert!(!forged_exists(&app));
    let token = api.data("mutation { createApiToken(name: \"cli\") { token } }", json!({})).await;
    let bearer = Api::bearer(&app, token["createApiToken"]["token"].as_str().expect("token"));
    assert_eq!(bearer.get(CREATE, json!({})).await.status, 405);
    assert!(!forged_exists(&app));
    assert_eq!(bearer.get("{ me { email } }", json!({})).await.data()["me"]["email"], "owner@localhost");
}

#[tokio::test]
async fn a_personal_token_works_without_cookie_or_csrf_and_stops_working_when_revoked() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let api = Api::session(&app).await;
    let created = api
        .data(
            "mutation { createApiToken(name: \" laptop script \") { token apiToken { id name lastUsedAt } } }",
            json!({}),
        )
        .await;
    let token = created["createApiToken"]["token"].as_str().expect("token").to_owned();
    let id = created["createApiToken"]["apiToken"]["id"].as_str().expect("id").to_owned();
    assert!(token.starts_with("egt_") && token.len() == 47, "{token}");
    assert_eq!(created["createApiToken"]["apiToken"]["name"], "laptop script");
    let stored = db::api_tokens::find_by_hash(&mut app.conn(), &hash_token(&token)).expect("query").expect("stored");
    assert_ne!(stored.token_hash, token, "only the hash is stored");
    assert_eq!(api.post("mutation { createApiToken(name: \"\") { token } }", json!({})).await.code(), "INVALID_INPUT");

    // A client with no cookie, from another origin, with no CSRF token.
    let client = crate::support::http_client().build().expect("client");
    let response = client
        .post(app.url("/api/graphql"))
        .header("authorization", format!("Bearer {token}"))
        .header("origin", "https://tools.example")
        .json(&json!({ "query": "mutation { createCategory(name: \"Via token\", description: \"made by a script\") { name } }" }))
        .send()
        .await
        .expect("post");
    let made = reply(response).await;
    assert_eq!(made.data()["createCategory"]["name"], "Via token");

    let listed = api.data("{ apiTokens { id name lastUsedAt } }", json!({})).await;
    assert_eq!(listed["apiTokens"][0]["id"], id.as_str());
    assert!(listed["apiTokens"][0]["lastUsedAt"].is_string(), "a use is recorded");
    let bearer = Api::bearer(&app, &token);
    assert_eq!(bearer.data("{ me { email } }", json!({})).await["me"]["email"], "owner@localhost");

    let revoked = bearer.data("mutation($id: ID!) { revokeApiToken(id: $id) }", json!({ "id": id })).await;
    assert_eq!(revoked["revokeApiToken"], id.as_str());
    let after = bearer.post("{ me { email } }", json!({})).await;
    assert_eq!((after.status, after.code().as_str()), (401, "UNAUTHENTICATED"));
    assert!(api.data("{ apiTokens { id } }", json!({})).await["apiTokens"].as_array().expect("list").is_empty());

    // A bad token is refused even when the browser's cookie is sent along: the cookie is not read.
    let with_cookie = app
        .client
        .post(app.url("/api/graphql"))
        .header("authorization", format!("Bearer {token}"))
        .json(&json!({ "query": "{ me { id } }" }));
    assert_eq!(reply(with_cookie.send().await.expect("post")).await.code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn graphiql_is_not_found_unless_enabled_in_the_settings() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    assert_eq!(app.client.get(app.url("/api/graphiql")).send().await.expect("get").status(), 404);

    let app = TestApp::spawn_with(&[("EMAILGATOR__GRAPHQL__GRAPHIQL", "true")]).await;
    let anonymous = crate::support::http_client().build().expect("client");
    assert_eq!(anonymous.get(app.url("/api/graphiql")).send().await.expect("get").status(), 401);
    app.sign_in_as_owner().await;
    let csrf = app.csrf_token().await;
    let response = app.client.get(app.url("/api/graphiql")).send().await.expect("get");
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(policy.contains("script-src 'unsafe-inline' https://esm.sh") && policy.contains("frame-ancestors 'none'"));
    let page = response.text().await.expect("body");
    assert!(page.contains(&format!("headers: {{ 'X-CSRF-Token': \"{csrf}\" }}")), "its queries carry the token");
}
