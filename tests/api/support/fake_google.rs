//! A stateful fake of Google's OAuth endpoints and of the part of the Gmail API the app uses, on a free
//! local port. A test plays the person at the consent screen (`approve`, `deny`), puts mail into
//! mailboxes (`deliver`), injects faults, and reads back what the app did (labels, sends, quota, calls).
//! Wire formats follow Google's: uint64 ids as JSON strings, Google's error bodies, 204 for
//! `batchModify`, `multipart/related` uploads as google-gmail1 sends them, `raw` as padded URL-safe base64.
//!
//! The server runs on its own thread with its own actix system, so it does not depend on the test's
//! runtime flavour and keeps serving while a test blocks; dropping `FakeGoogle` stops it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rand::Rng as _;
use rand::distributions::Alphanumeric;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-secret";

/// Label ids Gmail has in every mailbox; their names equal their ids.
const SYSTEM_LABELS: [&str; 7] = ["INBOX", "UNREAD", "TRASH", "SPAM", "SENT", "IMPORTANT", "STARRED"];
/// A new mailbox's history id; deliveries count up from here.
const FIRST_HISTORY_ID: u64 = 1000;
/// Uploads of big messages must not hit actix's default 256 KiB body limit.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// `batchModify` takes at most this many ids.
const BATCH_MODIFY_MAX: usize = 1000;

const SCOPE_MAIL: &str = "https://mail.google.com/";
const SCOPE_MODIFY: &str = "https://www.googleapis.com/auth/gmail.modify";
const SCOPE_READONLY: &str = "https://www.googleapis.com/auth/gmail.readonly";
const SCOPE_LABELS: &str = "https://www.googleapis.com/auth/gmail.labels";
const SCOPE_SEND: &str = "https://www.googleapis.com/auth/gmail.send";
const SCOPE_COMPOSE: &str = "https://www.googleapis.com/auth/gmail.compose";

/// Clients may send `raw` with or without padding; Google accepts both.
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub struct FakeGoogle {
    url: String,
    state: Arc<Mutex<State>>,
    handle: ServerHandle,
}

#[derive(Default)]
struct State {
    /// Keyed by the lower-cased address.
    accounts: BTreeMap<String, Account>,
    codes: HashMap<String, PendingCode>,
    grants: Vec<Grant>,
    access_tokens: HashMap<String, AccessToken>,
    revoked_tokens: Vec<String>,
    last_authorize: HashMap<String, String>,
    token_faults: VecDeque<Fault>,
    faults: HashMap<String, VecDeque<Fault>>,
    delays: HashMap<String, Duration>,
    /// `fail_randomly`: a share of all Gmail requests fail, drawn from a seeded generator.
    random_faults: Option<RandomFaults>,
    /// Message ids count up from a random start, so ids differ between fakes (and test runs).
    next_message: u64,
}

struct Account {
    email: String,
    name: String,
    sub: String,
    history_id: u64,
    /// `history.list` below this start answers 404 (`expire_history`).
    history_floor: u64,
    /// In delivery order.
    messages: Vec<StoredMessage>,
    history: Vec<HistoryRecord>,
    user_labels: Vec<UserLabel>,
    next_label: u32,
    sent: Vec<Vec<u8>>,
    quota: u64,
    calls: HashMap<String, usize>,
    in_flight: usize,
    max_in_flight: usize,
    batch_sizes: Vec<usize>,
    refresh_count: usize,
    last_internal_date: i64,
}

struct StoredMessage {
    id: String,
    thread_id: String,
    labels: Vec<String>,
    raw: Vec<u8>,
    internal_date: i64,
    history_id: u64,
    /// Accepted `batchModify` calls that took it out of the inbox.
    archive_count: usize,
}

struct HistoryRecord {
    id: u64,
    message_id: String,
    thread_id: String,
    /// The message's labels when it was added.
    labels: Vec<String>,
}

struct UserLabel {
    id: String,
    name: String,
    label_list_visibility: String,
    message_list_visibility: String,
}

struct PendingCode {
    email: String,
    redirect_uri: String,
    challenge: String,
    scopes: Vec<String>,
    offline: bool,
    nonce: Option<String>,
}

struct Grant {
    email: String,
    scopes: Vec<String>,
    refresh_token: Option<String>,
    nonce: Option<String>,
    revoked: bool,
}

struct AccessToken {
    grant: usize,
    expired: bool,
}

struct RandomFaults {
    rate: f64,
    rng: rand::rngs::StdRng,
    injected: usize,
}

#[derive(Clone, Copy)]
struct Fault {
    status: u16,
    retry_after: Option<u64>,
    remaining: usize,
}

/// Which Gmail method a request is, and for whom.
struct GmailCall {
    method: &'static str,
    user: String,
    message_id: Option<String>,
    is_upload: bool,
}

type Query = Vec<(String, String)>;

