//! Every query against the demo mailbox, with the content asserted.

use diesel::prelude::*;
use emailgator::db::{self, ai_usage::AiUsage, emails::Bodies, schema::emails};
use serde_json::json;

use super::{Api, app_with_demo, category_named, edge_ids, seed};
use crate::support::TestApp;

#[tokio::test]
async fn me_categories_and_accounts_answer_the_callers_own_data() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let api = Api::session(&app).await;
    let data = api
        .data(
            "{ me { id email name isAdmin } categories { id name description emailCount newEmailCount } \
               accounts { id address provider status lastSyncedAt } connectGmailUrl }",
            json!({}),
        )
        .await;
    assert_eq!(data["me"]["id"], user_id.as_str());
    assert_eq!(data["me"]["email"], app.state.config.local.owner_email.as_str());
    assert_eq!(data["me"]["isAdmin"], true);

    let stored = db::categories::list_for_user(&mut app.conn(), &user_id).expect("categories");
    let names: Vec<&str> =
        data["categories"].as_array().expect("list").iter().map(|c| c["name"].as_str().unwrap_or("")).collect();
    assert_eq!(names, stored.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), "dashboard order");
    for (category, answered) in stored.iter().zip(data["categories"].as_array().expect("list")) {
        let count = db::emails::count_in_category(&mut app.conn(), &category.id, &Default::default()).expect("count");
        assert_eq!(answered["emailCount"], count, "{}", category.name);
        let dated_today = db::emails::list_in_category(
            &mut app.conn(),
            &category.id,
            &Default::default(),
            None,
            10_000,
            Bodies::Loaded,
        )
        .expect("list")
        .iter()
        .filter(|e| e.listed_at >= app.now() - chrono::Duration::hours(24))
        .count();
        assert_eq!(answered["newEmailCount"], dated_today, "new means dated in the last 24 hours");
        assert_eq!(answered["description"], category.description.as_str());
    }

    let accounts = data["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["id"], mailbox_id.as_str());
    assert_eq!((accounts[0]["provider"].as_str(), accounts[0]["status"].as_str()), (Some("maildir"), Some("ACTIVE")));
    assert!(accounts[0]["lastSyncedAt"].as_str().is_some_and(|at| at.ends_with('Z')), "RFC 3339 in UTC");
    assert!(data["connectGmailUrl"].is_null(), "local mode has no Google client");

    let shopping = category_named(&app, &user_id, "Receipts & orders");
    let one = api.data("query($id: ID!) { category(id: $id) { name } }", json!({ "id": shopping.id })).await;
    assert_eq!(one["category"]["name"], "Receipts & orders");
}

#[tokio::test]
async fn category_emails_walk_every_email_once_newest_first_and_filters_narrow_them() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Receipts & orders");
    let seeded = seed(&app, &mailbox_id, &category.id, 120, "Quokka");
    let all: Vec<String> =
        db::emails::list_in_category(&mut app.conn(), &category.id, &Default::default(), None, 10_000, Bodies::Loaded)
            .expect("all")
            .into_iter()
            .map(|e| e.id)
            .collect();
    let api = Api::session(&app).await;
    let query = "query($c: ID!, $first: Int!, $after: String, $account: ID, $search: String) { \
        categoryEmails(categoryId: $c, first: $first, after: $after, accountId: $account, search: $search) { \
          totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id date } } } }";

    let mut walked = Vec::new();
    let mut after = serde_json::Value::Null;
    loop {
        let data = api.data(query, json!({ "c": category.id, "first": 37, "after": after })).await;
        let page = &data["categoryEmails"];
        assert_eq!(page["totalCount"], all.len());
        walked.extend(edge_ids(page));
        assert!(walked.len() <= all.len(), "paging loops");
        let edges = page["edges"].as_array().expect("edges");
        assert_eq!(
            page["pageInfo"]["endCursor"],
            edges.last().map_or(serde_json::Value::Null, |e| e["cursor"].clone())
        );
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(walked, all, "every email once, newest first");

    // Continuing after any edge's cursor starts right after that edge.
    let first = api.data(query, json!({ "c": category.id, "first": 5 })).await;
    let cursor = first["categoryEmails"]["edges"][2]["cursor"].clone();
    let next = api.data(query, json!({ "c": category.id, "first": 2, "after": cursor })).await;
    assert_eq!(edge_ids(&next["categoryEmails"]), all[3..5].to_vec());

    let found = api.data(query, json!({ "c": category.id, "first": 200, "search": "QUOKKA 11" })).await;
    let ids = edge_ids(&found["categoryEmails"]);
    assert!(ids.contains(&seeded[120 - 1 - 11]) && ids.len() < 20, "case-insensitive search: {}", ids.len());
    assert_eq!(found["categoryEmails"]["totalCount"], ids.len());
    let mine = api.data(query, json!({ "c": category.id, "first": 1, "account": mailbox_id })).await;
    assert_eq!(mine["categoryEmails"]["totalCount"], all.len());
    let broken = api.post(query, json!({ "c": category.id, "first": 5, "after": "garbage" })).await;
    assert_eq!(broken.code(), "INVALID_INPUT");
    assert_eq!(broken.body["errors"][0]["extensions"]["fields"][0]["field"], "after");
}

