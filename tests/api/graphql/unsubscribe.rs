//! `unsubscribeEmails`, `subscriptions` and `unsubscribeAttempts`: one attempt per subscription,
//! unverified mail skipped unless insisted on, and another user's emails are not found.

use diesel::prelude::*;
use emailgator::db;
use serde_json::json;

use super::{Api, app_with_demo, category_named, seed};

#[tokio::test]
async fn unsubscribing_through_the_api_starts_one_attempt_per_list_and_reports_what_it_skipped() {
    let (app, owner_id, mailbox_id) = app_with_demo().await;
    let newsletters = category_named(&app, &owner_id, "Newsletters");
    let ids = seed(&app, &mailbox_id, &newsletters.id, 3, "Digest");
    for (n, id) in ids.iter().enumerate() {
        let verified = n < 2;
        diesel::update(db::schema::emails::table.find(id))
            .set((
                db::schema::emails::list_id.eq(verified.then_some("digest.api.example")),
                db::schema::emails::from_address.eq(if verified { "news@api.example" } else { "x@unverified.example" }),
                db::schema::emails::list_unsubscribe_urls.eq(r#"["https://api.example/u"]"#),
                db::schema::emails::is_one_click.eq(true),
                db::schema::emails::auth_result.eq(verified.then_some("mx; dkim=pass header.d=api.example")),
            ))
            .execute(&mut *app.conn())
            .expect("newsletter");
    }
    let owner = Api::session(&app).await;
    let mutation = "mutation($ids: [ID!]) { unsubscribeEmails(ids: $ids) { started { attemptId displayName emailCount } skipped { emailId reason isOverridable } } }";
    let data = owner.data(mutation, json!({ "ids": ids })).await;
    let started = data["unsubscribeEmails"]["started"].as_array().expect("started");
    assert_eq!(started.len(), 1, "one attempt for the list: {data}");
    assert_eq!(started[0]["emailCount"], 2);
    let skipped = data["unsubscribeEmails"]["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["emailId"], ids[2].as_str());
    assert_eq!(skipped[0]["isOverridable"], true);

    let subscriptions = owner.data("{ subscriptions { key status recentEmails } }", json!({})).await;
    let list = subscriptions["subscriptions"].as_array().expect("list");
    let digest = list.iter().find(|s| s["key"] == "list:digest.api.example").expect("the list is there");
    assert_eq!(digest["status"], "pending");
    assert!(list.iter().any(|s| s["key"] == "from:x@unverified.example"), "every bulk sender: {subscriptions}");

    let attempts = owner
        .data("query($id: ID!) { unsubscribeAttempts(emailId: $id) { status method } }", json!({ "id": ids[0] }))
        .await;
    let attempts_of_second =
        owner.data("query($id: ID!) { unsubscribeAttempts(emailId: $id) { status } }", json!({ "id": ids[1] })).await;
    let count = attempts["unsubscribeAttempts"].as_array().map_or(0, Vec::len)
        + attempts_of_second["unsubscribeAttempts"].as_array().map_or(0, Vec::len);
    assert_eq!(count, 1, "the attempt is recorded on one of the list's emails");

    let (mallory, _) = Api::other_user(&app, "mallory@example.com").await;
    let reply = mallory.post(mutation, json!({ "ids": [ids[0]] })).await;
    assert_eq!(reply.code(), "NOT_FOUND");
    let reply =
        mallory.post("query($id: ID!) { unsubscribeAttempts(emailId: $id) { status } }", json!({ "id": ids[0] })).await;
    assert_eq!(reply.code(), "NOT_FOUND");
    let theirs = mallory.data("{ subscriptions { key } }", json!({})).await;
    assert_eq!(theirs["subscriptions"], json!([]), "subscriptions are per user");
}