impl FakeGoogle {
    pub async fn start() -> FakeGoogle {
        // Tests talk to the fake with reqwest, which needs the process-wide rustls provider even for plain http.
        emailgator::startup::install_tls_provider();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free local port for the fake Google");
        let url = format!("http://{}", listener.local_addr().expect("the fake Google's local address"));
        let first_message = 0x18f0_0000_0000_0000_u64 + (u64::from(rand::thread_rng().r#gen::<u32>()) << 16);
        let state = Arc::new(Mutex::new(State { next_message: first_message, ..State::default() }));
        let shared = web::Data::from(state.clone());
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("fake-google".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(shared.clone())
                            .app_data(web::PayloadConfig::new(MAX_BODY))
                            .default_service(web::to(dispatch))
                    })
                    .workers(1)
                    .disable_signals()
                    .listen(listener)
                    .expect("serve the fake Google on its port")
                    .run();
                    sender.send(server.handle()).expect("the test waits for the fake Google's handle");
                    server.await
                })
            })
            .expect("start the fake Google's thread");
        let handle = receiver.recv().expect("the fake Google started");
        FakeGoogle { url, state, handle }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn auth_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.url)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url)
    }

    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.url)
    }

    pub fn userinfo_url(&self) -> String {
        format!("{}/v1/userinfo", self.url)
    }

    /// With the trailing slash: google-gmail1 appends `gmail/v1/...` to it.
    pub fn gmail_base_url(&self) -> String {
        format!("{}/", self.url)
    }

    /// The env overrides the app needs to use this fake.
    pub fn settings(&self) -> Vec<(String, String)> {
        [
            ("GOOGLE_CLIENT_ID", CLIENT_ID.to_owned()),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("EMAILGATOR__GOOGLE__AUTH_URL", self.auth_url()),
            ("EMAILGATOR__GOOGLE__TOKEN_URL", self.token_url()),
            ("EMAILGATOR__GOOGLE__REVOKE_URL", self.revoke_url()),
            ("EMAILGATOR__GOOGLE__USERINFO_URL", self.userinfo_url()),
            ("EMAILGATOR__GOOGLE__GMAIL_BASE_URL", self.gmail_base_url()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// A Google account with an empty mailbox; its history id starts at 1000.
    pub fn add_account(&self, email: &str, name: &str) {
        let mut state = self.lock();
        let key = email.to_lowercase();
        assert!(!state.accounts.contains_key(&key), "the fake Google already has an account {email}");
        // Stable per address, so a test that restarts the fake sees the same person.
        let digest = Sha256::digest(key.as_bytes());
        let number = u64::from_be_bytes(digest[..8].try_into().expect("eight bytes"));
        let account = Account {
            email: email.to_owned(),
            name: name.to_owned(),
            sub: format!("1{number:020}"),
            history_id: FIRST_HISTORY_ID,
            history_floor: 0,
            messages: Vec::new(),
            history: Vec::new(),
            user_labels: Vec::new(),
            next_label: 1,
            sent: Vec::new(),
            quota: 0,
            calls: HashMap::new(),
            in_flight: 0,
            max_in_flight: 0,
            batch_sizes: Vec::new(),
            refresh_count: 0,
            last_internal_date: 0,
        };
        state.accounts.insert(key, account);
    }

    /// The person approves everything the app asked for; returns the URL Google sends the browser back to
    /// (`redirect_uri?code=…&state=…&scope=…`).
    pub fn approve(&self, authorize_url: &str, email: &str) -> String {
        self.consent(authorize_url, email, None)
    }

    /// The person unticks some boxes: only `scopes` are granted.
    pub fn approve_with_scopes(&self, authorize_url: &str, email: &str, scopes: &[&str]) -> String {
        self.consent(authorize_url, email, Some(scopes))
    }

    /// The person pressed Cancel: `redirect_uri?error=access_denied&state=…`.
    pub fn deny(&self, authorize_url: &str) -> String {
        let params = self.authorize_params(authorize_url);
        let redirect_uri = required(&params, "redirect_uri");
        let mut callback = url::Url::parse(redirect_uri).expect("redirect_uri is a URL");
        callback
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", required(&params, "state"));
        callback.to_string()
    }

    fn consent(&self, authorize_url: &str, email: &str, granted: Option<&[&str]>) -> String {
        let params = self.authorize_params(authorize_url);
        let get = |key: &str| params.get(key).map(String::as_str);
        assert_eq!(get("client_id"), Some(CLIENT_ID), "authorize URL has the wrong client_id: {authorize_url}");
        assert_eq!(get("response_type"), Some("code"), "authorize URL must ask for a code: {authorize_url}");
        assert_eq!(get("code_challenge_method"), Some("S256"), "authorize URL must use PKCE S256: {authorize_url}");
        let challenge = required(&params, "code_challenge");
        // An S256 challenge is always 32 bytes in unpadded base64url.
        assert!(
            URL_SAFE_NO_PAD.decode(challenge).is_ok_and(|bytes| bytes.len() == 32),
            "code_challenge is not a base64url SHA-256: {challenge:?}"
        );
        let state = required(&params, "state");
        let redirect_uri = required(&params, "redirect_uri");
        let mut callback = url::Url::parse(redirect_uri).expect("redirect_uri is a URL");
        let requested: Vec<String> = required(&params, "scope").split_whitespace().map(str::to_owned).collect();
        let scopes = match granted {
            Some(granted) => granted.iter().map(|s| (*s).to_owned()).collect(),
            None => requested,
        };
        let mut fake = self.lock();
        let key = email.to_lowercase();
        assert!(fake.accounts.contains_key(&key), "the fake Google has no account {email}; call add_account first");
        let code = format!("4/0A{}", random_string(60));
        fake.codes.insert(
            code.clone(),
            PendingCode {
                email: key,
                redirect_uri: redirect_uri.to_owned(),
                challenge: challenge.to_owned(),
                scopes: scopes.clone(),
                offline: get("access_type") == Some("offline"),
                nonce: get("nonce").map(str::to_owned),
            },
        );
        callback
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", state)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("authuser", "0")
            .append_pair("prompt", "consent");
        callback.to_string()
    }

    /// Parses and remembers the query of an authorize URL; it must point at this fake's authorize endpoint.
    fn authorize_params(&self, authorize_url: &str) -> HashMap<String, String> {
        let parsed = url::Url::parse(authorize_url).unwrap_or_else(|e| panic!("not a URL: {authorize_url:?}: {e}"));
        let mut endpoint = parsed.clone();
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        assert_eq!(endpoint.as_str(), self.auth_url(), "the app sent the browser somewhere else: {authorize_url}");
        let params: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
        self.lock().last_authorize = params.clone();
        params
    }

    /// Revokes every grant of the account, as if the person removed the app in their Google account.
    pub fn revoke_grants(&self, email: &str) {
        let key = email.to_lowercase();
        for grant in self.lock().grants.iter_mut().filter(|g| g.email == key) {
            grant.revoked = true;
        }
    }

    /// Every current access token of the account stops working (401); refresh tokens keep working.
    pub fn expire_access_tokens(&self, email: &str) {
        let key = email.to_lowercase();
        let mut state = self.lock();
        let State { grants, access_tokens, .. } = &mut *state;
        for token in access_tokens.values_mut().filter(|t| grants[t.grant].email == key) {
            token.expired = true;
        }
    }

    /// Successful `refresh_token` grants of the account.
    pub fn refresh_count(&self, email: &str) -> usize {
        self.lock().account(email).refresh_count
    }

    /// Every token received at `/revoke`, in order, known or not.
    pub fn revoked_tokens(&self) -> Vec<String> {
        self.lock().revoked_tokens.clone()
    }

    /// The query of the last authorize URL given to `approve`, `approve_with_scopes` or `deny`.
    pub fn last_authorize_params(&self) -> HashMap<String, String> {
        self.lock().last_authorize.clone()
    }

    /// A new message in the inbox (labels INBOX and UNREAD) received now; returns its id.
    pub fn deliver(&self, email: &str, raw: &[u8]) -> String {
        self.deliver_message(email, raw, None)
    }

    /// Like `deliver`, with the time Gmail received it (its `internalDate`), for `newer_than:` listings.
    pub fn deliver_at(&self, email: &str, raw: &[u8], received: chrono::DateTime<chrono::Utc>) -> String {
        self.deliver_message(email, raw, Some(received.timestamp_millis()))
    }

    fn deliver_message(&self, email: &str, raw: &[u8], internal_date: Option<i64>) -> String {
        let mut state = self.lock();
        let id = state.new_message_id();
        let account = state.account_mut(email);
        account.add_message(id.clone(), id.clone(), vec!["INBOX".into(), "UNREAD".into()], raw.to_vec(), internal_date);
        id
    }

    /// The label ids of a message (empty when there is no such message).
    pub fn message_labels(&self, email: &str, id: &str) -> Vec<String> {
        self.lock().account(email).message(id).map(|m| m.labels.clone()).unwrap_or_default()
    }

    /// Names of the user labels, in creation order.
    pub fn label_names(&self, email: &str) -> Vec<String> {
        self.lock().account(email).user_labels.iter().map(|l| l.name.clone()).collect()
    }

    /// The name of a user label by id.
    pub fn label_name(&self, email: &str, id: &str) -> Option<String> {
        self.lock().account(email).user_labels.iter().find(|l| l.id == id).map(|l| l.name.clone())
    }

    /// Ids of the messages labelled INBOX, oldest delivery first.
    pub fn inbox_ids(&self, email: &str) -> Vec<String> {
        let state = self.lock();
        let account = state.account(email);
        account.messages.iter().filter(|m| m.has_label("INBOX")).map(|m| m.id.clone()).collect()
    }

    /// The raw RFC 822 messages received by `messages.send`, in order.
    pub fn sent_messages(&self, email: &str) -> Vec<Vec<u8>> {
        self.lock().account(email).sent.clone()
    }

    /// History before now is gone: `history.list` from an older start answers 404.
    pub fn expire_history(&self, email: &str) {
        let account = &mut *self.lock();
        let account = account.account_mut(email);
        account.history_floor = account.history_id;
    }

    /// Quota units spent by the account's Gmail calls that got past authentication, failed or not.
    pub fn quota_units(&self, email: &str) -> u64 {
        self.lock().account(email).quota
    }

    /// Authenticated Gmail calls of `method` ("getProfile", "history.list", "messages.list", "messages.get",
    /// "messages.batchModify", "labels.list", "labels.create", "messages.send"), failed ones included.
    pub fn calls(&self, email: &str, method: &str) -> usize {
        self.lock().account(email).calls.get(method).copied().unwrap_or(0)
    }

    /// The most Gmail requests of the account that were being served at the same moment.
    pub fn max_in_flight(&self, email: &str) -> usize {
        self.lock().account(email).max_in_flight
    }

    /// The number of ids of each accepted `batchModify`, in order.
    pub fn batch_modify_sizes(&self, email: &str) -> Vec<usize> {
        self.lock().account(email).batch_sizes.clone()
    }

    /// The next `times` Gmail requests of `method` answer `status`; 429 and 403 with Google's rate-limit
    /// body, and `Retry-After` when `retry_after_secs` is given. Faults queue up in the order they are set.
    pub fn fail_next(&self, method: &str, status: u16, retry_after_secs: Option<u64>, times: usize) {
        assert!(units(method) > 0, "no Gmail method {method:?} in the fake Google");
        let fault = Fault { status, retry_after: retry_after_secs, remaining: times };
        self.lock().faults.entry(method.to_owned()).or_default().push_back(fault);
    }

    /// From now on a share `rate` of all Gmail requests (after queued faults) fail at random, drawn
    /// from a generator seeded with `seed`: a third each 429 with `Retry-After: 1`, 500 and 503.
    pub fn fail_randomly(&self, rate: f64, seed: u64) {
        use rand::SeedableRng as _;
        let rng = rand::rngs::StdRng::seed_from_u64(seed);
        self.lock().random_faults = Some(RandomFaults { rate, rng, injected: 0 });
    }

    /// Stops `fail_randomly`; returns how many requests it failed.
    pub fn stop_failing_randomly(&self) -> usize {
        self.lock().random_faults.take().map_or(0, |faults| faults.injected)
    }

    /// How many accepted `batchModify` calls took each message out of the inbox, by message id.
    pub fn archive_counts(&self, email: &str) -> HashMap<String, usize> {
        self.lock().account(email).messages.iter().map(|m| (m.id.clone(), m.archive_count)).collect()
    }

    /// Every Gmail request of `method` waits `delay` (while counted in flight) before answering;
    /// `Duration::ZERO` removes the delay.
    pub fn set_delay(&self, method: &str, delay: Duration) {
        assert!(units(method) > 0, "no Gmail method {method:?} in the fake Google");
        let mut state = self.lock();
        if delay.is_zero() {
            state.delays.remove(method);
        } else {
            state.delays.insert(method.to_owned(), delay);
        }
    }

    /// The token endpoint answers `status` the next `times` times (before looking at the request, so
    /// an authorization code stays usable).
    pub fn fail_token_endpoint(&self, status: u16, times: usize) {
        self.lock().token_faults.push_back(Fault { status, retry_after: None, remaining: times });
    }
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; nobody needs to wait for it to finish.
        std::mem::drop(self.handle.stop(false));
    }
}

impl State {
    fn account(&self, email: &str) -> &Account {
        let key = email.to_lowercase();
        self.accounts.get(&key).unwrap_or_else(|| panic!("the fake Google has no account {email}"))
    }

    fn account_mut(&mut self, email: &str) -> &mut Account {
        let key = email.to_lowercase();
        self.accounts.get_mut(&key).unwrap_or_else(|| panic!("the fake Google has no account {email}"))
    }

    fn new_message_id(&mut self) -> String {
        self.next_message += 1;
        format!("{:016x}", self.next_message)
    }

    /// A new access token for the grant.
    fn issue_access_token(&mut self, grant: usize) -> String {
        let token = format!("ya29.{}", random_string(64));
        self.access_tokens.insert(token.clone(), AccessToken { grant, expired: false });
        token
    }

    /// The token endpoint's answer for a fresh access token of `grant`.
    fn token_response(&mut self, grant: usize, with_refresh_token: bool) -> Value {
        let access_token = self.issue_access_token(grant);
        let grant = &self.grants[grant];
        let account = &self.accounts[&grant.email];
        let mut body = json!({
            "access_token": access_token,
            "expires_in": 3599,
            "scope": grant.scopes.join(" "),
            "token_type": "Bearer",
            "id_token": id_token(account, grant.nonce.as_deref()),
        });
        if with_refresh_token && let Some(refresh) = &grant.refresh_token {
            body["refresh_token"] = json!(refresh);
        }
        body
    }

    /// The account and granted scopes of the request's bearer token; `None` calls for `unauthenticated()`.
    fn authenticate(&self, req: &HttpRequest) -> Option<(String, Vec<String>)> {
        let token = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let access = token.and_then(|t| self.access_tokens.get(t)).filter(|a| !a.expired);
        let grant = access.map(|a| &self.grants[a.grant]).filter(|g| !g.revoked)?;
        Some((grant.email.clone(), grant.scopes.clone()))
    }
}

impl Account {
    fn message(&self, id: &str) -> Option<&StoredMessage> {
        self.messages.iter().find(|m| m.id == id)
    }

    /// Adds a message and its history record; internal dates of "now" messages strictly increase so
    /// "newest first" is well defined.
    fn add_message(&mut self, id: String, thread_id: String, labels: Vec<String>, raw: Vec<u8>, date: Option<i64>) {
        let internal_date = date.unwrap_or_else(|| {
            let now = chrono::Utc::now().timestamp_millis().max(self.last_internal_date + 1);
            self.last_internal_date = now;
            now
        });
        self.history_id += 1;
        self.history.push(HistoryRecord {
            id: self.history_id,
            message_id: id.clone(),
            thread_id: thread_id.clone(),
            labels: labels.clone(),
        });
        let history_id = self.history_id;
        self.messages.push(StoredMessage { id, thread_id, labels, raw, internal_date, history_id, archive_count: 0 });
    }

    fn has_label_id(&self, id: &str) -> bool {
        SYSTEM_LABELS.contains(&id) || self.user_labels.iter().any(|l| l.id == id)
    }
}

impl StoredMessage {
    fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A failed assertion inside a handler must not take every later request down with it.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn random_string(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

fn required<'a>(params: &'a HashMap<String, String>, key: &str) -> &'a str {
    match params.get(key) {
        Some(value) if !value.is_empty() => value,
        _ => panic!("the authorize URL has no {key}: {params:?}"),
    }
}

/// An unsigned JWT with Google's claims; good enough for clients that only decode it.
fn id_token(account: &Account, nonce: Option<&str>) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": "https://accounts.google.com",
        "azp": CLIENT_ID,
        "aud": CLIENT_ID,
        "sub": account.sub,
        "email": account.email,
        "email_verified": true,
        "name": account.name,
        "iat": now,
        "exp": now + 3599,
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    let header = json!({"alg": "RS256", "kid": "fake-google", "typ": "JWT"});
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(b"not-a-signature")
    )
}

