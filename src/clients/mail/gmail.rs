//! Gmail through google-gmail1: incremental sync with `history.list`, a bounded inbox listing when
//! there is no cursor or it expired, raw fetches parsed locally, archive and trash with
//! `batchModify`, send for mailto unsubscribes. Each account gets a quota budget and at most a few
//! requests in flight (`limiter`); Google's answers are mapped to `MailError` in one place.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::DateTime;
use futures_util::future::BoxFuture;
use google_gmail1::api::{BatchModifyMessagesRequest, Label, Message};
use google_gmail1::{Gmail as GmailHub, common};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use secrecy::{ExposeSecret, SecretString};

use super::limiter::AccountLimiter;
use super::{FetchedMessage, MailError, MailProvider, NewMessages};
use crate::config::GmailConfig;

type Connector = HttpsConnector<HttpConnector>;

/// Quota units of each call (Gmail API reference).
mod units {
    pub const GET_PROFILE: u32 = 1;
    pub const HISTORY_LIST: u32 = 2;
    pub const MESSAGES_LIST: u32 = 5;
    pub const MESSAGES_GET: u32 = 5;
    pub const BATCH_MODIFY: u32 = 50;
    pub const LABELS_LIST: u32 = 1;
    pub const LABELS_CREATE: u32 = 5;
    pub const MESSAGES_SEND: u32 = 100;
}

/// `batchModify` takes at most this many ids.
const BATCH_MODIFY_MAX: usize = 1000;
/// How long to wait after a rate-limit answer without a Retry-After.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Hands out access tokens for a mailbox; implemented over the database by `services::gmail_tokens`.
pub trait AccessTokens: Send + Sync {
    /// A valid access token; `rejected` is one Gmail just answered 401 to, so it must not come back.
    fn access_token<'a>(
        &'a self,
        mailbox_id: &'a str,
        rejected: Option<&'a SecretString>,
    ) -> BoxFuture<'a, Result<SecretString, MailError>>;
}

/// What every Gmail mailbox of this process shares: the HTTP client, settings, limiters, label ids.
pub struct GmailConnector {
    client: common::Client<Connector>,
    base_url: String,
    settings: GmailConfig,
    tokens: Arc<dyn AccessTokens>,
    limiters: Mutex<HashMap<String, Arc<AccountLimiter>>>,
    /// Mailbox id → label name → Gmail label id, filled on demand.
    labels: Mutex<HashMap<String, HashMap<String, String>>>,
}

impl GmailConnector {
    pub fn new(base_url: &url::Url, settings: GmailConfig, tokens: Arc<dyn AccessTokens>) -> GmailConnector {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        GmailConnector {
            client,
            base_url: base_url.to_string(),
            settings,
            tokens,
            limiters: Mutex::default(),
            labels: Mutex::default(),
        }
    }

    /// The provider for one mailbox.
    pub fn mailbox(self: &Arc<Self>, mailbox_id: &str, backfill_days: i64) -> Gmail {
        let limiter = {
            let mut limiters = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
            limiters
                .entry(mailbox_id.to_owned())
                .or_insert_with(|| {
                    Arc::new(AccountLimiter::new(self.settings.max_in_flight, self.settings.quota_units_per_second))
                })
                .clone()
        };
        Gmail { connector: self.clone(), mailbox_id: mailbox_id.to_owned(), limiter, backfill_days }
    }

    /// Forgets a mailbox's cached label ids (after it was reconnected or its labels changed).
    pub fn forget(&self, mailbox_id: &str) {
        self.labels.lock().unwrap_or_else(|e| e.into_inner()).remove(mailbox_id);
    }
}

/// One Gmail mailbox.
/// The widest backfill window a mailbox can ask for.
pub const MAX_BACKFILL_DAYS: i64 = 365;

pub struct Gmail {
    connector: Arc<GmailConnector>,
    mailbox_id: String,
    limiter: Arc<AccountLimiter>,
    /// The mailbox's own backfill window (the person sets it); the server's when not positive.
    backfill_days: i64,
}