/// `categoryEmails` reads the bodies only when the query asks for them; asked for, directly or
/// through a fragment, they are there.
#[tokio::test]
async fn category_emails_answer_bodies_when_asked_for_directly_or_through_a_fragment() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Receipts & orders");
    seed(&app, &mailbox_id, &category.id, 3, "Invoice");
    let api = Api::session(&app).await;
    let direct = "query($c: ID!) { categoryEmails(categoryId: $c, first: 1, search: \"Invoice 2\") { edges { node { subject textBody sanitizedHtml } } } }";
    let fragment = "fragment Body on Email { textBody sanitizedHtml } \
        query($c: ID!) { categoryEmails(categoryId: $c, first: 1, search: \"Invoice 2\") { edges { node { subject ...Body } } } }";
    for query in [direct, fragment] {
        let data = api.data(query, json!({ "c": category.id })).await;
        let node = &data["categoryEmails"]["edges"][0]["node"];
        let subject = node["subject"].as_str().expect("subject");
        assert_eq!(node["textBody"].as_str(), Some(format!("Body of {subject}.").as_str()), "{query}");
        assert_eq!(node["sanitizedHtml"].as_str(), Some(format!("<p>Body of {subject}.</p>").as_str()), "{query}");
    }
    let without = "query($c: ID!) { categoryEmails(categoryId: $c, first: 1) { edges { node { subject summary } } } }";
    let data = api.data(without, json!({ "c": category.id })).await;
    assert!(data["categoryEmails"]["edges"][0]["node"]["summary"].is_string());
}

