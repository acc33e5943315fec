//! Automation: the unsubscribe agent behind the `Unsubscriber` seam (in-process, or remote through
//! `emailgator sidecar`), the browser it drives and the network guard every request passes.
//! Mail-sending (mailto) is not here: it needs the user's mailbox, so the service does it.

pub mod agent;
pub mod browser;
pub mod cli;
pub mod fetch;
pub mod guard;
pub mod one_click;
pub mod page;
pub mod page_ai;
pub mod phrases;
pub mod proxy;
pub mod remote;
pub mod sessions;

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::domain::unsubscribe::{Method, Status, Target};
use crate::sorting::llm::Usage;

/// One attempt's input: whose address may be typed into forms, and the web targets to try in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRequest {
    pub email_address: String,
    pub targets: Vec<Target>,
    /// Whether the page agent may ask the AI: the person's AI mode allows it and today's budget is
    /// not spent. (Absent from an older app: allowed, as before.)
    #[serde(default = "allowed")]
    pub is_ai_allowed: bool,
}

fn allowed() -> bool {
    true
}

/// One thing the agent did, for the email page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Milliseconds since the attempt started.
    pub at_ms: u64,
    pub action: String,
    pub detail: String,
}

/// What an attempt ended with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptReport {
    pub status: Status,
    /// The method and URL that decided the outcome.
    pub method: Option<Method>,
    pub url: Option<String>,
    /// The evidence of a success, or why it did not succeed, in words.
    pub reason: String,
    pub steps: Vec<Step>,
    /// The final page, PNG, base64; absent for non-browser methods or when over the size cap.
    pub screenshot_png_base64: Option<String>,
    /// What the page agent's AI calls cost, counted into the person's AI budget.
    #[serde(default)]
    pub ai_usage: Usage,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum UnsubscriberError {
    /// The agent could not be reached or started; worth another try later.
    #[error("the unsubscribe agent is unavailable: {0}")]
    Unavailable(String),
    /// The agent refused the request itself (bad token, bad request); retrying will not help.
    #[error("the unsubscribe agent refused the request: {0}")]
    Rejected(String),
}

/// The seam: the in-process agent or the sidecar's HTTP client.
pub trait Unsubscriber: Send + Sync {
    fn attempt<'a>(&'a self, request: &'a AttemptRequest) -> BoxFuture<'a, Result<AttemptReport, UnsubscriberError>>;

    /// Closes whatever it keeps running (browsers still closing, pre-started ones); called once
    /// when the process stops.
    fn shut_down(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The implementation the configuration asks for: remote when `SIDECAR_URL` is set.
pub fn from_config(config: &Config) -> Arc<dyn Unsubscriber> {
    match (&config.sidecar.url, &config.sidecar.token) {
        (Some(url), Some(token)) => {
            Arc::new(remote::RemoteUnsubscriber::new(url.clone(), token.clone(), &config.unsubscribe))
        }
        _ => Arc::new(agent::InProcessAgent::new(agent::AgentSettings::from_config(config))),
    }
}

/// One outcome before it becomes a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub reason: String,
}

impl Outcome {
    pub fn new(status: Status, reason: String) -> Outcome {
        Outcome { status, reason }
    }
}

/// Collects steps with their time since the attempt started.
#[derive(Debug)]
pub struct Recorder {
    started: Instant,
    pub steps: Vec<Step>,
    /// The AI calls made so far.
    pub ai_usage: Usage,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder { started: Instant::now(), steps: Vec::new(), ai_usage: Usage::default() }
    }
}

impl Recorder {
    pub fn step(&mut self, action: &str, detail: &str) {
        let at_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.steps.push(Step { at_ms, action: action.to_owned(), detail: detail.chars().take(500).collect() });
    }
}
