//! The security pass: every route and every GraphQL field walked as an anonymous visitor, as another
//! user holding the first user's ids, and as a non-admin; CSRF on every form; session fixation; and
//! emails that try to steer the sorter. Each walk ends by checking that nothing of the owner's changed.

mod csrf_forms;
mod graphql_fields;
mod route_table;
mod routes;
mod sessions;
mod sorter_steering;

use diesel::prelude::*;
use emailgator::db;

use crate::graphql::{app_with_demo, category_named, seed};
use crate::support::TestApp;

/// The owner's data the walks aim at, and the strings that must never reach anyone else.
pub struct Owner {
    pub user_id: String,
    pub email_address: String,
    pub mailbox_id: String,
    pub category_id: String,
    /// Archived emails in the category.
    pub email_ids: Vec<String>,
    /// An email in the trash (for restore and delete-forever).
    pub trashed_email_id: String,
    pub attempt_id: String,
    pub subscription_id: String,
    pub api_token_id: String,
    pub job_id: String,
}

impl Owner {
    /// Text that only the owner's pages show: seeded subjects and the owner's ids.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = vec!["Confidential ".to_owned(), self.mailbox_id.clone(), self.category_id.clone()];
        secrets.extend(self.email_ids.iter().cloned());
        secrets.push(self.trashed_email_id.clone());
        secrets.push(self.attempt_id.clone());
        secrets.push(self.subscription_id.clone());
        secrets
    }

    /// Fails the test if `body` shows any of the owner's data.
    pub fn assert_not_in(&self, body: &str, context: &str) {
        for secret in self.secrets() {
            assert!(!body.contains(&secret), "{context}: the owner's {secret:?} leaked:\n{body}");
        }
    }
}

/// The owner signed in with the demo mailbox, seeded emails, a trashed email, an unsubscribe attempt
/// with a screenshot, a subscription, an API token and finished jobs.
pub async fn app_with_owner() -> (TestApp, Owner) {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Receipts & orders");
    let mut email_ids = seed(&app, &mailbox_id, &category.id, 4, "Confidential");
    let trashed_email_id = email_ids.pop().expect("four seeded");
    let csrf = app.csrf_token().await;
    let trashed =
        app.post_form("/emails/bulk", &[("csrf", &csrf), ("action", "delete"), ("ids", &trashed_email_id)]).await;
    assert_eq!(trashed.status(), 303, "the owner can trash their own email");
    assert!(crate::graphql::email(&app, &trashed_email_id).trashed_at.is_some());

    let now = app.now();
    let folder = app.state.config.unsubscribe.screenshot_dir.clone();
    std::fs::create_dir_all(&folder).expect("screenshot folder");
    let shot = folder.join("owner-final.png");
    std::fs::write(&shot, b"\x89PNG\r\n\x1a\nconfidential").expect("png");
    let attempt = db::unsubscribe_attempts::UnsubscribeAttempt {
        id: db::new_id(),
        user_id: user_id.clone(),
        subscription_key: "list:confidential.shop.example".into(),
        email_id: Some(email_ids[0].clone()),
        method: "one_click".into(),
        url: Some("https://shop.example/unsubscribe".into()),
        status: "succeeded".into(),
        reason: Some("answered 200".into()),
        steps: "[]".into(),
        screenshot_path: Some(shot.to_string_lossy().into_owned()),
        started_at: Some(now),
        finished_at: Some(now),
        created_at: now,
    };
    db::unsubscribe_attempts::insert(&mut app.conn(), &attempt).expect("attempt");
    let subscription = db::subscriptions::Subscription {
        id: db::new_id(),
        user_id: user_id.clone(),
        subscription_key: "list:confidential.shop.example".into(),
        display_name: "Confidential Shop".into(),
        status: "succeeded".into(),
        last_attempt_id: Some(attempt.id.clone()),
        unsubscribed_at: Some(now),
        emails_seen: 4,
        emails_after_unsubscribe: 0,
        is_trash_when_ignored: false,
        created_at: now,
        updated_at: now,
    };
    db::subscriptions::insert(&mut app.conn(), &subscription).expect("subscription");
    let token = db::api_tokens::ApiToken {
        id: db::new_id(),
        user_id: user_id.clone(),
        name: "owner's script".into(),
        token_hash: emailgator::services::auth::hash_token("egt_owner-secret"),
        created_at: now,
        last_used_at: None,
    };
    db::api_tokens::insert(&mut app.conn(), &token).expect("token");
    let job_id = db::schema::jobs::table
        .select(db::schema::jobs::id)
        .order(db::schema::jobs::id)
        .first::<String>(&mut *app.conn())
        .expect("the demo import left jobs");
    let owner = Owner {
        user_id,
        email_address: app.state.config.local.owner_email.clone(),
        mailbox_id,
        category_id: category.id,
        email_ids,
        trashed_email_id,
        attempt_id: attempt.id,
        subscription_id: subscription.id,
        api_token_id: token.id,
        job_id,
    };
    (app, owner)
}

