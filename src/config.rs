//! The typed `Config`, built once at start from defaults, `emailgator.toml`, `EMAILGATOR__SECTION__KEY`
//! variables and the well-known names ops already use. Every problem is reported at once.
//! This is the only module that reads the process environment.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

mod unsubscribe;

pub use unsubscribe::UnsubscribeConfig;

/// Development generates missing secrets; production refuses to start without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Development,
    Production,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub data_dir: PathBuf,
    /// Names this process in job leases and the cron leader lease.
    pub instance_id: String,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub jobs: JobsConfig,
    pub cron: CronConfig,
    pub security: SecurityConfig,
    pub local: LocalConfig,
    pub google: GoogleConfig,
    pub openai: OpenAiConfig,
    pub sorting: SortingConfig,
    pub sidecar: SidecarConfig,
    pub unsubscribe: UnsubscribeConfig,
    pub graphql: GraphqlConfig,
    pub sentry_dsn: Option<SecretString>,
    pub log: LogConfig,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    /// The address people use; when unset it is derived from the bound port.
    pub public_url: Option<Url>,
    pub session_idle: Duration,
    pub session_absolute: Duration,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    pub pool_size: u32,
    pub connect_timeout: Duration,
    /// Off behind a transaction-mode pooler (PgBouncer, Supabase port 6543).
    pub is_statement_cache_enabled: bool,
    pub is_migrate_on_start: bool,
    /// A connection that holds a whole session (direct, or a session-mode pooler) for `emailgator migrate`
    /// when `url` goes through a transaction-mode pooler, which cannot hold the migration lock.
    pub migration_url: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct JobsConfig {
    pub is_enabled: bool,
    /// Queue name → number of jobs of that queue run at once by this instance.
    pub queues: BTreeMap<String, usize>,
    pub poll_interval: Duration,
    pub lease: Duration,
    pub rescue_interval: Duration,
    pub shutdown_grace: Duration,
    pub prune_after: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub default_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct CronConfig {
    pub is_enabled: bool,
    /// Schedule name → six-field cron expression (seconds first, UTC).
    pub schedules: BTreeMap<String, String>,
    pub leader_lease: Duration,
}

#[derive(Debug, Clone)]
pub struct SecurityConfig {
    pub secret_key_base: SecretString,
    /// Newest first; the first encrypts, all decrypt.
    pub encryption_keys: Vec<EncryptionKey>,
    pub admin_emails: Vec<String>,
}

#[derive(Clone)]
pub struct EncryptionKey {
    pub id: String,
    pub key: secrecy::SecretSlice<u8>,
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey({}, [redacted])", self.id)
    }
}

#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The address of the owner signed in by the one-time local link.
    pub owner_email: String,
    pub login_link_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct GoogleConfig {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// Where Google sends people back; `public_url` + `/auth/google/callback` when unset.
    pub redirect_url: Option<Url>,
    /// Google's addresses by default; tests point them at fakes on 127.0.0.1.
    pub auth_url: Url,
    pub token_url: Url,
    pub revoke_url: Url,
    pub userinfo_url: Url,
    /// The Gmail API root, with a trailing slash.
    pub gmail_base_url: Url,
    pub gmail: GmailConfig,
}

/// How EmailGator uses each connected Gmail account.
#[derive(Debug, Clone)]
pub struct GmailConfig {
    /// The first sync (and a sync after the cursor expired) imports the inbox of the last days…
    pub backfill_days: u32,
    /// …up to this many messages.
    pub backfill_max: u32,
    /// Quota units per second spent on one account at most (Google allows 250).
    pub quota_units_per_second: u32,
    /// Requests in flight per account at most (Google answers 429 above a handful).
    pub max_in_flight: usize,
    /// Adds an `EmailGator/<category>` label when archiving.
    pub is_category_labels_enabled: bool,
    pub request_timeout: Duration,
}

