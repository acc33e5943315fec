//! Every mutation against the demo mailbox, with what it changed checked in the database.

use emailgator::db;
use emailgator::domain::JobState;
use serde_json::json;

use super::{Api, app_with_demo, category_named, email, seed};

const CREATE: &str = "mutation($n: String!, $d: String!) { createCategory(name: $n, description: $d) { id name description emailCount } }";
const UPDATE: &str = "mutation($id: ID!, $n: String!, $d: String!) { updateCategory(id: $id, name: $n, description: $d) { id name description } }";
const DELETE: &str = "mutation($id: ID!, $to: ID) { deleteCategory(id: $id, moveEmailsTo: $to) { id movedEmails } }";

#[tokio::test]
async fn categories_are_created_updated_and_deleted_without_orphaning_an_email() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let api = Api::session(&app).await;
    let created = api.data(CREATE, json!({ "n": " Hobbies ", "d": "Flights, hotels, trains" })).await;
    let hobbies = &created["createCategory"];
    assert_eq!((hobbies["name"].as_str(), hobbies["emailCount"].as_i64()), (Some("Hobbies"), Some(0)));
    let id = hobbies["id"].as_str().expect("id").to_owned();
    assert_eq!(category_named(&app, &user_id, "Hobbies").id, id);

    let duplicate = api.post(CREATE, json!({ "n": "HOBBIES", "d": "again" })).await;
    assert_eq!(duplicate.code(), "INVALID_INPUT");
    assert_eq!(duplicate.body["errors"][0]["extensions"]["fields"][0]["field"], "name");
    assert!(duplicate.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("already have a category")));
    let empty = api.post(CREATE, json!({ "n": "", "d": "" })).await;
    let fields = &empty.body["errors"][0]["extensions"]["fields"];
    assert_eq!((fields[0]["field"].as_str(), fields[1]["field"].as_str()), (Some("name"), Some("description")));

    let updated = api.data(UPDATE, json!({ "id": id, "n": "Pastimes", "d": "Flights and hotels" })).await;
    assert_eq!(updated["updateCategory"]["name"], "Pastimes");
    assert_eq!(category_named(&app, &user_id, "Pastimes").description, "Flights and hotels");

    let seeded = seed(&app, &mailbox_id, &id, 4, "Boarding pass");
    let shopping = category_named(&app, &user_id, "Receipts & orders");
    let itself = api.post(DELETE, json!({ "id": id, "to": id })).await;
    assert_eq!(itself.code(), "INVALID_INPUT");
    assert_eq!(itself.body["errors"][0]["extensions"]["fields"][0]["field"], "moveEmailsTo");
    let deleted = api.data(DELETE, json!({ "id": id, "to": shopping.id })).await;
    assert_eq!(deleted["deleteCategory"], json!({ "id": id, "movedEmails": 4 }));
    for seeded in &seeded {
        assert_eq!(email(&app, seeded).category_id.as_deref(), Some(shopping.id.as_str()), "moved, not orphaned");
    }
    assert!(db::categories::find(&mut app.conn(), &id).expect("find").is_none());

    let coupons = seed(&app, &mailbox_id, &shopping.id, 2, "Coupon");
    let to_review = api.data(DELETE, json!({ "id": shopping.id, "to": null })).await;
    assert!(to_review["deleteCategory"]["movedEmails"].as_i64().is_some_and(|n| n >= 6));
    for id in coupons.iter().chain(&seeded) {
        let email = email(&app, id);
        assert_eq!((email.state.as_str(), email.category_id), ("needs_review", None));
    }
}

const DELETE_EMAILS: &str = "mutation($ids: [ID!], $all: AllInCategory) { \
    deleteEmails(ids: $ids, allInCategory: $all) { changed emailIds } }";
const UNDO: &str = "mutation($ids: [ID!]!) { undoDelete(ids: $ids) { changed emailIds } }";

#[tokio::test]
async fn select_all_deletes_every_matching_email_not_only_a_page_and_undo_brings_them_back() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Receipts & orders");
    let seeded = seed(&app, &mailbox_id, &category.id, 120, "Zebracode");
    let others =
        db::emails::count_in_category(&mut app.conn(), &category.id, &Default::default()).expect("count") - 120;
    assert!(others > 0);
    let api = Api::session(&app).await;
    let all = json!({ "categoryId": category.id, "accountId": mailbox_id, "search": "zebracode" });
    let deleted = api.data(DELETE_EMAILS, json!({ "all": all })).await;
    assert_eq!(deleted["deleteEmails"]["changed"], 120);
    let ids: Vec<String> = serde_json::from_value(deleted["deleteEmails"]["emailIds"].clone()).expect("ids");
    let (mut sorted_ids, mut sorted_seeded) = (ids.clone(), seeded.clone());
    sorted_ids.sort();
    sorted_seeded.sort();
    assert_eq!(sorted_ids, sorted_seeded, "exactly the matching emails");
    for id in &seeded {
        assert!(email(&app, id).trashed_at.is_some());
    }
    let left = db::emails::count_in_category(&mut app.conn(), &category.id, &Default::default()).expect("count");
    assert_eq!(left, others, "emails that did not match stay");
    let one = api.data("query($id: ID!) { email(id: $id) { deleted } }", json!({ "id": seeded[0] })).await;
    assert_eq!(one["email"]["deleted"], true, "a deleted email can still be read, for its undo");

    let undone = api.data(UNDO, json!({ "ids": ids })).await;
    assert_eq!(undone["undoDelete"]["changed"], 120);
    for id in &seeded {
        assert!(email(&app, id).trashed_at.is_none(), "undone");
    }
    let again = api.data(UNDO, json!({ "ids": [seeded[0]] })).await;
    assert_eq!(again["undoDelete"]["changed"], 0, "nothing to undo twice");

    let single = api.data(DELETE_EMAILS, json!({ "ids": [seeded[5]] })).await;
    assert_eq!(single["deleteEmails"], json!({ "changed": 1, "emailIds": [seeded[5]] }));
    let both = api.post(DELETE_EMAILS, json!({ "ids": [seeded[6]], "all": all })).await;
    assert_eq!(both.code(), "INVALID_INPUT");
    assert_eq!(api.post(DELETE_EMAILS, json!({})).await.code(), "INVALID_INPUT");
    assert_eq!(api.post(DELETE_EMAILS, json!({ "ids": [] })).await.code(), "INVALID_INPUT");
    assert!(email(&app, &seeded[6]).trashed_at.is_none());
}