fn unauthenticated() -> HttpResponse {
    google_error(401, "Request had invalid authentication credentials.")
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Google APIs' error body, e.g. `{"error":{"code":404,"message":"…","errors":[…],"status":"NOT_FOUND"}}`.
fn google_error(code: u16, message: &str) -> HttpResponse {
    let (status_name, reason) = match code {
        400 => ("INVALID_ARGUMENT", "invalidArgument"),
        401 => ("UNAUTHENTICATED", "authError"),
        403 => ("PERMISSION_DENIED", "forbidden"),
        404 => ("NOT_FOUND", "notFound"),
        409 => ("ALREADY_EXISTS", "duplicate"),
        429 => ("RESOURCE_EXHAUSTED", "rateLimitExceeded"),
        503 => ("UNAVAILABLE", "backendError"),
        500..=599 => ("INTERNAL", "backendError"),
        _ => ("UNKNOWN", "unknown"),
    };
    google_error_with(code, message, reason, status_name)
}

fn google_error_with(code: u16, message: &str, reason: &str, status_name: &str) -> HttpResponse {
    HttpResponse::build(status(code)).json(json!({
        "error": {
            "code": code,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
            "status": status_name,
        }
    }))
}

/// The answer of an injected Gmail fault.
fn fault_response(fault: Fault) -> HttpResponse {
    let (message, domain, reason, status_name) = match fault.status {
        429 => ("Too many concurrent requests for user.", "usageLimits", "rateLimitExceeded", "RESOURCE_EXHAUSTED"),
        403 => ("User-rate limit exceeded.", "usageLimits", "userRateLimitExceeded", "PERMISSION_DENIED"),
        503 => ("The service is currently unavailable.", "global", "backendError", "UNAVAILABLE"),
        500..=599 => ("Backend Error", "global", "backendError", "INTERNAL"),
        _ => ("Injected failure.", "global", "failedPrecondition", "FAILED_PRECONDITION"),
    };
    let mut response = HttpResponse::build(status(fault.status));
    if let Some(seconds) = fault.retry_after {
        response.insert_header(("Retry-After", seconds.to_string()));
    }
    response.json(json!({
        "error": {
            "code": fault.status,
            "message": message,
            "errors": [{"domain": domain, "reason": reason, "message": message}],
            "status": status_name,
        }
    }))
}

/// Draws whether this request fails under `fail_randomly`, and how.
fn random_fault(state: &mut State) -> Option<Fault> {
    let faults = state.random_faults.as_mut()?;
    if !faults.rng.gen_bool(faults.rate) {
        return None;
    }
    faults.injected += 1;
    let (status, retry_after) = match faults.rng.gen_range(0..3) {
        0 => (429, Some(1)),
        1 => (500, None),
        _ => (503, None),
    };
    Some(Fault { status, retry_after, remaining: 0 })
}

/// Takes one use of the first queued fault.
fn take_fault(queue: &mut VecDeque<Fault>) -> Option<Fault> {
    while let Some(front) = queue.front_mut() {
        if front.remaining == 0 {
            queue.pop_front();
            continue;
        }
        front.remaining -= 1;
        return Some(*front);
    }
    None
}

/// Quota units of each Gmail method (Gmail API reference); 0 for methods the fake does not serve.
fn units(method: &str) -> u64 {
    match method {
        "getProfile" | "labels.list" => 1,
        "history.list" => 2,
        "messages.list" | "messages.get" | "labels.create" => 5,
        "messages.batchModify" => 50,
        "messages.send" => 100,
        _ => 0,
    }
}

/// Any one of these scopes allows the method.
fn allowed_scopes(method: &str) -> &'static [&'static str] {
    match method {
        "messages.batchModify" => &[SCOPE_MAIL, SCOPE_MODIFY],
        "labels.create" => &[SCOPE_MAIL, SCOPE_MODIFY, SCOPE_LABELS],
        "labels.list" => &[SCOPE_MAIL, SCOPE_MODIFY, SCOPE_READONLY, SCOPE_LABELS],
        "messages.send" => &[SCOPE_MAIL, SCOPE_MODIFY, SCOPE_SEND, SCOPE_COMPOSE],
        _ => &[SCOPE_MAIL, SCOPE_MODIFY, SCOPE_READONLY],
    }
}