impl GoogleConfig {
    pub fn is_configured(&self) -> bool {
        self.client_id.is_some() && self.client_secret.is_some()
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    pub api_key: Option<SecretString>,
    /// Any OpenAI-compatible server; OpenAI's when unset.
    pub base_url: Option<Url>,
    pub model: String,
    /// Emails per request.
    pub batch_size: usize,
    /// Characters of each cleaned email body sent to the model.
    pub max_body_chars: usize,
    pub timeout: Duration,
    /// Dollars per million tokens, for the cost estimate.
    pub price_input_per_million: f64,
    pub price_output_per_million: f64,
}

/// How emails are sorted.
#[derive(Debug, Clone)]
pub struct SortingConfig {
    /// `hybrid`, `llm` or `local`; users may choose otherwise in their settings.
    pub mode: SortingMode,
    /// Below this confidence an email waits in *Needs review* instead of being archived.
    pub confidence_threshold: f64,
    /// Emails from one sender (or list) sorted alike this many times decide the next one.
    pub sender_memory_threshold: i64,
    /// Sorted emails are archived in batches this long after the first of them was sorted.
    pub archive_delay: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortingMode {
    /// Sender memory, then the LLM, then the local sorter for whatever is left.
    Hybrid,
    /// Sender memory, then the LLM; what it cannot place waits for review.
    Llm,
    /// Sender memory and the local sorter, no network.
    Local,
}

impl SortingMode {
    pub fn parse(text: &str) -> Option<SortingMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "hybrid" => Some(SortingMode::Hybrid),
            "llm" => Some(SortingMode::Llm),
            "local" => Some(SortingMode::Local),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SortingMode::Hybrid => "hybrid",
            SortingMode::Llm => "llm",
            SortingMode::Local => "local",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SidecarConfig {
    pub url: Option<Url>,
    pub token: Option<SecretString>,
}

/// Deepest GraphQL document by default: real queries of this schema nest about 6 levels.
pub const DEFAULT_GRAPHQL_MAX_DEPTH: usize = 12;
/// …and while introspection is on: the introspection query GraphiQL sends nests 18.
pub const DEFAULT_GRAPHQL_MAX_DEPTH_WITH_INTROSPECTION: usize = 20;
/// Most fields per GraphQL operation by default (the introspection query has about 230).
pub const DEFAULT_GRAPHQL_MAX_FIELDS: usize = 500;

/// The GraphQL API at `/api/graphql`.
#[derive(Debug, Clone)]
pub struct GraphqlConfig {
    /// Serves GraphiQL at `/api/graphiql` (it loads its scripts from esm.sh); off by default.
    pub is_graphiql_enabled: bool,
    /// Answers `__schema` and `__type`: on in development, off in production unless enabled.
    pub is_introspection_enabled: bool,
    /// Deepest nesting of selections, fragments and input values a document may have.
    pub max_depth: usize,
    /// Most fields an operation may select (fragments counted at each spread).
    pub max_fields: usize,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub filter: String,
    pub is_json: bool,
}

/// Every problem found in the settings, reported together.
#[derive(Debug)]
pub struct ConfigProblems(pub Vec<String>);

impl fmt::Display for ConfigProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "EmailGator cannot start; fix these settings:")?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigProblems {}

/// Reads settings one key at a time, collecting every problem instead of stopping at the first.
struct Reader {
    settings: config::Config,
    problems: Vec<String>,
}

impl Reader {
    fn get<T: serde::de::DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        match self.settings.get::<T>(key) {
            Ok(value) => Some(value),
            Err(config::ConfigError::NotFound(_)) => None,
            Err(error) => {
                let variable = WELL_KNOWN.iter().find(|(_, k)| *k == key).map(|(name, _)| format!("{name} or "));
                let env = format!("EMAILGATOR__{}", key.to_ascii_uppercase().replace('.', "__"));
                self.problems.push(format!("{key} ({}{env}): {error}", variable.unwrap_or_default()));
                None
            }
        }
    }

    fn text(&mut self, key: &str) -> Option<String> {
        self.get::<String>(key).filter(|v| !v.trim().is_empty())
    }
}

/// Well-known variable → the setting it fills. They win over `EMAILGATOR__…` values.
const WELL_KNOWN: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("DATABASE_MIGRATION_URL", "database.migration_url"),
    ("PORT", "server.port"),
    ("PUBLIC_URL", "server.public_url"),
    ("SECRET_KEY_BASE", "security.secret_key_base"),
    ("ENCRYPTION_KEYS", "security.encryption_keys"),
    ("ADMIN_EMAILS", "security.admin_emails"),
    ("GOOGLE_CLIENT_ID", "google.client_id"),
    ("GOOGLE_CLIENT_SECRET", "google.client_secret"),
    ("GOOGLE_OAUTH_REDIRECT_URL", "google.redirect_url"),
    ("OPENAI_API_KEY", "openai.api_key"),
    ("OPENAI_BASE_URL", "openai.base_url"),
    ("SIDECAR_URL", "sidecar.url"),
    ("SIDECAR_TOKEN", "sidecar.token"),
    ("ALLOWLIST_DOMAINS", "unsubscribe.allowlist_domains"),
    ("SENTRY_DSN", "sentry_dsn"),
    ("RUST_LOG", "log.filter"),
];

/// The built-in schedules: name → cron expression (seconds first).
pub const DEFAULT_SCHEDULES: &[(&str, &str)] =
    &[("poll", "0 */2 * * * *"), ("prune", "0 17 3 * * *"), ("reencrypt", "0 47 3 * * *")];

/// The built-in queues and how many jobs of each run at once.
pub const DEFAULT_QUEUES: &[(&str, usize)] = &[("default", 4), ("maintenance", 1), ("unsubscribe", 2)];