#[tokio::test]
async fn an_email_answers_its_content_account_category_and_where_its_category_came_from() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Receipts & orders");
    let id = seed(&app, &mailbox_id, &category.id, 1, "Invoice").remove(0);
    let api = Api::session(&app).await;
    let data = api
        .data(
            "query($id: ID!) { email(id: $id) { id from fromAddress subject summary date \
               account { id address } category { id name } sortSource confidence isAfterUnsubscribe archived \
               deleted listId unsubscribeUrls textBody sanitizedHtml } }",
            json!({ "id": id }),
        )
        .await;
    let email = &data["email"];
    assert_eq!(email["id"], id.as_str());
    assert_eq!(
        (email["from"].as_str(), email["fromAddress"].as_str()),
        (Some("Sender 0"), Some("sender0@shop.example"))
    );
    assert_eq!(
        (email["subject"].as_str(), email["summary"].as_str()),
        (Some("Invoice 0"), Some("Summary of Invoice 0."))
    );
    assert_eq!(email["account"]["id"], mailbox_id.as_str());
    assert_eq!(email["category"]["name"], "Receipts & orders");
    assert_eq!((email["sortSource"].as_str(), email["confidence"].as_f64()), (Some("LOCAL_SORTER"), Some(0.8)));
    assert_eq!((email["archived"].as_bool(), email["deleted"].as_bool()), (Some(true), Some(false)));
    assert_eq!(email["isAfterUnsubscribe"], false);
    assert_eq!(email["listId"], "deals.shop.example");
    assert_eq!(email["unsubscribeUrls"], json!(["https://shop.example/unsubscribe", "mailto:leave@shop.example"]));
    assert_eq!(
        (email["textBody"].as_str(), email["sanitizedHtml"].as_str()),
        (Some("Body of Invoice 0."), Some("<p>Body of Invoice 0.</p>"))
    );
    let stored = super::email(&app, &id);
    let date = chrono::DateTime::parse_from_rfc3339(email["date"].as_str().expect("date")).expect("RFC 3339");
    assert_eq!(date.naive_utc(), stored.listed_at);

    let missing = api.post("{ email(id: \"no-such-email\") { id } }", json!({})).await;
    assert_eq!((missing.status, missing.code().as_str()), (200, "NOT_FOUND"));
    assert!(missing.body["data"]["email"].is_null());
}

#[tokio::test]
async fn needs_review_lists_the_waiting_emails_page_by_page() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Receipts & orders");
    let seeded = seed(&app, &mailbox_id, &category.id, 7, "Unsure");
    diesel::update(emails::table.filter(emails::id.eq_any(&seeded)))
        .set((
            emails::state.eq("needs_review"),
            emails::category_id.eq(None::<String>),
            emails::sort_source.eq(None::<String>),
        ))
        .execute(&mut *app.conn())
        .expect("to review");
    let waiting = db::emails::count_needing_review(&mut app.conn(), &user_id).expect("count");
    let api = Api::session(&app).await;
    let query = "query($after: String) { needsReview(first: 3, after: $after) { totalCount \
        pageInfo { hasNextPage endCursor } edges { node { id subject category { id } sortSource } } } }";
    let mut walked = Vec::new();
    let mut after = serde_json::Value::Null;
    loop {
        let data = api.data(query, json!({ "after": after })).await;
        let page = &data["needsReview"];
        assert_eq!(page["totalCount"], waiting);
        for edge in page["edges"].as_array().expect("edges") {
            assert!(edge["node"]["category"].is_null(), "no category until the person chooses");
        }
        walked.extend(edge_ids(page));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(i64::try_from(walked.len()).expect("len"), waiting);
    for id in &seeded {
        assert!(walked.contains(id), "{id} waits for review");
    }
    let mut unique = walked.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), walked.len(), "each once");
}

#[tokio::test]
async fn polling_status_follows_the_accounts_pipeline() {
    let (app, _, mailbox_id) = app_with_demo().await;
    let api = Api::session(&app).await;
    let query = "query($id: ID!) { pollingStatus(accountId: $id) { account { id } activity isBusy importing \
        sorting archiving importedToday rateLimitedUntil lastSyncedAt } }";
    let data = api.data(query, json!({ "id": mailbox_id })).await;
    let status = &data["pollingStatus"];
    assert_eq!(status["account"]["id"], mailbox_id.as_str());
    assert_eq!(status["importing"], 0);
    assert_eq!(status["importedToday"], emailgator::demo::corpus::MESSAGES.len());
    assert!(status["rateLimitedUntil"].is_null() && status["lastSyncedAt"].is_string());

    let later = app.now() + chrono::Duration::hours(1);
    db::mailboxes::set_rate_limited(&mut app.conn(), &mailbox_id, later, app.now()).expect("rate limit");
    let data = api.data(query, json!({ "id": mailbox_id })).await;
    assert_eq!(data["pollingStatus"]["activity"], "RATE_LIMITED");
    assert!(data["pollingStatus"]["rateLimitedUntil"].is_string());
}