fn first<'a>(query: &'a Query, key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn all<'a>(query: &'a Query, key: &str) -> Vec<&'a str> {
    query.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
}

/// Decodes `%XX` in a path segment (an address in place of `me` may come as `a%40b.c`).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn dispatch(req: HttpRequest, body: web::Bytes, state: web::Data<Mutex<State>>) -> HttpResponse {
    let state = state.into_inner();
    match (req.method().as_str(), req.path()) {
        ("POST", "/token") => return token(&mut lock(&state), &req, &body),
        ("POST", "/revoke") => return revoke(&mut lock(&state), &req, &body),
        ("GET", "/v1/userinfo") => return userinfo(&lock(&state), &req),
        _ => {}
    }
    match gmail_route(req.method().as_str(), req.path()) {
        Some(call) => gmail(state, req, call, body).await,
        None => google_error(404, &format!("The fake Google has no {} {}", req.method(), req.path())),
    }
}

/// OAuth errors of the token endpoint: `{"error":"…","error_description":"…"}`.
fn oauth_error(code: u16, error: &str, description: Option<&str>) -> HttpResponse {
    let mut body = json!({ "error": error });
    if let Some(description) = description {
        body["error_description"] = json!(description);
    }
    HttpResponse::build(status(code)).json(body)
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Client credentials from the form or from HTTP Basic authentication (both are allowed by RFC 6749).
fn client_credentials(req: &HttpRequest, form: &HashMap<String, String>) -> (Option<String>, Option<String>) {
    let basic = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v.trim()).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.split_once(':').map(|(id, secret)| (id.to_owned(), secret.to_owned())));
    match basic {
        Some((id, secret)) => (Some(decode_form_value(&id)), Some(decode_form_value(&secret))),
        None => (form.get("client_id").cloned(), form.get("client_secret").cloned()),
    }
}

/// Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1).
fn decode_form_value(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes()).map(|(_, v)| v.into_owned()).next().unwrap_or_default()
}

fn token(state: &mut State, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    if let Some(fault) = take_fault(&mut state.token_faults) {
        let error = match fault.status {
            500..=599 => "internal_failure",
            429 => "rate_limit_exceeded",
            _ => "invalid_request",
        };
        return oauth_error(fault.status, error, None);
    }
    let form = form(body);
    let (client_id, client_secret) = client_credentials(req, &form);
    if client_id.as_deref() != Some(CLIENT_ID) || client_secret.as_deref() != Some(CLIENT_SECRET) {
        return oauth_error(401, "invalid_client", Some("Unauthorized"));
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => exchange_code(state, &form),
        Some("refresh_token") => refresh(state, &form),
        Some(_) => oauth_error(400, "unsupported_grant_type", Some("Invalid grant_type")),
        None => oauth_error(400, "invalid_request", Some("Missing required parameter: grant_type")),
    }
}

fn exchange_code(state: &mut State, form: &HashMap<String, String>) -> HttpResponse {
    let Some(code) = form.get("code") else {
        return oauth_error(400, "invalid_request", Some("Missing required parameter: code"));
    };
    // Single use: any presentation of a code spends it.
    let Some(pending) = state.codes.remove(code) else {
        return oauth_error(400, "invalid_grant", Some("Bad Request"));
    };
    if form.get("redirect_uri") != Some(&pending.redirect_uri) {
        return oauth_error(400, "redirect_uri_mismatch", Some("Bad Request"));
    }
    let Some(verifier) = form.get("code_verifier") else {
        return oauth_error(400, "invalid_grant", Some("Missing code verifier."));
    };
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != pending.challenge {
        return oauth_error(400, "invalid_grant", Some("Bad Request"));
    }
    let refresh_token = pending.offline.then(|| format!("1//0{}", random_string(60)));
    state.grants.push(Grant {
        email: pending.email,
        scopes: pending.scopes,
        refresh_token,
        nonce: pending.nonce,
        revoked: false,
    });
    let grant = state.grants.len() - 1;
    HttpResponse::Ok().json(state.token_response(grant, true))
}