impl Config {
    /// Loads from the process environment and `emailgator.toml` (or the given file).
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigProblems> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::from_sources(file, &env)
    }

    /// Loads from an explicit environment map: the one path for production and tests.
    pub fn from_sources(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Config, ConfigProblems> {
        let settings = read(file, env)?;
        let hostname =
            env.get("FLY_MACHINE_ID").or_else(|| env.get("HOSTNAME")).cloned().unwrap_or_else(|| "local".to_owned());
        validate(Reader { settings, problems: Vec::new() }, &hostname, env.get("PHX_HOST").cloned())
    }

    /// The database URL with any password hidden, for logs.
    pub fn redacted_database_url(&self) -> String {
        redact_url(self.database.url.expose_secret())
    }

    /// A one-line-per-setting summary with every secret replaced by `set`/`unset`.
    pub fn redacted_summary(&self) -> String {
        let secret = |s: &Option<SecretString>| if s.is_some() { "set" } else { "unset" };
        format!(
            "mode={:?} instance={} data_dir={} listen={}:{} public_url={} database={} pool_size={} \
             statement_cache={} queues={:?} cron={:?} admins={} encryption_keys={} google={} openai_key={} \
             openai_base_url={} sidecar={} graphiql={} introspection={} sentry={}",
            self.mode,
            self.instance_id,
            self.data_dir.display(),
            self.server.host,
            self.server.port,
            self.server.public_url.as_ref().map_or("(derived)".into(), Url::to_string),
            self.redacted_database_url(),
            self.database.pool_size,
            self.database.is_statement_cache_enabled,
            self.jobs.queues,
            self.cron.schedules,
            self.security.admin_emails.len(),
            self.security.encryption_keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(","),
            if self.google.is_configured() { "configured" } else { "local sign-in" },
            secret(&self.openai.api_key),
            self.openai.base_url.as_ref().map_or("default".into(), Url::to_string),
            self.sidecar.url.as_ref().map_or("in-process".into(), Url::to_string),
            self.graphql.is_graphiql_enabled,
            self.graphql.is_introspection_enabled,
            secret(&self.sentry_dsn),
        )
    }

    /// The address people use: the configured public URL, else this machine at `port`.
    pub fn public_url_for_port(&self, port: u16) -> Result<Url, url::ParseError> {
        if let Some(url) = &self.server.public_url {
            return Ok(url.clone());
        }
        let host = if self.server.host == "0.0.0.0" { "localhost" } else { self.server.host.as_str() };
        Url::parse(&format!("http://{host}:{port}/"))
    }

    pub fn is_admin_email(&self, email: &str) -> bool {
        self.security.admin_emails.iter().any(|admin| admin.eq_ignore_ascii_case(email))
    }
}

fn read(file: Option<&Path>, env: &HashMap<String, String>) -> Result<config::Config, ConfigProblems> {
    let mut builder = config::Config::builder();
    match file {
        Some(path) => builder = builder.add_source(config::File::from(path).required(true)),
        None => builder = builder.add_source(config::File::with_name("emailgator").required(false)),
    }
    let prefixed: HashMap<String, String> =
        env.iter().filter(|(k, _)| k.starts_with("EMAILGATOR__")).map(|(k, v)| (k.clone(), v.clone())).collect();
    builder = builder.add_source(
        config::Environment::with_prefix("EMAILGATOR")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(Some(prefixed)),
    );
    for (name, key) in WELL_KNOWN {
        if let Some(value) = env.get(*name).filter(|v| !v.trim().is_empty()) {
            builder =
                builder.set_override(*key, value.clone()).map_err(|e| ConfigProblems(vec![format!("{name}: {e}")]))?;
        }
    }
    builder.build().map_err(|e| ConfigProblems(vec![e.to_string()]))
}

