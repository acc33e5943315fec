//! The GraphQL API at `/api/graphql`: every operation against the demo mailbox, paging, bulk
//! actions, authentication (session cookie with CSRF header, bearer tokens), another user's ids,
//! the document limits, and the committed schema.

mod auth;
mod batching;
mod limits;
mod mutations;
mod ownership;
mod queries;
mod schema;

use chrono::{Duration, NaiveDateTime};
use emailgator::db::{self, emails::Email};
use serde_json::{Value, json};

use crate::support::TestApp;

/// How a test client proves who it is.
#[derive(Clone)]
pub enum Auth {
    /// A signed-in browser: its cookie jar, and the CSRF token its pages carry.
    Session {
        client: reqwest::Client,
        csrf: String,
    },
    Bearer(String),
    Anonymous,
}

pub struct Api<'a> {
    pub app: &'a TestApp,
    pub auth: Auth,
}

/// An HTTP answer from the API.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The data of an answer without errors.
    pub fn data(&self) -> &Value {
        assert_eq!(self.status, 200, "{:#}", self.body);
        assert!(self.body.get("errors").is_none(), "unexpected errors: {:#}", self.body);
        &self.body["data"]
    }

    /// The `extensions.code` of every error.
    pub fn codes(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned()).collect())
            .unwrap_or_default()
    }

    /// The code of the only error.
    pub fn code(&self) -> String {
        let codes = self.codes();
        assert_eq!(codes.len(), 1, "one error expected: {:#}", self.body);
        codes[0].clone()
    }
}

impl<'a> Api<'a> {
    /// The app's own signed-in client.
    pub async fn session(app: &'a TestApp) -> Api<'a> {
        let csrf = app.csrf_token().await;
        Api { app, auth: Auth::Session { client: app.client.clone(), csrf } }
    }

    /// Another browser, signed in as a new user; and that user's id.
    pub async fn other_user(app: &'a TestApp, email: &str) -> (Api<'a>, String) {
        let (client, user_id) = app.other_browser(email).await;
        let page = client.get(app.url("/")).send().await.expect("home").text().await.expect("body");
        let marker = "name=\"csrf\" value=\"";
        let start = page.find(marker).expect("a csrf field") + marker.len();
        let csrf = page[start..].split('"').next().expect("token").to_owned();
        (Api { app, auth: Auth::Session { client, csrf } }, user_id)
    }

    pub fn bearer(app: &'a TestApp, token: &str) -> Api<'a> {
        Api { app, auth: Auth::Bearer(token.to_owned()) }
    }

    pub fn anonymous(app: &'a TestApp) -> Api<'a> {
        Api { app, auth: Auth::Anonymous }
    }

    fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let url = self.app.url("/api/graphql");
        match &self.auth {
            Auth::Session { client, csrf } => {
                let request = client.request(method.clone(), url);
                if method == reqwest::Method::POST { request.header("x-csrf-token", csrf) } else { request }
            }
            Auth::Bearer(token) => crate::support::http_client()
                .build()
                .expect("client")
                .request(method, url)
                .header("authorization", format!("Bearer {token}")),
            Auth::Anonymous => crate::support::http_client().build().expect("client").request(method, url),
        }
    }

    pub async fn post(&self, query: &str, variables: Value) -> Reply {
        let response = self
            .request(reqwest::Method::POST)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("post");
        reply(response).await
    }

    pub async fn get(&self, query: &str, variables: Value) -> Reply {
        let variables = variables.to_string();
        let response =
            self.request(reqwest::Method::GET).query(&[("query", query), ("variables", &variables)]).send().await;
        reply(response.expect("get")).await
    }

    /// The data of a POST that must succeed.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        self.post(query, variables).await.data().clone()
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON answer, got {status}: {text}"));
    Reply { status, body }
}

/// The owner signed in, with the demo mailbox imported and sorted: (app, user id, mailbox id).
pub async fn app_with_demo() -> (TestApp, String, String) {
    app_with_demo_and(&[]).await
}

pub async fn app_with_demo_and(overrides: &[(&str, &str)]) -> (TestApp, String, String) {
    let app = TestApp::spawn_with(overrides).await;
    app.sign_in_as_owner().await;
    let csrf = app.csrf_token().await;
    assert_eq!(app.post_form("/demo", &[("csrf", &csrf)]).await.status(), 303);
    app.run_pending_jobs().await;
    let mailbox = db::mailboxes::list_active(&mut app.conn()).expect("mailboxes").remove(0);
    (app, mailbox.user_id, mailbox.id)
}

/// `n` archived emails in a category, one minute apart; their ids newest first.
pub fn seed(app: &TestApp, mailbox_id: &str, category_id: &str, n: usize, subject: &str) -> Vec<String> {
    let start = app.now() - Duration::days(2);
    let mut ids = Vec::new();
    for i in 0..n {
        // Every tenth shares its minute with the one before, to prove ties are paged by id.
        let minute = i64::try_from(i - usize::from(i % 10 == 9)).expect("minute");
        let at: NaiveDateTime = start + Duration::minutes(minute);
        let email = Email {
            subject: format!("{subject} {i}"),
            from_name: Some(format!("Sender {i}")),
            from_address: Some(format!("sender{i}@shop.example")),
            summary: Some(format!("Summary of {subject} {i}.")),
            text_body: Some(format!("Body of {subject} {i}.")),
            sanitized_html: Some(format!("<p>Body of {subject} {i}.</p>")),
            list_id: Some("deals.shop.example".into()),
            list_unsubscribe_urls: "[\"https://shop.example/unsubscribe\",\"mailto:leave@shop.example\"]".into(),
            state: "archived".into(),
            category_id: Some(category_id.to_owned()),
            sort_source: Some("local".into()),
            confidence: Some(0.8),
            sent_at: Some(at),
            listed_at: at,
            archived_at: Some(at),
            ..db::emails::discovered(mailbox_id, &format!("seed-{subject}-{i}"), at)
        };
        db::emails::insert(&mut app.conn(), &email).expect("insert");
        ids.push((at, email.id));
    }
    ids.sort_by(|a, b| b.cmp(a));
    ids.into_iter().map(|(_, id)| id).collect()
}

pub fn category_named(app: &TestApp, user_id: &str, name: &str) -> db::categories::Category {
    db::categories::list_for_user(&mut app.conn(), user_id)
        .expect("categories")
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("a category called {name}"))
}

pub fn email(app: &TestApp, id: &str) -> Email {
    db::emails::find(&mut app.conn(), id).expect("find").expect("the email exists")
}

/// The ids in a connection's edges, in order.
pub fn edge_ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"]["id"].as_str().expect("id").to_owned())
        .collect()
}
