//! The limits that keep one request cheap: document depth, page size, emails per request, body size;
//! introspection per the settings; and clear codes for documents that cannot run.

use serde_json::json;

use super::{Api, app_with_demo, category_named, reply};
use crate::support::TestApp;

const INTROSPECTION: &str = include_str!("../../fixtures/graphql/introspection.graphql");

#[tokio::test]
async fn a_too_deep_document_is_refused_with_query_too_complex() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let api = Api::session(&app).await;
    let deep = format!("{{ __type(name: \"Email\") {{ {}name{} }} }}", "ofType { ".repeat(25), " }".repeat(25));
    let refused = api.post(&deep, json!({})).await;
    assert_eq!((refused.status, refused.code().as_str()), (400, "QUERY_TOO_COMPLEX"), "{:#}", refused.body);
    assert!(refused.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("nesting")));
    let nested_list = format!("{{ undoDelete(ids: {}\"x\"{}) {{ changed }} }}", "[".repeat(30), "]".repeat(30));
    assert_eq!(api.post(&nested_list, json!({})).await.code(), "QUERY_TOO_COMPLEX");

    let fields = (0..600).map(|i| format!("a{i}: __typename")).collect::<Vec<_>>().join(" ");
    let wide = api.post(&format!("{{ {fields} }}"), json!({})).await;
    assert_eq!(wide.code(), "QUERY_TOO_COMPLEX", "too many fields");
    assert_eq!(api.post(INTROSPECTION, json!({})).await.status, 200, "GraphiQL's introspection query fits");
}

#[tokio::test]
async fn a_page_beyond_200_and_a_request_beyond_1000_emails_are_refused() {
    let (app, user_id, _) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Receipts & orders");
    let api = Api::session(&app).await;
    let page = "query($c: ID!, $n: Int!) { categoryEmails(categoryId: $c, first: $n) { totalCount } }";
    for first in [201, 0, -1] {
        let refused = api.post(page, json!({ "c": category.id, "n": first })).await;
        assert_eq!(refused.code(), "INVALID_INPUT", "first: {first}");
        assert_eq!(refused.body["errors"][0]["extensions"]["fields"][0]["field"], "first");
    }
    assert_eq!(api.post("{ needsReview(first: 500) { totalCount } }", json!({})).await.code(), "INVALID_INPUT");
    assert!(api.data(page, json!({ "c": category.id, "n": 200 })).await["categoryEmails"]["totalCount"].is_number());

    let aliases = (0..6).map(|i| format!("p{i}: categoryEmails(categoryId: $c, first: 200) {{ totalCount }}"));
    let many = api
        .post(&format!("query($c: ID!) {{ {} }}", aliases.collect::<Vec<_>>().join(" ")), json!({ "c": category.id }))
        .await;
    assert_eq!(many.codes(), ["INVALID_INPUT"], "the sixth page is over the budget: {:#}", many.body);
}

#[tokio::test]
async fn an_oversized_or_malformed_body_is_refused_with_a_code() {
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let api = Api::session(&app).await;
    let super::Auth::Session { csrf, .. } = &api.auth else { panic!("a session") };
    let post = |body: String| {
        app.client
            .post(app.url("/api/graphql"))
            .header("x-csrf-token", csrf)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let huge = json!({ "query": "{ me { id } }", "variables": { "pad": "x".repeat(300 * 1024) } }).to_string();
    let refused = reply(post(huge).await.expect("post")).await;
    assert_eq!((refused.status, refused.code().as_str()), (413, "PAYLOAD_TOO_LARGE"));
    let garbage = reply(post("not json".into()).await.expect("post")).await;
    assert_eq!((garbage.status, garbage.code().as_str()), (400, "BAD_REQUEST"));

    let syntax = api.post("{ me { id }", json!({})).await;
    assert_eq!((syntax.status, syntax.code().as_str()), (400, "GRAPHQL_PARSE_FAILED"));
    let unknown = api.post("{ me { password } }", json!({})).await;
    assert_eq!((unknown.status, unknown.code().as_str()), (400, "GRAPHQL_VALIDATION_FAILED"));
    let two = api.post("query A { me { id } } query B { me { id } }", json!({})).await;
    assert_eq!(two.code(), "BAD_REQUEST");
}

#[tokio::test]
async fn introspection_is_refused_when_the_settings_turn_it_off() {
    let app = TestApp::spawn_with(&[("EMAILGATOR__GRAPHQL__INTROSPECTION", "false")]).await;
    app.sign_in_as_owner().await;
    let api = Api::session(&app).await;
    let refused = api.post("{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!((refused.status, refused.code().as_str()), (400, "GRAPHQL_VALIDATION_FAILED"));
    assert!(refused.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("introspection")));
    assert_eq!(api.post(INTROSPECTION, json!({})).await.status, 400);
    assert!(api.data("{ me { id } }", json!({})).await["me"]["id"].is_string());
}