fn validate(mut r: Reader, hostname: &str, phx_host: Option<String>) -> Result<Config, ConfigProblems> {
    let server_public_url = r.text("server.public_url");
    let mode = r.text("mode");
    let data_dir = r.text("data_dir");
    let database_url = r.text("database.url");
    let database_migration_url = r.text("database.migration_url");
    let database_pool_size = r.get::<u32>("database.pool_size");
    let jobs_queues = r.get::<BTreeMap<String, usize>>("jobs.queues");
    let cron_schedules = r.get::<BTreeMap<String, String>>("cron.schedules");
    let security_secret_key_base = r.text("security.secret_key_base");
    let security_encryption_keys = r.text("security.encryption_keys");
    let security_admin_emails = r.text("security.admin_emails");
    let google_client_id = r.text("google.client_id");
    let google_client_secret = r.text("google.client_secret");
    let google_redirect_url = r.text("google.redirect_url");
    let google_auth_url = r.text("google.auth_url");
    let google_token_url = r.text("google.token_url");
    let google_revoke_url = r.text("google.revoke_url");
    let google_userinfo_url = r.text("google.userinfo_url");
    let google_gmail_base_url = r.text("google.gmail_base_url");
    let gmail_backfill_days = r.get::<u32>("gmail.backfill_days");
    let gmail_backfill_max = r.get::<u32>("gmail.backfill_max");
    let gmail_quota_units_per_second = r.get::<u32>("gmail.quota_units_per_second");
    let gmail_max_in_flight = r.get::<usize>("gmail.max_in_flight");
    let gmail_category_labels = r.get::<bool>("gmail.category_labels");
    let gmail_request_timeout_secs = r.get::<u64>("gmail.request_timeout_secs");
    let graphql_graphiql = r.get::<bool>("graphql.graphiql");
    let graphql_introspection = r.get::<bool>("graphql.introspection");
    let graphql_max_depth = r.get::<usize>("graphql.max_depth");
    let graphql_max_fields = r.get::<usize>("graphql.max_fields");
    let sidecar_url = r.text("sidecar.url");
    let sidecar_token = r.text("sidecar.token");
    let openai_api_key = r.text("openai.api_key");
    let openai_base_url = r.text("openai.base_url");
    let openai_model = r.text("openai.model");
    let openai_batch_size = r.get::<usize>("openai.batch_size");
    let openai_max_body_chars = r.get::<usize>("openai.max_body_chars");
    let openai_timeout_secs = r.get::<u64>("openai.timeout_secs");
    let openai_price_input = r.get::<f64>("openai.price_input_per_million");
    let openai_price_output = r.get::<f64>("openai.price_output_per_million");
    let sorting_mode = r.text("sorting.mode");
    let sorting_confidence_threshold = r.get::<f64>("sorting.confidence_threshold");
    let sorting_sender_memory_threshold = r.get::<i64>("sorting.sender_memory_threshold");
    let sorting_archive_delay_secs = r.get::<u64>("sorting.archive_delay_secs");
    let local_owner_email = r.text("local.owner_email");
    let server_host = r.text("server.host");
    let server_port = r.get::<u16>("server.port");
    let server_session_idle_minutes = r.get::<u64>("server.session_idle_minutes");
    let server_session_absolute_hours = r.get::<u64>("server.session_absolute_hours");
    let database_connect_timeout_secs = r.get::<u64>("database.connect_timeout_secs");
    let database_statement_cache = r.get::<bool>("database.statement_cache");
    let database_migrate_on_start = r.get::<bool>("database.migrate_on_start");
    let jobs_enabled = r.get::<bool>("jobs.enabled");
    let jobs_poll_interval_ms = r.get::<u64>("jobs.poll_interval_ms");
    let jobs_lease_secs = r.get::<u64>("jobs.lease_secs");
    let jobs_rescue_interval_secs = r.get::<u64>("jobs.rescue_interval_secs");
    let jobs_shutdown_grace_secs = r.get::<u64>("jobs.shutdown_grace_secs");
    let jobs_prune_after_hours = r.get::<u64>("jobs.prune_after_hours");
    let jobs_retry_base_ms = r.get::<u64>("jobs.retry_base_ms");
    let jobs_retry_max_secs = r.get::<u64>("jobs.retry_max_secs");
    let jobs_default_timeout_secs = r.get::<u64>("jobs.default_timeout_secs");
    let cron_enabled = r.get::<bool>("cron.enabled");
    let cron_leader_lease_secs = r.get::<u64>("cron.leader_lease_secs");
    let local_login_link_minutes = r.get::<u64>("local.login_link_minutes");
    let sentry_dsn = r.text("sentry_dsn");
    let log_filter = r.text("log.filter");
    let log_json = r.get::<bool>("log.json");
    let instance_id = r.text("instance_id");
    let mut problems = std::mem::take(&mut r.problems);

    let public_url_text = server_public_url.or_else(|| phx_host.map(|host| format!("https://{host}")));
    let public_url = public_url_text.and_then(|text| match Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
        _ => {
            problems.push(format!("PUBLIC_URL must be an http(s) URL, got {text:?}"));
            None
        }
    });
    let mode = match mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("production") | Some("prod") => Mode::Production,
        Some("development") | Some("dev") => Mode::Development,
        None if public_url.as_ref().is_some_and(|u| u.scheme() == "https") => Mode::Production,
        None => Mode::Development,
        Some(other) => {
            problems.push(format!("mode must be development or production, got {other:?}"));
            Mode::Development
        }
    };
    let data_dir = PathBuf::from(data_dir.unwrap_or_else(|| "./data".into()));
    let unsubscribe = unsubscribe::read(&mut r, mode, &data_dir, &mut problems);
    problems.append(&mut r.problems);

    let database_url = database_url.unwrap_or_else(|| format!("sqlite://{}", data_dir.join("emailgator.db").display()));
    if !(database_url.starts_with("sqlite:")
        || database_url.starts_with("postgres://")
        || database_url.starts_with("postgresql://"))
    {
        problems.push(format!(
            "DATABASE_URL must start with sqlite:, postgres:// or postgresql://, got {}",
            redact_url(&database_url)
        ));
    }
    if let Some(url) = &database_migration_url
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        problems.push(format!(
            "DATABASE_MIGRATION_URL must start with postgres:// or postgresql://, got {}",
            redact_url(url)
        ));
    }
    let pool_size = database_pool_size.unwrap_or(10);
    if pool_size == 0 {
        problems.push("database.pool_size must be at least 1".into());
    }

    let mut queues: BTreeMap<String, usize> = DEFAULT_QUEUES.iter().map(|(name, n)| ((*name).to_owned(), *n)).collect();
    queues.extend(jobs_queues.unwrap_or_default());
    for (name, n) in &queues {
        if *n == 0 {
            problems.push(format!("jobs.queues.{name} must be at least 1"));
        }
    }

    let mut schedules: BTreeMap<String, String> =
        DEFAULT_SCHEDULES.iter().map(|(n, e)| ((*n).to_owned(), (*e).to_owned())).collect();
    schedules.extend(cron_schedules.unwrap_or_default());
    for (name, expression) in &schedules {
        if !DEFAULT_SCHEDULES.iter().any(|(known, _)| known == name) {
            problems.push(format!("cron.schedules.{name}: there is no schedule of that name"));
        } else if let Err(error) = crate::domain::Schedule::parse(expression) {
            problems.push(format!("cron.schedules.{name}: {expression:?} is not a six-field cron expression: {error}"));
        }
    }

    let secret_key_base = match security_secret_key_base {
        Some(value) if value.len() < 32 => {
            problems.push("SECRET_KEY_BASE must be at least 32 characters".into());
            None
        }
        Some(value) => Some(SecretString::from(value)),
        None if mode == Mode::Production => {
            problems.push("SECRET_KEY_BASE is required in production".into());
            None
        }
        None => dev_secret(&data_dir, "secret_key_base", 48).map_err(|e| problems.push(e)).ok(),
    };
    let encryption_keys_text = match security_encryption_keys {
        Some(value) => Some(value),
        None if mode == Mode::Production => {
            problems.push("ENCRYPTION_KEYS is required in production (id:base64-32-bytes, newest first)".into());
            None
        }
        None => dev_secret(&data_dir, "encryption_key", 32)
            .map(|key| format!("dev:{}", key.expose_secret()))
            .map_err(|e| problems.push(e))
            .ok(),
    };
    let encryption_keys = encryption_keys_text
        .map(|text| parse_encryption_keys(&text).map_err(|e| problems.push(e)).unwrap_or_default())
        .unwrap_or_default();

    let admin_emails = security_admin_emails
        .unwrap_or_default()
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .collect();

    let google = GoogleConfig {
        client_id: google_client_id,
        client_secret: google_client_secret.map(SecretString::from),
        redirect_url: parse_optional_url("GOOGLE_OAUTH_REDIRECT_URL", google_redirect_url, &mut problems),
        auth_url: url_or(
            "google.auth_url",
            google_auth_url,
            "https://accounts.google.com/o/oauth2/v2/auth",
            &mut problems,
        ),
        token_url: url_or("google.token_url", google_token_url, "https://oauth2.googleapis.com/token", &mut problems),
        revoke_url: url_or(
            "google.revoke_url",
            google_revoke_url,
            "https://oauth2.googleapis.com/revoke",
            &mut problems,
        ),
        userinfo_url: url_or(
            "google.userinfo_url",
            google_userinfo_url,
            "https://openidconnect.googleapis.com/v1/userinfo",
            &mut problems,
        ),
        gmail_base_url: with_trailing_slash(url_or(
            "google.gmail_base_url",
            google_gmail_base_url,
            "https://gmail.googleapis.com/",
            &mut problems,
        )),
        gmail: GmailConfig {
            backfill_days: gmail_backfill_days.unwrap_or(7),
            backfill_max: gmail_backfill_max.unwrap_or(500),
            quota_units_per_second: gmail_quota_units_per_second.unwrap_or(250).max(1),
            max_in_flight: gmail_max_in_flight.unwrap_or(5).max(1),
            is_category_labels_enabled: gmail_category_labels.unwrap_or(true),
            request_timeout: Duration::from_secs(gmail_request_timeout_secs.unwrap_or(30)),
        },
    };
    if google.client_id.is_some() != google.client_secret.is_some() {
        problems.push("GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET must be set together".into());
    }
    let sidecar = SidecarConfig {
        url: parse_optional_url("SIDECAR_URL", sidecar_url, &mut problems),
        token: sidecar_token.map(SecretString::from),
    };
    if sidecar.url.is_some() && sidecar.token.is_none() {
        problems.push("SIDECAR_URL needs SIDECAR_TOKEN".into());
    }
    let openai = OpenAiConfig {
        api_key: openai_api_key.map(SecretString::from),
        base_url: parse_optional_url("OPENAI_BASE_URL", openai_base_url, &mut problems),
        model: openai_model.unwrap_or_else(|| "gpt-4o-mini".into()),
        batch_size: openai_batch_size.unwrap_or(10).clamp(1, 50),
        max_body_chars: openai_max_body_chars.unwrap_or(2000).max(200),
        timeout: Duration::from_secs(openai_timeout_secs.unwrap_or(60)),
        price_input_per_million: openai_price_input.unwrap_or(0.15),
        price_output_per_million: openai_price_output.unwrap_or(0.60),
    };
    let default_mode = if openai.api_key.is_some() { SortingMode::Hybrid } else { SortingMode::Local };
    let sorting_mode = match sorting_mode {
        None => default_mode,
        Some(text) => SortingMode::parse(&text).unwrap_or_else(|| {
            problems.push(format!("sorting.mode must be hybrid, llm or local, got {text:?}"));
            default_mode
        }),
    };
    if sorting_mode != SortingMode::Local && openai.api_key.is_none() {
        problems.push(format!("sorting.mode {} needs OPENAI_API_KEY", sorting_mode.as_str()));
    }
    let confidence_threshold = sorting_confidence_threshold.unwrap_or(0.5);
    if !(0.0..=1.0).contains(&confidence_threshold) {
        problems.push(format!("sorting.confidence_threshold must be between 0 and 1, got {confidence_threshold}"));
    }
    let sorting = SortingConfig {
        mode: sorting_mode,
        confidence_threshold: confidence_threshold.clamp(0.0, 1.0),
        sender_memory_threshold: sorting_sender_memory_threshold.unwrap_or(3).max(1),
        archive_delay: Duration::from_secs(sorting_archive_delay_secs.unwrap_or(60)),
    };

    if let Some(dsn) = &sentry_dsn
        && !is_sentry_dsn(dsn)
    {
        problems.push("SENTRY_DSN must look like https://PUBLIC_KEY@HOST/PROJECT_ID".into());
    }
    let is_introspection_enabled = graphql_introspection.unwrap_or(mode == Mode::Development);
    let graphql = GraphqlConfig {
        is_graphiql_enabled: graphql_graphiql.unwrap_or(false),
        is_introspection_enabled,
        max_depth: graphql_max_depth.unwrap_or(if is_introspection_enabled {
            DEFAULT_GRAPHQL_MAX_DEPTH_WITH_INTROSPECTION
        } else {
            DEFAULT_GRAPHQL_MAX_DEPTH
        }),
        max_fields: graphql_max_fields.unwrap_or(DEFAULT_GRAPHQL_MAX_FIELDS),
    };
    if graphql.max_depth < 4 {
        problems.push(format!("graphql.max_depth must be at least 4, got {}", graphql.max_depth));
    }
    if graphql.max_fields < 10 {
        problems.push(format!("graphql.max_fields must be at least 10, got {}", graphql.max_fields));
    }

    let owner_email = local_owner_email.unwrap_or_else(|| "owner@localhost".into());
    if crate::domain::EmailAddress::parse(&owner_email).is_err() {
        problems.push(format!("local.owner_email is not an email address: {owner_email:?}"));
    }

    if !problems.is_empty() {
        return Err(ConfigProblems(problems));
    }
    let (Some(secret_key_base), false) = (secret_key_base, encryption_keys.is_empty()) else {
        return Err(ConfigProblems(vec!["secrets could not be prepared".into()]));
    };

    let secs = Duration::from_secs;
    let millis = Duration::from_millis;
    Ok(Config {
        mode,
        instance_id: instance_id
            .unwrap_or_else(|| format!("{hostname}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])),
        server: ServerConfig {
            host: server_host.unwrap_or_else(|| "127.0.0.1".into()),
            port: server_port.unwrap_or(8080),
            public_url,
            session_idle: secs(60 * server_session_idle_minutes.unwrap_or(60 * 24 * 7)),
            session_absolute: secs(3600 * server_session_absolute_hours.unwrap_or(24 * 30)),
        },
        database: DatabaseConfig {
            url: SecretString::from(database_url),
            pool_size,
            connect_timeout: secs(database_connect_timeout_secs.unwrap_or(10)),
            is_statement_cache_enabled: database_statement_cache.unwrap_or(true),
            is_migrate_on_start: database_migrate_on_start.unwrap_or(true),
            migration_url: database_migration_url.map(SecretString::from),
        },
        jobs: JobsConfig {
            is_enabled: jobs_enabled.unwrap_or(true),
            queues,
            poll_interval: millis(jobs_poll_interval_ms.unwrap_or(1000)),
            lease: secs(jobs_lease_secs.unwrap_or(60)),
            rescue_interval: secs(jobs_rescue_interval_secs.unwrap_or(30)),
            shutdown_grace: secs(jobs_shutdown_grace_secs.unwrap_or(15)),
            prune_after: secs(3600 * jobs_prune_after_hours.unwrap_or(24 * 7)),
            retry_base: millis(jobs_retry_base_ms.unwrap_or(15_000)),
            retry_max: secs(jobs_retry_max_secs.unwrap_or(6 * 3600)),
            default_timeout: secs(jobs_default_timeout_secs.unwrap_or(300)),
        },
        cron: CronConfig {
            is_enabled: cron_enabled.unwrap_or(true),
            schedules,
            leader_lease: secs(cron_leader_lease_secs.unwrap_or(30)),
        },
        security: SecurityConfig { secret_key_base, encryption_keys, admin_emails },
        local: LocalConfig { owner_email, login_link_ttl: secs(60 * local_login_link_minutes.unwrap_or(15)) },
        google,
        openai,
        sorting,
        sidecar,
        unsubscribe,
        graphql,
        sentry_dsn: sentry_dsn.map(SecretString::from),
        log: LogConfig {
            filter: log_filter.unwrap_or_else(|| "info".into()),
            is_json: log_json.unwrap_or(mode == Mode::Production),
        },
        data_dir,
    })
}

/// `https://PUBLIC_KEY@HOST/PROJECT_ID`: the shape Sentry's client accepts.
fn is_sentry_dsn(text: &str) -> bool {
    Url::parse(text).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && !url.username().is_empty()
            && url.host_str().is_some()
            && url.path_segments().and_then(|mut segments| segments.next_back()).is_some_and(|id| !id.is_empty())
    })
}

