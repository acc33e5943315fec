//! A second user tries every id of the first through every query and mutation: each answers exactly
//! as an id that does not exist would (NOT_FOUND), and nothing of the first user's changes.

use emailgator::db;
use emailgator::domain::JobState;
use serde_json::{Value, json};

use super::{Api, app_with_demo, category_named, email, seed};

/// An id no row has.
const MISSING: &str = "00000000-0000-7000-8000-000000000000";

#[tokio::test]
async fn another_user_gets_not_found_for_every_id_of_the_first_and_changes_nothing() {
    let (app, owner_id, mailbox_id) = app_with_demo().await;
    let shopping = category_named(&app, &owner_id, "Receipts & orders");
    let ids = seed(&app, &mailbox_id, &shopping.id, 3, "Private");
    let owner = Api::session(&app).await;
    let deleted =
        owner.data("mutation($ids: [ID!]) { deleteEmails(ids: $ids) { changed } }", json!({ "ids": [ids[2]] })).await;
    assert_eq!(deleted["deleteEmails"]["changed"], 1, "one deleted email the other user might try to undo");
    let token = owner.data("mutation { createApiToken(name: \"owner's\") { token apiToken { id } } }", json!({})).await;
    let owner_token = token["createApiToken"]["token"].as_str().expect("token").to_owned();
    let owner_token_id = token["createApiToken"]["apiToken"]["id"].as_str().expect("id").to_owned();

    let (mallory, _) = Api::other_user(&app, "mallory@example.com").await;
    let own = mallory
        .data("mutation { createCategory(name: \"Mine\", description: \"my own mail\") { id } }", json!({}))
        .await;
    let mine = own["createCategory"]["id"].as_str().expect("id").to_owned();
    let jobs_before = app.count_jobs(JobState::Available);

    // (operation, variables naming the owner's ids, the field that answers)
    let attempts: Vec<(&str, Value)> = vec![
        ("query($id: ID!) { category(id: $id) { name } }", json!({ "id": shopping.id })),
        ("query($id: ID!) { categoryEmails(categoryId: $id) { totalCount } }", json!({ "id": shopping.id })),
        (
            "query($id: ID!, $mine: ID!) { categoryEmails(categoryId: $mine, accountId: $id) { totalCount } }",
            json!({ "id": mailbox_id, "mine": mine }),
        ),
        ("query($id: ID!) { email(id: $id) { subject } }", json!({ "id": ids[0] })),
        ("query($id: ID!) { email(id: $id) { subject } }", json!({ "id": ids[2] })),
        ("query($id: ID!) { pollingStatus(accountId: $id) { activity } }", json!({ "id": mailbox_id })),
        (
            "query($id: ID!) { previewCategory(name: \"x\", description: \"y\", categoryId: $id) { examined } }",
            json!({ "id": shopping.id }),
        ),
        (
            "mutation($id: ID!) { updateCategory(id: $id, name: \"Mine now\", description: \"mine\") { id } }",
            json!({ "id": shopping.id }),
        ),
        ("mutation($id: ID!) { deleteCategory(id: $id) { id } }", json!({ "id": shopping.id })),
        ("mutation($id: ID!) { disconnectAccount(id: $id, keepEmails: false) { id } }", json!({ "id": mailbox_id })),
        ("mutation($id: ID!) { deleteEmails(ids: [$id]) { changed } }", json!({ "id": ids[0] })),
        (
            "mutation($id: ID!) { deleteEmails(allInCategory: { categoryId: $id }) { changed } }",
            json!({ "id": shopping.id }),
        ),
        (
            "mutation($id: ID!, $mine: ID!) { deleteEmails(allInCategory: { categoryId: $mine, accountId: $id }) { changed } }",
            json!({ "id": mailbox_id, "mine": mine }),
        ),
        ("mutation($id: ID!) { undoDelete(ids: [$id]) { changed } }", json!({ "id": ids[2] })),
        (
            "mutation($id: ID!, $mine: ID!) { moveEmails(ids: [$id], categoryId: $mine) { changed } }",
            json!({ "id": ids[0], "mine": mine }),
        ),
        (
            "mutation($id: ID!, $mine: ID!) { moveEmails(allInCategory: { categoryId: $id }, categoryId: $mine) { changed } }",
            json!({ "id": shopping.id, "mine": mine }),
        ),
        ("mutation($id: ID!) { markReviewed(ids: [$id]) { changed } }", json!({ "id": ids[1] })),
        (
            "mutation($id: ID!) { markReviewed(allInCategory: { categoryId: $id }) { changed } }",
            json!({ "id": shopping.id }),
        ),
        ("mutation($id: ID!) { triggerPoll(accountId: $id) { activity } }", json!({ "id": mailbox_id })),
        ("mutation($id: ID!) { revokeApiToken(id: $id) }", json!({ "id": owner_token_id })),
    ];
    for (operation, variables) in &attempts {
        let theirs = mallory.post(operation, variables.clone()).await;
        assert_eq!(theirs.code(), "NOT_FOUND", "{operation}: {:#}", theirs.body);
        // The same operation with ids that do not exist answers the same.
        let missing = variables_with_missing_ids(variables, &mine);
        let nobodys = mallory.post(operation, missing).await;
        assert_eq!(nobodys.body["errors"][0]["message"], theirs.body["errors"][0]["message"], "{operation}");
        assert_eq!(nobodys.code(), "NOT_FOUND", "{operation}");
    }
    // Moving into, or deleting towards, the owner's category: as if it did not exist.
    let into_theirs = mallory
        .post(
            "mutation($to: ID!, $mine: ID!) { deleteCategory(id: $mine, moveEmailsTo: $to) { id } }",
            json!({ "to": shopping.id, "mine": mine }),
        )
        .await;
    let into_nothing = mallory
        .post(
            "mutation($to: ID!, $mine: ID!) { deleteCategory(id: $mine, moveEmailsTo: $to) { id } }",
            json!({ "to": MISSING, "mine": mine }),
        )
        .await;
    assert_eq!(into_theirs.body["errors"], into_nothing.body["errors"]);

    let lists = mallory
        .data("{ categories { id } accounts { id } needsReview { totalCount } apiTokens { id } }", json!({}))
        .await;
    assert_eq!(lists["categories"], json!([{ "id": mine }]));
    assert_eq!((lists["accounts"].clone(), lists["apiTokens"].clone()), (json!([]), json!([])));
    assert_eq!(lists["needsReview"]["totalCount"], 0);

    // Nothing of the owner's changed.
    let category = db::categories::find(&mut app.conn(), &shopping.id).expect("find").expect("still there");
    assert_eq!(
        (category.name.as_str(), category.description.as_str()),
        ("Receipts & orders", shopping.description.as_str())
    );
    for id in &ids[..2] {
        let email = email(&app, id);
        assert!(email.trashed_at.is_none(), "not deleted");
        assert_eq!(
            (email.category_id.as_deref(), email.sort_source.as_deref()),
            (Some(shopping.id.as_str()), Some("local"))
        );
    }
    assert!(email(&app, &ids[2]).trashed_at.is_some(), "not undone");
    let mailbox = db::mailboxes::find(&mut app.conn(), &mailbox_id).expect("find").expect("still there");
    assert_eq!(mailbox.status, "active");
    assert_eq!(app.count_jobs(JobState::Available), jobs_before, "no sync queued");
    let still = Api::bearer(&app, &owner_token).data("{ me { id } }", json!({})).await;
    assert_eq!(still["me"]["id"], owner_id.as_str(), "the owner's token still works");
}

/// The same variables with every id of the owner replaced by one that does not exist.
fn variables_with_missing_ids(variables: &Value, mine: &str) -> Value {
    let Value::Object(fields) = variables else { return variables.clone() };
    let replaced =
        fields.keys().map(|name| (name.clone(), if name == "mine" { json!(mine) } else { json!(MISSING) })).collect();
    Value::Object(replaced)
}
