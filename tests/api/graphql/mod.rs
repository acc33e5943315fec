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
mod unsubscribe;

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

pub use crate::support::mail_data::{app_with_demo, category_named, seed};

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