fn refresh(state: &mut State, form: &HashMap<String, String>) -> HttpResponse {
    let Some(refresh_token) = form.get("refresh_token") else {
        return oauth_error(400, "invalid_request", Some("Missing required parameter: refresh_token"));
    };
    let grant = state.grants.iter().position(|g| !g.revoked && g.refresh_token.as_ref() == Some(refresh_token));
    let Some(grant) = grant else {
        return oauth_error(400, "invalid_grant", Some("Token has been expired or revoked."));
    };
    let email = state.grants[grant].email.clone();
    state.account_mut(&email).refresh_count += 1;
    HttpResponse::Ok().json(state.token_response(grant, false))
}

fn revoke(state: &mut State, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    // Google takes the token from the form or from the query string.
    let query = form(req.query_string().as_bytes());
    let Some(token) = form(body).get("token").or(query.get("token")).cloned() else {
        return oauth_error(400, "invalid_request", Some("Missing required parameter: token"));
    };
    state.revoked_tokens.push(token.clone());
    let grant = match state.access_tokens.get(&token) {
        Some(access) => Some(access.grant),
        None => state.grants.iter().position(|g| g.refresh_token.as_ref() == Some(&token)),
    };
    match grant.filter(|g| !state.grants[*g].revoked) {
        Some(grant) => {
            state.grants[grant].revoked = true;
            HttpResponse::Ok().json(json!({}))
        }
        None => oauth_error(400, "invalid_token", Some("Token expired or revoked")),
    }
}

fn userinfo(state: &State, req: &HttpRequest) -> HttpResponse {
    match state.authenticate(req) {
        Some((email, _)) => {
            let account = state.account(&email);
            HttpResponse::Ok().json(json!({
                "sub": account.sub,
                "email": account.email,
                "email_verified": true,
                "name": account.name,
                "picture": "https://example.invalid/p.png",
            }))
        }
        None => unauthenticated(),
    }
}

/// The Gmail method of a path under `/gmail/v1/users/{user}/` or `/upload/gmail/v1/users/{user}/`.
fn gmail_route(method: &str, path: &str) -> Option<GmailCall> {
    let (is_upload, rest) = match (path.strip_prefix("/gmail/v1/users/"), path.strip_prefix("/upload/gmail/v1/users/"))
    {
        (Some(rest), _) => (false, rest),
        (_, Some(rest)) => (true, rest),
        _ => return None,
    };
    let mut segments = rest.split('/');
    let user = percent_decode(segments.next()?);
    let tail: Vec<&str> = segments.collect();
    let (name, message_id) = match (method, tail.as_slice(), is_upload) {
        ("GET", ["profile"], false) => ("getProfile", None),
        ("GET", ["history"], false) => ("history.list", None),
        ("GET", ["messages"], false) => ("messages.list", None),
        ("POST", ["messages", "batchModify"], false) => ("messages.batchModify", None),
        ("GET", ["messages", id], false) => ("messages.get", Some(percent_decode(id))),
        ("POST", ["messages", "send"], _) => ("messages.send", None),
        ("GET", ["labels"], false) => ("labels.list", None),
        ("POST", ["labels"], false) => ("labels.create", None),
        _ => return None,
    };
    Some(GmailCall { method: name, user, message_id, is_upload })
}

/// Decrements the account's in-flight count when a request ends, however it ends.
struct InFlight {
    state: Arc<Mutex<State>>,
    email: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(account) = lock(&self.state).accounts.get_mut(&self.email) {
            account.in_flight -= 1;
        }
    }
}

async fn gmail(state: Arc<Mutex<State>>, req: HttpRequest, call: GmailCall, body: web::Bytes) -> HttpResponse {
    let (email, delay, fault) = {
        let mut fake = lock(&state);
        let Some((email, scopes)) = fake.authenticate(&req) else {
            return unauthenticated();
        };
        if call.user != "me" && !call.user.eq_ignore_ascii_case(&email) {
            return google_error(403, &format!("Delegation denied for {email}"));
        }
        if !allowed_scopes(call.method).iter().any(|allowed| scopes.iter().any(|s| s == allowed)) {
            return google_error_with(
                403,
                "Request had insufficient authentication scopes.",
                "insufficientPermissions",
                "PERMISSION_DENIED",
            );
        }
        let delay = fake.delays.get(call.method).copied();
        let queued = fake.faults.get_mut(call.method).and_then(take_fault);
        let fault = queued.or_else(|| random_fault(&mut fake));
        let account = fake.account_mut(&email);
        account.quota += units(call.method);
        *account.calls.entry(call.method.to_owned()).or_default() += 1;
        account.in_flight += 1;
        account.max_in_flight = account.max_in_flight.max(account.in_flight);
        (email, delay, fault)
    };
    let _in_flight = InFlight { state: state.clone(), email: email.clone() };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(fault) = fault {
        return fault_response(fault);
    }
    let query: Query = url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    let mut fake = lock(&state);
    let sent_id = if call.method == "messages.send" { fake.new_message_id() } else { String::new() };
    let account = fake.account_mut(&email);
    match call.method {
        "getProfile" => profile(account),
        "history.list" => history_list(account, &query),
        "messages.list" => messages_list(account, &query),
        "messages.get" => messages_get(account, call.message_id.as_deref().unwrap_or_default(), &query),
        "messages.batchModify" => batch_modify(account, &body),
        "labels.list" => labels_list(account),
        "labels.create" => labels_create(account, &body),
        "messages.send" => messages_send(account, sent_id, &req, &query, &body, call.is_upload),
        other => google_error(404, &format!("The fake Google does not serve {other}")),
    }
}

fn profile(account: &Account) -> HttpResponse {
    let mut threads: Vec<&str> = account.messages.iter().map(|m| m.thread_id.as_str()).collect();
    threads.sort_unstable();
    threads.dedup();
    HttpResponse::Ok().json(json!({
        "emailAddress": account.email,
        "messagesTotal": account.messages.len(),
        "threadsTotal": threads.len(),
        "historyId": account.history_id.to_string(),
    }))
}

/// `maxResults`: default 100, at most 500; `None` when it is no number.
fn max_results(query: &Query) -> Option<usize> {
    first(query, "maxResults").map_or(Some(100), |value| value.parse::<usize>().ok().map(|n| n.clamp(1, 500)))
}