/// Records what Google said when a call failed; google-gmail1 keeps only the body otherwise.
#[derive(Debug, Default)]
struct Failure {
    status: Option<u16>,
    retry_after: Option<Duration>,
    reason: Option<String>,
}

impl common::Delegate for Failure {
    fn http_failure(&mut self, response: &common::Response, body: Option<&serde_json::Value>) -> common::Retry {
        self.status = Some(response.status().as_u16());
        self.retry_after =
            response.headers().get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        self.reason = body
            .and_then(|b| b.pointer("/error/errors/0/reason").or_else(|| b.pointer("/error/status")))
            .and_then(|r| r.as_str())
            .map(str::to_owned);
        // We decide about retries ourselves (snooze the job), so google-gmail1 never sleeps.
        common::Retry::Abort
    }
}

/// Retry-After is seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let seconds = (when.timestamp() - chrono::Utc::now().timestamp()).max(1);
    Some(Duration::from_secs(seconds.unsigned_abs()))
}

/// A failed call, before the caller gives 404 its meaning.
enum CallError {
    Unauthorized,
    NotFound,
    Mail(MailError),
}

fn classify(error: common::Error, failure: &Failure) -> CallError {
    let status = match error {
        common::Error::BadRequest(_) | common::Error::Failure(_) => failure.status.unwrap_or(500),
        common::Error::HttpError(e) => return CallError::Mail(MailError::Unreachable(e.to_string())),
        common::Error::Io(e) => return CallError::Mail(MailError::Unreachable(e.to_string())),
        common::Error::JsonDecodeError(_, e) => {
            return CallError::Mail(MailError::Unreachable(format!("Gmail's answer could not be read: {e}")));
        }
        other => return CallError::Mail(MailError::Rejected { status: 0, reason: other.to_string() }),
    };
    let reason = failure.reason.clone().unwrap_or_default();
    let is_rate_limit =
        status == 429 || (status == 403 && matches!(reason.as_str(), "rateLimitExceeded" | "userRateLimitExceeded"));
    match status {
        _ if is_rate_limit => {
            CallError::Mail(MailError::RateLimited { retry_after: failure.retry_after.unwrap_or(DEFAULT_RETRY_AFTER) })
        }
        401 => CallError::Unauthorized,
        404 => CallError::NotFound,
        500..=599 => CallError::Mail(MailError::Upstream { status }),
        _ => CallError::Mail(MailError::Rejected { status, reason }),
    }
}

/// One attempt of an API call, with what Google said if it failed.
type Attempt<'a, T> = BoxFuture<'a, (common::Result<(common::Response, T)>, Failure)>;

/// Builds one attempt from an expression using `hub` (the API, with a fresh token) and `failure`
/// (the recorder to pass as the call's delegate). Capture only references: the attempt may run twice.
macro_rules! attempt {
    (|$hub:ident, $failure:ident| $call:expr) => {
        move |$hub: GmailHub<Connector>| -> Attempt<'_, _> {
            Box::pin(async move {
                let mut recorded = Failure::default();
                let result = {
                    let $failure: &mut Failure = &mut recorded;
                    $call
                };
                (result, recorded)
            })
        }
    };
}