/// Every row a refused request could have changed, as text to compare: all users, mailboxes,
/// categories, emails, unsubscribe attempts, subscriptions, jobs and API tokens, and how many rows
/// the sorter's tables hold. Sessions and sign-in links are left out: signing in makes them.
pub fn snapshot(app: &TestApp) -> String {
    use db::schema::{
        ai_usage, api_tokens, categories, emails, jobs, mailboxes, resorts, sender_memory, sorter_models,
        subscriptions, unsubscribe_attempts, users,
    };
    let conn = &mut *app.conn();
    let users = users::table.order(users::id).select(db::users::User::as_select()).load(conn).expect("users");
    let mailboxes = mailboxes::table
        .order(mailboxes::id)
        .select(db::mailboxes::Mailbox::as_select())
        .load(conn)
        .expect("mailboxes");
    let categories = categories::table
        .order(categories::id)
        .select(db::categories::Category::as_select())
        .load(conn)
        .expect("categories");
    let emails = emails::table.order(emails::id).select(db::emails::Email::as_select()).load(conn).expect("emails");
    let attempts = unsubscribe_attempts::table
        .order(unsubscribe_attempts::id)
        .select(db::unsubscribe_attempts::UnsubscribeAttempt::as_select())
        .load(conn)
        .expect("attempts");
    let subscriptions = subscriptions::table
        .order(subscriptions::id)
        .select(db::subscriptions::Subscription::as_select())
        .load(conn)
        .expect("subscriptions");
    let jobs = jobs::table.order(jobs::id).select(db::jobs::JobRow::as_select()).load(conn).expect("jobs");
    let tokens: Vec<(String, String, String, String)> = api_tokens::table
        .order(api_tokens::id)
        .select((api_tokens::id, api_tokens::user_id, api_tokens::name, api_tokens::token_hash))
        .load(conn)
        .expect("tokens");
    let counts: Vec<i64> = vec![
        sorter_models::table.count().get_result(conn).expect("count"),
        sender_memory::table.count().get_result(conn).expect("count"),
        resorts::table.count().get_result(conn).expect("count"),
        ai_usage::table.count().get_result(conn).expect("count"),
    ];
    format!(
        "{users:#?}\n{mailboxes:#?}\n{categories:#?}\n{emails:#?}\n{attempts:#?}\n{subscriptions:#?}\n{jobs:#?}\n{tokens:#?}\n{counts:?}"
    )
}

/// Fails with the first differing line when `after` is not `before`.
pub fn assert_unchanged(before: &str, after: &str, context: &str) {
    if before != after {
        let line = before
            .lines()
            .zip(after.lines())
            .find(|(b, a)| b != a)
            .map_or_else(|| "(rows were added or removed)".to_owned(), |(b, a)| format!("{b}\n  became\n{a}"));
        panic!("{context} changed the database: {line}");
    }
}

/// The CSRF token on the signed-in home page of `client`.
pub async fn csrf_of(app: &TestApp, client: &reqwest::Client) -> String {
    let page = client.get(app.url("/")).send().await.expect("home").text().await.expect("body");
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a csrf field on the signed-in page") + marker.len();
    page[start..].split('"').next().expect("token").to_owned()
}

/// A client with no cookies that does not follow redirects.
pub fn anonymous_client() -> reqwest::Client {
    crate::support::http_client().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}
