//! No N+1: a page of emails with each one's account and category (and the category's counts) costs
//! the same SQL statements whether it lists 5 emails or 50, counted through diesel's
//! instrumentation on this test's own database.

use secrecy::ExposeSecret;
use serde_json::json;

use super::{Api, app_with_demo, category_named, edge_ids, seed};
use crate::support::query_count;

const PAGE: &str = "query($c: ID!, $n: Int!) { categoryEmails(categoryId: $c, first: $n) { totalCount \
    edges { node { id subject account { id address status } category { id name emailCount newEmailCount } } } } }";

#[tokio::test]
async fn fifty_emails_with_their_accounts_and_categories_cost_as_many_queries_as_five() {
    query_count::install();
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Receipts & orders");
    seed(&app, &mailbox_id, &category.id, 60, "Bulk");
    let database = app.state.config.database.url.expose_secret().trim_start_matches("sqlite://").to_owned();
    let api = Api::session(&app).await;
    // The first request may write the session's last-seen time, and fold the change rows the import
    // left in the category counts; the measured ones follow within a minute, with nothing to fold.
    api.data(PAGE, json!({ "c": category.id, "n": 1 })).await;
    api.data(PAGE, json!({ "c": category.id, "n": 1 })).await;

    // The counter sees every connection to this database, so a pool opening a fresh connection (its
    // set-up pragmas) can land inside one request; the fewest of three requests is the request's own cost.
    let mut statements = Vec::new();
    for first in [5, 50] {
        let mut fewest = u64::MAX;
        for _ in 0..3 {
            let before = query_count::statements_on(&database);
            let data = api.data(PAGE, json!({ "c": category.id, "n": first })).await;
            fewest = fewest.min(query_count::statements_on(&database) - before);
            let page = &data["categoryEmails"];
            assert_eq!(edge_ids(page).len(), first);
            for edge in page["edges"].as_array().expect("edges") {
                assert_eq!(edge["node"]["account"]["id"], mailbox_id.as_str());
                assert_eq!(edge["node"]["category"]["name"], "Receipts & orders");
            }
        }
        statements.push(fewest);
    }
    println!("SQL statements for 5 and 50 emails: {statements:?}");
    assert!(statements[0] > 0, "the counter sees this database");
    assert_eq!(statements[0], statements[1], "no statement per email");
    assert!(statements[1] <= 20, "a handful of statements per request: {statements:?}");
}