impl Gmail {
    /// Runs one API call under the account's limits, refreshing the access token once on a 401.
    async fn call<'a, T>(
        &'a self,
        units: u32,
        op: impl Fn(GmailHub<Connector>) -> Attempt<'a, T> + Send + Sync + 'a,
    ) -> Result<T, CallError> {
        let _permit = self.limiter.acquire(units).await;
        let mut rejected: Option<SecretString> = None;
        loop {
            let tokens = &self.connector.tokens;
            let token = tokens.access_token(&self.mailbox_id, rejected.as_ref()).await.map_err(CallError::Mail)?;
            let mut hub = GmailHub::new(self.connector.client.clone(), token.expose_secret().to_owned());
            hub.base_url(self.connector.base_url.clone());
            hub.root_url(self.connector.base_url.clone());
            let outcome = tokio::time::timeout(self.connector.settings.request_timeout, op(hub)).await;
            let Ok((result, failure)) = outcome else {
                return Err(CallError::Mail(MailError::Unreachable("Gmail did not answer in time".into())));
            };
            match result {
                Ok((_, value)) => return Ok(value),
                Err(error) => match classify(error, &failure) {
                    CallError::Unauthorized if rejected.is_none() => rejected = Some(token),
                    CallError::Unauthorized => {
                        return Err(CallError::Mail(MailError::Rejected {
                            status: 401,
                            reason: "Gmail refused a freshly refreshed access token".into(),
                        }));
                    }
                    other => return Err(other),
                },
            }
        }
    }

    /// Every message added to the inbox since `cursor`, following all pages; `None` when the cursor expired.
    async fn history_since(&self, cursor: u64) -> Result<Option<NewMessages>, MailError> {
        let mut ids = Vec::new();
        let mut newest = cursor;
        let mut page_token: Option<String> = None;
        loop {
            let page = page_token.as_deref();
            let response = self
                .call(
                    units::HISTORY_LIST,
                    attempt!(|hub, failure| {
                        let mut request = hub
                            .users()
                            .history_list("me")
                            .start_history_id(cursor)
                            .add_history_types("messageAdded")
                            .label_id("INBOX")
                            .max_results(500);
                        if let Some(token) = page {
                            request = request.page_token(token);
                        }
                        request.delegate(failure).doit().await
                    }),
                )
                .await;
            let response = match response {
                Ok(response) => response,
                Err(CallError::NotFound) => return Ok(None),
                Err(CallError::Unauthorized) => return Err(MailError::TokenRevoked),
                Err(CallError::Mail(error)) => return Err(error),
            };
            for record in response.history.unwrap_or_default() {
                for added in record.messages_added.unwrap_or_default() {
                    let Some(message) = added.message else { continue };
                    let in_inbox = message.label_ids.as_ref().is_none_or(|labels| labels.iter().any(|l| l == "INBOX"));
                    if let (Some(id), true) = (message.id, in_inbox) {
                        ids.push(id);
                    }
                }
            }
            // History ids are numbers: compare them as numbers, never move the cursor back.
            newest = newest.max(response.history_id.unwrap_or(cursor));
            match response.next_page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => break,
            }
        }
        dedupe(&mut ids);
        Ok(Some(NewMessages { ids, cursor: Some(newest.to_string()) }))
    }

    /// The inbox of the last few days (bounded), with the history id to continue from.
    async fn recent_inbox(&self) -> Result<NewMessages, MailError> {
        // The profile's history id is read first, so nothing that arrives during the listing falls in a gap.
        let profile = self
            .call(
                units::GET_PROFILE,
                attempt!(|hub, failure| hub.users().get_profile("me").delegate(failure).doit().await),
            )
            .await
            .map_err(not_found_as_upstream)?;
        let settings = &self.connector.settings;
        let max = settings.backfill_max as usize;
        let days = if self.backfill_days > 0 { self.backfill_days } else { i64::from(settings.backfill_days) };
        let query = format!("newer_than:{}d", days.clamp(1, MAX_BACKFILL_DAYS));
        let mut ids = Vec::new();
        let mut page_token: Option<String> = None;
        while ids.len() < max {
            let (page, query) = (page_token.as_deref(), query.as_str());
            let want = (max - ids.len()).min(500) as u32;
            let response = self
                .call(
                    units::MESSAGES_LIST,
                    attempt!(|hub, failure| {
                        let mut request =
                            hub.users().messages_list("me").add_label_ids("INBOX").q(query).max_results(want);
                        if let Some(token) = page {
                            request = request.page_token(token);
                        }
                        request.delegate(failure).doit().await
                    }),
                )
                .await
                .map_err(not_found_as_upstream)?;
            ids.extend(response.messages.unwrap_or_default().into_iter().filter_map(|m| m.id));
            match response.next_page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => break,
            }
        }
        ids.truncate(max);
        // Gmail lists newest first; import oldest first.
        ids.reverse();
        dedupe(&mut ids);
        Ok(NewMessages { ids, cursor: profile.history_id.map(|id| id.to_string()) })
    }

    async fn modify(&self, ids: &[String], add: Vec<String>, remove: Vec<String>) -> Result<(), MailError> {
        for chunk in ids.chunks(BATCH_MODIFY_MAX) {
            let request = BatchModifyMessagesRequest {
                ids: Some(chunk.to_vec()),
                add_label_ids: Some(add.clone()),
                remove_label_ids: Some(remove.clone()),
            };
            let request = &request;
            self.call(
                units::BATCH_MODIFY,
                attempt!(|hub, failure| hub
                    .users()
                    .messages_batch_modify(request.clone(), "me")
                    .delegate(failure)
                    .doit()
                    .await
                    .map(|response| (response, ()))),
            )
            .await
            .map_err(not_found_as_upstream)?;
        }
        Ok(())
    }

    /// The id of the user label `name`, created when missing.
    async fn label_id(&self, name: &str) -> Result<String, MailError> {
        let key = name.to_lowercase();
        for attempt in 0..2 {
            if let Some(id) = self.existing_label_id(name).await? {
                return Ok(id);
            }
            let label = Label {
                name: Some(name.to_owned()),
                label_list_visibility: Some("labelShow".into()),
                message_list_visibility: Some("show".into()),
                ..Label::default()
            };
            let label = &label;
            let created = self
                .call(
                    units::LABELS_CREATE,
                    attempt!(|hub, failure| hub
                        .users()
                        .labels_create(label.clone(), "me")
                        .delegate(failure)
                        .doit()
                        .await),
                )
                .await;
            match created {
                Ok(Label { id: Some(id), .. }) => {
                    let mut cache = self.connector.labels.lock().unwrap_or_else(|e| e.into_inner());
                    cache.entry(self.mailbox_id.clone()).or_default().insert(key.clone(), id.clone());
                    return Ok(id);
                }
                // Created meanwhile by another instance (409): list again.
                Err(CallError::Mail(MailError::Rejected { status: 409, .. })) if attempt == 0 => continue,
                Ok(_) => {
                    return Err(MailError::Rejected { status: 200, reason: "Gmail created a label without id".into() });
                }
                Err(error) => return Err(not_found_as_upstream(error)),
            }
        }
        Err(MailError::Rejected { status: 409, reason: format!("the Gmail label {name:?} could not be created") })
    }

    /// The id of an existing user label, without creating it; lists the labels (and caches them all)
    /// when the cache does not know it.
    async fn existing_label_id(&self, name: &str) -> Result<Option<String>, MailError> {
        let key = name.to_lowercase();
        if let Some(id) = self.cached_label(&key) {
            return Ok(Some(id));
        }
        let listed = self
            .call(
                units::LABELS_LIST,
                attempt!(|hub, failure| hub.users().labels_list("me").delegate(failure).doit().await),
            )
            .await
            .map_err(not_found_as_upstream)?;
        let mut cache = self.connector.labels.lock().unwrap_or_else(|e| e.into_inner());
        let labels = cache.entry(self.mailbox_id.clone()).or_default();
        for label in listed.labels.unwrap_or_default() {
            if let (Some(id), Some(name)) = (label.id, label.name) {
                labels.insert(name.to_lowercase(), id);
            }
        }
        Ok(labels.get(&key).cloned())
    }

    fn cached_label(&self, key: &str) -> Option<String> {
        let cache = self.connector.labels.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(&self.mailbox_id).and_then(|labels| labels.get(key)).cloned()
    }
}