#[tokio::test]
async fn ai_usage_answers_calls_tokens_and_cost_per_day_within_the_window() {
    let (app, user_id, _) = app_with_demo().await;
    let today = app.now().date();
    for (days_ago, calls) in [(0, 3), (1, 2), (20, 9)] {
        let day = (today - chrono::Duration::days(days_ago)).format("%Y-%m-%d").to_string();
        let usage = AiUsage {
            user_id: user_id.clone(),
            day,
            calls,
            prompt_tokens: calls * 1000,
            completion_tokens: calls * 40,
            cost_microdollars: calls * 250,
        };
        db::ai_usage::add(&mut app.conn(), &usage).expect("usage");
    }
    let api = Api::session(&app).await;
    let data =
        api.data("{ aiUsage(days: 7) { day calls promptTokens completionTokens costDollars } }", json!({})).await;
    let days = data["aiUsage"].as_array().expect("days");
    assert_eq!(days.len(), 2, "the day 20 days ago is outside the window: {days:?}");
    assert_eq!(days[0]["day"], today.format("%Y-%m-%d").to_string());
    assert_eq!((days[0]["calls"].as_i64(), days[0]["promptTokens"].as_i64()), (Some(3), Some(3000)));
    assert_eq!(days[0]["completionTokens"], 120);
    assert!((days[0]["costDollars"].as_f64().expect("cost") - 0.00075).abs() < 1e-12);
    let all = api.data("{ aiUsage(days: 30) { calls } }", json!({})).await;
    assert_eq!(all["aiUsage"].as_array().expect("days").len(), 3);
    assert_eq!(api.post("{ aiUsage(days: 0) { calls } }", json!({})).await.code(), "INVALID_INPUT");
}

#[tokio::test]
async fn preview_category_shows_which_recent_emails_would_land_without_saving_anything() {
    let (app, user_id, _) = app_with_demo().await;
    let before = db::categories::list_for_user(&mut app.conn(), &user_id).expect("categories").len();
    let api = Api::session(&app).await;
    let data = api
        .data(
            "query($n: String!, $d: String!) { previewCategory(name: $n, description: $d) { examined estimatedAiCost \
               landing { subject from leaving } } }",
            json!({ "n": "Flights", "d": "Flight bookings, boarding passes, check-in reminders and gate changes from airlines" }),
        )
        .await;
    let preview = &data["previewCategory"];
    assert_eq!(preview["examined"], emailgator::demo::corpus::MESSAGES.len());
    assert!(preview["estimatedAiCost"].is_null(), "no AI configured");
    let landing = preview["landing"].as_array().expect("landing");
    assert!(!landing.is_empty(), "some demo mail is about flights");
    assert!(
        landing.iter().any(|e| e["subject"]
            .as_str()
            .is_some_and(|s| s.to_lowercase().contains("gate") || s.to_lowercase().contains("check"))),
        "{landing:?}"
    );
    assert_eq!(db::categories::list_for_user(&mut app.conn(), &user_id).expect("categories").len(), before);
    let empty = api.post("{ previewCategory(name: \" \", description: \"x\") { examined } }", json!({})).await;
    assert_eq!(empty.code(), "INVALID_INPUT");
}

#[tokio::test]
async fn connect_gmail_url_names_the_page_that_starts_connecting_when_google_is_configured() {
    let app =
        TestApp::spawn_with(&[("GOOGLE_CLIENT_ID", "client-id"), ("GOOGLE_CLIENT_SECRET", "client-secret")]).await;
    app.sign_in_as_owner().await;
    let api = Api::session(&app).await;
    let data = api.data("{ connectGmailUrl }", json!({})).await;
    let url = data["connectGmailUrl"].as_str().expect("a URL").to_owned();
    assert_eq!(url, format!("{}/mailboxes/connect", app.address));
    let page = app.client.get(&url).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let body = page.text().await.expect("body");
    assert!(body.contains("action=\"/mailboxes/connect\"") && body.contains("Continue to Google"), "{body}");
}