fn history_list(account: &Account, query: &Query) -> HttpResponse {
    let Some(start) = first(query, "startHistoryId") else {
        return google_error(400, "Missing required parameter: startHistoryId");
    };
    let Ok(start) = start.parse::<u64>() else {
        return google_error(400, &format!("Invalid value for startHistoryId: {start}"));
    };
    if start < account.history_floor {
        return google_error(404, "Requested entity was not found.");
    }
    let Some(max) = max_results(query) else {
        return google_error(400, "Invalid value for maxResults");
    };
    // The page token is the id of the last record of the previous page.
    let after = match first(query, "pageToken").map(str::parse::<u64>) {
        None => start,
        Some(Ok(token)) => token.max(start),
        Some(Err(_)) => return google_error(400, "Invalid pageToken"),
    };
    let label = first(query, "labelId");
    let types = all(query, "historyTypes");
    // Only messageAdded records exist in the fake.
    let is_wanted = types.is_empty() || types.contains(&"messageAdded");
    let matching: Vec<&HistoryRecord> = account
        .history
        .iter()
        .filter(|r| is_wanted && r.id > after && label.is_none_or(|l| r.labels.iter().any(|x| x == l)))
        .collect();
    let page = &matching[..matching.len().min(max)];
    let mut body = json!({ "historyId": account.history_id.to_string() });
    if !page.is_empty() {
        let records: Vec<Value> = page
            .iter()
            .map(|r| {
                json!({
                    "id": r.id.to_string(),
                    "messages": [{"id": r.message_id, "threadId": r.thread_id}],
                    "messagesAdded": [{"message": {"id": r.message_id, "threadId": r.thread_id, "labelIds": r.labels}}],
                })
            })
            .collect();
        body["history"] = json!(records);
    }
    if matching.len() > max
        && let Some(last) = page.last()
    {
        body["nextPageToken"] = json!(last.id.to_string());
    }
    HttpResponse::Ok().json(body)
}

/// `newer_than:N{d,m,y}` of a Gmail search, as a cut-off in ms since the epoch; other terms are ignored.
fn newer_than(q: &str) -> Option<i64> {
    q.split_whitespace().filter_map(|term| term.strip_prefix("newer_than:")).find_map(|spec| {
        let (number, unit) = spec.split_at(spec.len().checked_sub(1)?);
        let days = match unit {
            "d" => 1,
            "m" => 30,
            "y" => 365,
            _ => return None,
        };
        let days = number.parse::<i64>().ok()? * days;
        Some(chrono::Utc::now().timestamp_millis() - days * 86_400_000)
    })
}

fn messages_list(account: &Account, query: &Query) -> HttpResponse {
    let labels = all(query, "labelIds");
    let include_spam_trash = first(query, "includeSpamTrash") == Some("true");
    let cutoff = first(query, "q").and_then(newer_than);
    let Some(max) = max_results(query) else {
        return google_error(400, "Invalid value for maxResults");
    };
    let offset = match first(query, "pageToken").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(offset)) => offset,
        Some(Err(_)) => return google_error(400, "Invalid pageToken"),
    };
    // Newest first by the time Gmail received them; later deliveries first among equal times.
    let mut newest_first: Vec<(usize, &StoredMessage)> = account.messages.iter().enumerate().collect();
    newest_first.sort_by_key(|(index, m)| std::cmp::Reverse((m.internal_date, *index)));
    let matching: Vec<&StoredMessage> = newest_first
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| labels.iter().all(|l| m.has_label(l)))
        .filter(|m| {
            include_spam_trash
                || labels.iter().any(|l| *l == "SPAM" || *l == "TRASH")
                || !(m.has_label("SPAM") || m.has_label("TRASH"))
        })
        .filter(|m| cutoff.is_none_or(|cutoff| m.internal_date >= cutoff))
        .collect();
    let page: Vec<Value> =
        matching.iter().skip(offset).take(max).map(|m| json!({"id": m.id, "threadId": m.thread_id})).collect();
    let mut body = json!({ "resultSizeEstimate": matching.len() });
    if !page.is_empty() {
        body["messages"] = json!(page);
    }
    if matching.len() > offset + max {
        body["nextPageToken"] = json!((offset + max).to_string());
    }
    HttpResponse::Ok().json(body)
}

/// The top-level header fields of a raw message, unfolded.
fn header_fields(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    fields
}

fn messages_get(account: &Account, id: &str, query: &Query) -> HttpResponse {
    let Some(message) = account.message(id) else {
        return google_error(404, "Requested entity was not found.");
    };
    let mut body = json!({
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": message.labels,
        "snippet": "",
        "historyId": message.history_id.to_string(),
        "internalDate": message.internal_date.to_string(),
        "sizeEstimate": message.raw.len(),
    });
    match first(query, "format").unwrap_or("full") {
        // google-gmail1 decodes `raw` with URL_SAFE (padding required), then STANDARD.
        "raw" => body["raw"] = json!(URL_SAFE.encode(&message.raw)),
        "minimal" => {}
        format => {
            let wanted: Vec<String> = all(query, "metadataHeaders").iter().map(|h| h.to_lowercase()).collect();
            let headers: Vec<Value> = header_fields(&message.raw)
                .into_iter()
                .filter(|(name, _)| format != "metadata" || wanted.is_empty() || wanted.contains(&name.to_lowercase()))
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect();
            let mime_type = header_fields(&message.raw)
                .into_iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
                .map(|(_, value)| value.split(';').next().unwrap_or_default().trim().to_lowercase())
                .unwrap_or_else(|| "text/plain".into());
            body["payload"] = json!({"partId": "", "mimeType": mime_type, "filename": "", "headers": headers});
        }
    }
    HttpResponse::Ok().json(body)
}