fn parse_optional_url(name: &str, value: Option<String>, problems: &mut Vec<String>) -> Option<Url> {
    let value = value?;
    match Url::parse(&value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
        _ => {
            problems.push(format!("{name} must be an http(s) URL, got {value:?}"));
            None
        }
    }
}

fn url_or(name: &str, value: Option<String>, default: &str, problems: &mut Vec<String>) -> Url {
    let default = || Url::parse(default).expect("built-in URLs are valid");
    match value {
        Some(value) => parse_optional_url(name, Some(value), problems).unwrap_or_else(default),
        None => default(),
    }
}

/// google-gmail1 appends paths to its base URL, so the slash matters.
fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// Parses `id:base64,id:base64` (newest first); every key must be 32 bytes.
fn parse_encryption_keys(text: &str) -> Result<Vec<EncryptionKey>, String> {
    let mut keys = Vec::new();
    for (index, part) in text.split(',').map(str::trim).filter(|p| !p.is_empty()).enumerate() {
        let (id, encoded) = part
            .split_once(':')
            .ok_or_else(|| format!("ENCRYPTION_KEYS entry {} must look like id:base64-key", index + 1))?;
        let bytes = BASE64.decode(encoded).map_err(|_| format!("ENCRYPTION_KEYS entry {id:?} is not valid base64"))?;
        if bytes.len() != 32 {
            return Err(format!("ENCRYPTION_KEYS entry {id:?} must decode to 32 bytes, got {}", bytes.len()));
        }
        keys.push(EncryptionKey { id: id.to_owned(), key: bytes.into() });
    }
    if keys.is_empty() {
        return Err("ENCRYPTION_KEYS is empty".into());
    }
    Ok(keys)
}