fn not_found_as_upstream(error: CallError) -> MailError {
    match error {
        CallError::NotFound => MailError::Rejected { status: 404, reason: "not found".into() },
        CallError::Unauthorized => MailError::TokenRevoked,
        CallError::Mail(error) => error,
    }
}

/// Keeps the first of each id, in order.
fn dedupe(ids: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
}

impl MailProvider for Gmail {
    fn list_new<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<NewMessages, MailError>> {
        Box::pin(async move {
            if let Some(cursor) = cursor.and_then(|c| c.parse::<u64>().ok()) {
                match self.history_since(cursor).await? {
                    Some(found) => return Ok(found),
                    None => tracing::warn!(mailbox_id = self.mailbox_id, "Gmail history expired; listing the inbox"),
                }
            }
            self.recent_inbox().await
        })
    }

    fn fetch<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<FetchedMessage, MailError>> {
        Box::pin(async move {
            let message: Message = self
                .call(
                    units::MESSAGES_GET,
                    attempt!(|hub, failure| hub
                        .users()
                        .messages_get("me", id)
                        .format("raw")
                        .delegate(failure)
                        .doit()
                        .await),
                )
                .await
                .map_err(|error| match error {
                    CallError::NotFound => MailError::MessageGone(id.to_owned()),
                    other => not_found_as_upstream(other),
                })?;
            let received_at = message.internal_date.and_then(DateTime::from_timestamp_millis).map(|t| t.naive_utc());
            Ok(FetchedMessage {
                raw: message.raw.unwrap_or_default(),
                thread_id: message.thread_id,
                labels: message.label_ids.unwrap_or_default(),
                received_at,
            })
        })
    }