fn string_list(value: &Value, key: &str) -> Vec<String> {
    value[key].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn batch_modify(account: &mut Account, body: &[u8]) -> HttpResponse {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return google_error(400, "Invalid JSON payload received.");
    };
    let ids = string_list(&request, "ids");
    let add = string_list(&request, "addLabelIds");
    let remove = string_list(&request, "removeLabelIds");
    if ids.is_empty() {
        return google_error(400, "No message ids specified.");
    }
    if ids.len() > BATCH_MODIFY_MAX {
        return google_error(400, &format!("Too many ids: {} (at most {BATCH_MODIFY_MAX})", ids.len()));
    }
    if let Some(unknown) = add.iter().find(|l| !account.has_label_id(l)) {
        return google_error(400, &format!("Invalid label: {unknown}"));
    }
    let is_archive = remove.iter().any(|l| l == "INBOX");
    for message in account.messages.iter_mut().filter(|m| ids.contains(&m.id)) {
        if is_archive {
            message.archive_count += 1;
        }
        for label in &add {
            if !message.has_label(label) {
                message.labels.push(label.clone());
            }
        }
        message.labels.retain(|l| !remove.contains(l));
    }
    account.batch_sizes.push(ids.len());
    HttpResponse::NoContent().finish()
}

fn labels_list(account: &Account) -> HttpResponse {
    let system = SYSTEM_LABELS.iter().map(|id| json!({"id": id, "name": id, "type": "system"}));
    let user = account.user_labels.iter().map(label_json);
    HttpResponse::Ok().json(json!({ "labels": system.chain(user).collect::<Vec<_>>() }))
}

fn label_json(label: &UserLabel) -> Value {
    json!({
        "id": label.id,
        "name": label.name,
        "type": "user",
        "labelListVisibility": label.label_list_visibility,
        "messageListVisibility": label.message_list_visibility,
    })
}

fn labels_create(account: &mut Account, body: &[u8]) -> HttpResponse {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return google_error(400, "Invalid JSON payload received.");
    };
    let name = request["name"].as_str().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return google_error(400, "Invalid label name");
    }
    let exists = SYSTEM_LABELS.iter().any(|s| s.eq_ignore_ascii_case(name))
        || account.user_labels.iter().any(|l| l.name.to_lowercase() == name.to_lowercase());
    if exists {
        return google_error(409, "Label name exists or conflicts");
    }
    let visibility = |key: &str, default: &str| request[key].as_str().unwrap_or(default).to_owned();
    let label = UserLabel {
        id: format!("Label_{}", account.next_label),
        name: name.to_owned(),
        label_list_visibility: visibility("labelListVisibility", "labelShow"),
        message_list_visibility: visibility("messageListVisibility", "show"),
    };
    account.next_label += 1;
    let body = label_json(&label);
    account.user_labels.push(label);
    HttpResponse::Ok().json(body)
}

/// The `boundary` parameter of a multipart content type.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// The parts of a `multipart/related` body (RFC 2046): each part's lower-cased headers and body.
/// google-gmail1 starts the body with CRLF before the first delimiter, which this accepts too.
fn multipart_parts(body: &[u8], boundary: &str) -> Vec<(HashMap<String, String>, Vec<u8>)> {
    let mut text = b"\r\n".to_vec();
    text.extend_from_slice(body);
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let Some(mut at) = find(&text, &delimiter, 0) else { return parts };
    loop {
        let start = at + delimiter.len();
        if text.get(start..start + 2) == Some(b"--") {
            break;
        }
        let Some(next) = find(&text, &delimiter, start) else { break };
        // Skip transport padding up to the line end after the delimiter.
        let Some(line_end) = find(&text, b"\r\n", start).filter(|e| *e <= next) else { break };
        let content = &text[line_end + 2..next];
        let (head, part_body) = match find(content, b"\r\n\r\n", 0) {
            Some(split) => (&content[..split], &content[split + 4..]),
            // No headers at all: the part starts with the blank line.
            None if content.starts_with(b"\r\n") => (&content[..0], &content[2..]),
            None => (content, &content[content.len()..]),
        };
        let headers = String::from_utf8_lossy(head)
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
            .collect();
        parts.push((headers, part_body.to_vec()));
        at = next;
    }
    parts
}

fn messages_send(
    account: &mut Account,
    id: String,
    req: &HttpRequest,
    query: &Query,
    body: &[u8],
    is_upload: bool,
) -> HttpResponse {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mime = content_type.split(';').next().unwrap_or_default().trim().to_lowercase();
    let (metadata, raw) = if !is_upload {
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return google_error(400, "Invalid JSON payload received.");
        };
        let raw = request["raw"].as_str().map(|r| URL_SAFE_ANY_PADDING.decode(r).or_else(|_| STANDARD.decode(r)));
        match raw {
            Some(Ok(raw)) => (request, raw),
            Some(Err(_)) => return google_error(400, "Invalid value for ByteString: raw"),
            None => {
                return google_error(
                    400,
                    "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
                );
            }
        }
    } else {
        match first(query, "uploadType") {
            Some("multipart") => {
                let Some(boundary) = boundary(&content_type).filter(|_| mime == "multipart/related") else {
                    return google_error(
                        400,
                        &format!("A multipart upload needs multipart/related, got {content_type:?}"),
                    );
                };
                let parts = multipart_parts(body, &boundary);
                let metadata = parts
                    .iter()
                    .find(|(h, _)| h.get("content-type").is_some_and(|t| t.starts_with("application/json")))
                    .and_then(|(_, b)| serde_json::from_slice::<Value>(b).ok())
                    .unwrap_or_else(|| json!({}));
                let media = parts
                    .into_iter()
                    .find(|(h, _)| !h.get("content-type").is_some_and(|t| t.starts_with("application/json")));
                match media {
                    Some((_, raw)) => (metadata, raw),
                    None => return google_error(400, "The multipart upload has no message part."),
                }
            }
            Some("media") => (json!({}), body.to_vec()),
            other => return google_error(400, &format!("The fake Google does not support uploadType {other:?}")),
        }
    };
    if raw.is_empty() {
        return google_error(400, "Recipient address required");
    }
    let thread_id = metadata["threadId"].as_str().map_or_else(|| id.clone(), str::to_owned);
    account.sent.push(raw.clone());
    account.add_message(id.clone(), thread_id.clone(), vec!["SENT".into()], raw, None);
    HttpResponse::Ok().json(json!({"id": id, "threadId": thread_id, "labelIds": ["SENT"]}))
}