/// Reads a development secret from `data_dir/name`, generating it the first time.
fn dev_secret(data_dir: &Path, name: &str, bytes: usize) -> Result<SecretString, String> {
    let path = data_dir.join(name);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(SecretString::from(existing.trim().to_owned()));
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create the data directory {}: {e}", data_dir.display()))?;
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    let value = BASE64.encode(&buffer);
    write_private_file(&path, &value).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(SecretString::from(value))
}

#[cfg(unix)]
fn write_private_file(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(value.as_bytes())
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::write(path, value)
}

fn redact_url(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            // Setting a password only fails for URLs without a host, which have none to hide.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn no_settings_gives_sqlite_port_8080_and_generated_dev_secrets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let config = Config::from_sources(None, &env(&[("EMAILGATOR__DATA_DIR", data.to_str().expect("utf8"))]))
            .expect("defaults are valid");
        assert_eq!(config.mode, Mode::Development);
        assert_eq!(config.server.port, 8080);
        assert!(config.database.url.expose_secret().starts_with("sqlite://"));
        assert!(data.join("secret_key_base").exists());
        let again = Config::from_sources(None, &env(&[("EMAILGATOR__DATA_DIR", data.to_str().expect("utf8"))]))
            .expect("still valid");
        assert_eq!(
            config.security.secret_key_base.expose_secret(),
            again.security.secret_key_base.expose_secret(),
            "the generated secret is kept"
        );
    }

    #[test]
    fn production_without_secrets_lists_every_problem() {
        let problems = Config::from_sources(
            None,
            &env(&[("PUBLIC_URL", "https://mail.example.com"), ("SIDECAR_URL", "ftp://x"), ("PORT", "80")]),
        )
        .expect_err("must refuse");
        let text = problems.to_string();
        assert!(text.contains("SECRET_KEY_BASE is required"), "{text}");
        assert!(text.contains("ENCRYPTION_KEYS is required"), "{text}");
        assert!(text.contains("SIDECAR_URL must be an http(s) URL"), "{text}");
    }

    #[test]
    fn well_known_names_override_prefixed_variables() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config::from_sources(
            None,
            &env(&[
                ("EMAILGATOR__DATA_DIR", dir.path().to_str().expect("utf8")),
                ("EMAILGATOR__SERVER__PORT", "9000"),
                ("PORT", "9100"),
                ("EMAILGATOR__JOBS__QUEUES__MAIL", "3"),
                ("ADMIN_EMAILS", "A@Example.com, b@example.com"),
                ("DATABASE_URL", "postgres://app:hunter2@db:5432/eg"),
                ("EMAILGATOR__DATABASE__STATEMENT_CACHE", "false"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.server.port, 9100);
        assert_eq!(config.jobs.queues.get("mail"), Some(&3));
        assert!(config.is_admin_email("a@example.com"));
        assert!(!config.database.is_statement_cache_enabled);
        assert!(!config.redacted_summary().contains("hunter2"));
    }

    #[test]
    fn malformed_values_are_all_reported_together() {
        let dir = tempfile::tempdir().expect("tempdir");
        let problems = Config::from_sources(
            None,
            &env(&[
                ("EMAILGATOR__DATA_DIR", dir.path().to_str().expect("utf8")),
                ("PORT", "eighty"),
                ("EMAILGATOR__JOBS__LEASE_SECS", "soon"),
                ("DATABASE_URL", "mysql://db/eg"),
                ("EMAILGATOR__CRON__SCHEDULES__PRUNE", "*/5 * * * *"),
            ]),
        )
        .expect_err("must refuse")
        .to_string();
        assert!(problems.contains("server.port (PORT or EMAILGATOR__SERVER__PORT)"), "{problems}");
        assert!(problems.contains("jobs.lease_secs (EMAILGATOR__JOBS__LEASE_SECS)"), "{problems}");
        assert!(problems.contains("DATABASE_URL must start with"), "{problems}");
        assert!(problems.contains("cron.schedules.prune"), "{problems}");
    }

    #[test]
    fn phx_host_sets_an_https_public_url_and_production_mode() {
        let problems = Config::from_sources(None, &env(&[("PHX_HOST", "mail.example.com")]))
            .expect_err("production needs secrets");
        assert!(problems.to_string().contains("SECRET_KEY_BASE"));
    }

    #[test]
    fn a_sentry_dsn_must_name_a_key_a_host_and_a_project() {
        assert!(is_sentry_dsn("https://abc123@o1.ingest.sentry.io/4505"));
        assert!(is_sentry_dsn("http://key@127.0.0.1:9000/1"));
        assert!(!is_sentry_dsn("https://o1.ingest.sentry.io/4505"), "no key");
        assert!(!is_sentry_dsn("https://key@o1.ingest.sentry.io/"), "no project");
        assert!(!is_sentry_dsn("sentry.io"));
        let dir = tempfile::tempdir().expect("tempdir");
        let problems = Config::from_sources(
            None,
            &env(&[("EMAILGATOR__DATA_DIR", dir.path().to_str().expect("utf8")), ("SENTRY_DSN", "nope")]),
        )
        .expect_err("must refuse")
        .to_string();
        assert!(problems.contains("SENTRY_DSN must look like"), "{problems}");
    }

    #[test]
    fn the_migration_url_must_be_postgresql() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_str().expect("utf8");
        let problems = Config::from_sources(
            None,
            &env(&[("EMAILGATOR__DATA_DIR", data), ("DATABASE_MIGRATION_URL", "sqlite://other.db")]),
        )
        .expect_err("must refuse")
        .to_string();
        assert!(problems.contains("DATABASE_MIGRATION_URL must start with postgres://"), "{problems}");
        let config = Config::from_sources(
            None,
            &env(&[("EMAILGATOR__DATA_DIR", data), ("DATABASE_MIGRATION_URL", "postgres://u:p@db:5432/eg")]),
        )
        .expect("valid");
        assert_eq!(
            config.database.migration_url.map(|u| u.expose_secret().to_owned()).as_deref(),
            Some("postgres://u:p@db:5432/eg")
        );
    }

    #[test]
    fn introspection_follows_the_mode_and_graphiql_is_off_unless_enabled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_str().expect("utf8");
        let development = Config::from_sources(None, &env(&[("EMAILGATOR__DATA_DIR", data)])).expect("valid");
        assert!(development.graphql.is_introspection_enabled && !development.graphql.is_graphiql_enabled);
        let key = BASE64.encode([7u8; 32]);
        let keys = format!("k1:{key}");
        let production = [
            ("EMAILGATOR__DATA_DIR", data),
            ("EMAILGATOR__MODE", "production"),
            ("SECRET_KEY_BASE", "0123456789abcdef0123456789abcdef"),
            ("ENCRYPTION_KEYS", keys.as_str()),
        ];
        let config = Config::from_sources(None, &env(&production)).expect("valid");
        assert!(!config.graphql.is_introspection_enabled);
        assert_eq!(config.graphql.max_depth, DEFAULT_GRAPHQL_MAX_DEPTH);
        let enabled = [&production[..], &[("EMAILGATOR__GRAPHQL__INTROSPECTION", "true")]].concat();
        assert!(Config::from_sources(None, &env(&enabled)).expect("valid").graphql.is_introspection_enabled);
        let shallow = [("EMAILGATOR__DATA_DIR", data), ("EMAILGATOR__GRAPHQL__MAX_DEPTH", "2")];
        let problems = Config::from_sources(None, &env(&shallow)).expect_err("refused").to_string();
        assert!(problems.contains("graphql.max_depth"), "{problems}");
    }

    #[test]
    fn encryption_keys_must_be_32_bytes() {
        assert!(parse_encryption_keys("k1:AAAA").is_err());
        let key = BASE64.encode([7u8; 32]);
        let keys = parse_encryption_keys(&format!("k2:{key},k1:{key}")).expect("valid");
        assert_eq!(keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["k2", "k1"]);
    }
}