    fn archive<'a>(
        &'a self,
        ids: &'a [String],
        label: Option<&'a str>,
        is_leaving_inbox: bool,
    ) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async move {
            let add = match label {
                Some(name) if self.connector.settings.is_category_labels_enabled => vec![self.label_id(name).await?],
                _ => Vec::new(),
            };
            let remove = if is_leaving_inbox { vec!["INBOX".to_owned()] } else { Vec::new() };
            if add.is_empty() && remove.is_empty() {
                // Nothing to change in Gmail: no call, no quota.
                return Ok(());
            }
            self.modify(ids, add, remove).await
        })
    }

    fn relabel<'a>(
        &'a self,
        ids: &'a [String],
        add: &'a str,
        remove: &'a [String],
    ) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async move {
            let add = vec![self.label_id(add).await?];
            let mut removed = Vec::new();
            for name in remove {
                // A label that was never created is on no message: nothing to take off.
                if let Some(id) = self.existing_label_id(name).await? {
                    removed.push(id);
                }
            }
            self.modify(ids, add, removed).await
        })
    }

    fn trash<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async move { self.modify(ids, vec!["TRASH".into()], vec!["INBOX".into()]).await })
    }

    fn untrash<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Result<(), MailError>> {
        // Back to where it was before: archived, with its category label.
        Box::pin(async move { self.modify(ids, Vec::new(), vec!["TRASH".into()]).await })
    }

    fn send<'a>(&'a self, raw: &'a [u8]) -> BoxFuture<'a, Result<String, MailError>> {
        Box::pin(async move {
            let sent: Message = self
                .call(
                    units::MESSAGES_SEND,
                    attempt!(|hub, failure| {
                        let mime_type: mime::Mime = "message/rfc822".parse().unwrap_or(mime::APPLICATION_OCTET_STREAM);
                        hub.users()
                            .messages_send(Message::default(), "me")
                            .delegate(failure)
                            .upload(std::io::Cursor::new(raw.to_vec()), mime_type)
                            .await
                    }),
                )
                .await
                .map_err(not_found_as_upstream)?;
            sent.id.ok_or(MailError::Rejected { status: 200, reason: "Gmail sent the message without an id".into() })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("17"), Some(Duration::from_secs(17)));
        assert_eq!(parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT"), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn dedupe_keeps_first_occurrence() {
        let mut ids = vec!["a".to_owned(), "b".into(), "a".into(), "c".into(), "b".into()];
        dedupe(&mut ids);
        assert_eq!(ids, ["a", "b", "c"]);
    }
}