#[tokio::test]
async fn moving_and_marking_reviewed_are_the_persons_decisions() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let shopping = category_named(&app, &user_id, "Receipts & orders");
    let seeded = seed(&app, &mailbox_id, &shopping.id, 3, "Parcel");
    let target = db::categories::list_for_user(&mut app.conn(), &user_id)
        .expect("categories")
        .into_iter()
        .find(|c| c.id != shopping.id)
        .expect("another category");
    let api = Api::session(&app).await;
    let moved = api
        .data(
            "mutation($ids: [ID!], $to: ID!) { moveEmails(ids: $ids, categoryId: $to) { changed } }",
            json!({ "ids": [seeded[0], seeded[1]], "to": target.id }),
        )
        .await;
    assert_eq!(moved["moveEmails"]["changed"], 2);
    for id in &seeded[..2] {
        let email = email(&app, id);
        assert_eq!(
            (email.category_id.as_deref(), email.sort_source.as_deref()),
            (Some(target.id.as_str()), Some("you"))
        );
    }
    let reviewed =
        api.data("mutation($ids: [ID!]) { markReviewed(ids: $ids) { changed } }", json!({ "ids": [seeded[2]] })).await;
    assert_eq!(reviewed["markReviewed"]["changed"], 1);
    let confirmed = email(&app, &seeded[2]);
    assert_eq!(
        (confirmed.category_id.as_deref(), confirmed.sort_source.as_deref()),
        (Some(shopping.id.as_str()), Some("you"))
    );
    let read =
        api.data("query($id: ID!) { email(id: $id) { sortSource category { id } } }", json!({ "id": seeded[0] })).await;
    assert_eq!(read["email"], json!({ "sortSource": "YOU", "category": { "id": target.id } }));

    let back = api
        .data(
            "mutation($all: AllInCategory, $to: ID!) { moveEmails(allInCategory: $all, categoryId: $to) { changed } }",
            json!({ "all": { "categoryId": target.id, "search": "parcel" }, "to": shopping.id }),
        )
        .await;
    assert_eq!(back["moveEmails"]["changed"], 2, "every Parcel email of the category, by the search");
    for id in &seeded {
        assert_eq!(email(&app, id).category_id.as_deref(), Some(shopping.id.as_str()));
    }
    app.run_pending_jobs().await;
}

#[tokio::test]
async fn trigger_poll_queues_one_sync_and_disconnect_keeps_or_removes_the_emails() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let api = Api::session(&app).await;
    let poll = "mutation($id: ID!) { triggerPoll(accountId: $id) { account { id } activity isBusy } }";
    let before = app.count_jobs(JobState::Available);
    let first = api.data(poll, json!({ "id": mailbox_id })).await;
    assert_eq!(first["triggerPoll"]["activity"], "SYNCING");
    assert_eq!(first["triggerPoll"]["isBusy"], true);
    api.data(poll, json!({ "id": mailbox_id })).await;
    assert_eq!(app.count_jobs(JobState::Available), before + 1, "one sync waits, however often it is asked");
    app.run_pending_jobs().await;

    let emails = db::emails::list_for_mailbox(&mut app.conn(), &mailbox_id).expect("emails").len();
    let disconnect =
        "mutation($id: ID!, $keep: Boolean!) { disconnectAccount(id: $id, keepEmails: $keep) { id emailsRemoved } }";
    let kept = api.data(disconnect, json!({ "id": mailbox_id, "keep": true })).await;
    assert_eq!(kept["disconnectAccount"], json!({ "id": mailbox_id, "emailsRemoved": false }));
    let accounts = api.data("{ accounts { id status } }", json!({})).await;
    assert_eq!(accounts["accounts"], json!([{ "id": mailbox_id, "status": "DISCONNECTED" }]));
    assert_eq!(db::emails::list_for_mailbox(&mut app.conn(), &mailbox_id).expect("emails").len(), emails);
    let refused = api.post(poll, json!({ "id": mailbox_id })).await;
    assert_eq!(refused.code(), "CONFLICT");
    assert!(refused.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("reconnect")));

    let removed = api.data(disconnect, json!({ "id": mailbox_id, "keep": false })).await;
    assert_eq!(removed["disconnectAccount"]["emailsRemoved"], true);
    assert!(db::mailboxes::list_for_user(&mut app.conn(), &user_id).expect("mailboxes").is_empty());
    assert!(db::emails::list_for_mailbox(&mut app.conn(), &mailbox_id).expect("emails").is_empty());
}
