//! Structured logs with `tracing` (human-readable in development, JSON in production) and, when
//! `SENTRY_DSN` is set, error reporting to Sentry: panics, and 5xx errors with the request id and the
//! signed-in user's id. This is the only module that names `sentry`.

use std::future::Future;
use std::sync::Arc;

use secrecy::ExposeSecret;
use sentry::SentryFutureExt;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogConfig, Mode};

/// The commit the binary was built from, when the build was given `GIT_SHA` (see build.rs).
pub const REVISION: Option<&str> = option_env!("EMAILGATOR_GIT_SHA");

/// Installs the global subscriber once; later calls (tests build many apps) are ignored.
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_new(&log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    let result = if log.is_json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
    // An error here means a subscriber is already installed, which is fine.
    drop(result);
}

/// The release errors are grouped under: `emailgator@<version>`, plus `+<commit>` when known.
pub fn release() -> String {
    let version = env!("CARGO_PKG_VERSION");
    match REVISION.filter(|sha| !sha.is_empty()) {
        Some(sha) => format!("emailgator@{version}+{}", &sha[..sha.len().min(12)]),
        None => format!("emailgator@{version}"),
    }
}

/// Sends errors to Sentry while it lives; `None` (and nothing sent anywhere) without `SENTRY_DSN`.
/// Keep it until the process ends: dropping it sends what is still queued.
pub struct ErrorReporting {
    _guard: sentry::ClientInitGuard,
}

/// Starts error reporting when `SENTRY_DSN` is set. The panic integration reports every panic,
/// in request handlers and jobs alike.
pub fn init_error_reporting(config: &Config) -> Option<ErrorReporting> {
    let text = config.sentry_dsn.as_ref()?.expose_secret().to_owned();
    // Config validation already checked the DSN's shape; a DSN Sentry still rejects is logged.
    let dsn = match text.parse::<sentry::types::Dsn>() {
        Ok(dsn) => dsn,
        Err(error) => {
            tracing::error!(%error, "SENTRY_DSN is not a Sentry DSN; errors are not reported");
            return None;
        }
    };
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(release().into());
    options.environment = Some(
        match config.mode {
            Mode::Production => "production",
            Mode::Development => "development",
        }
        .into(),
    );
    options.server_name = Some(config.instance_id.clone().into());
    // Only the ids we attach ourselves: no IP addresses, cookies or request bodies.
    options.send_default_pii = false;
    let guard = sentry::init(options);
    tracing::info!(release = release(), "error reporting to Sentry is on");
    Some(ErrorReporting { _guard: guard })
}

fn is_reporting() -> bool {
    sentry::Hub::current().client().is_some_and(|client| client.is_enabled())
}

/// Runs one request's work in its own error-reporting scope tagged with its id, so a panic or an
/// error reported inside it carries the id (and the user, once known).
pub async fn in_request_scope<F: Future>(request_id: &str, work: F) -> F::Output {
    if !is_reporting() {
        return work.await;
    }
    let hub = Arc::new(sentry::Hub::new_from_top(sentry::Hub::current()));
    hub.configure_scope(|scope| scope.set_tag("request_id", request_id));
    work.bind_hub(hub).await
}

/// Names the signed-in user in the current request's scope (their id only, no address).
pub fn identify_user(user_id: &str) {
    if is_reporting() {
        sentry::configure_scope(|scope| {
            scope.set_user(Some(sentry::User { id: Some(user_id.to_owned()), ..Default::default() }));
        });
    }
}

/// Reports a request that ended in a server error; the scope adds the request id and user.
pub fn report_server_error(method: &str, route: &str, status: u16, error: &str) {
    if !is_reporting() {
        return;
    }
    sentry::with_scope(
        |scope| {
            scope.set_tag("http.method", method);
            scope.set_tag("http.route", route);
            scope.set_tag("http.status_code", status);
            scope.set_fingerprint(Some(&["{{ default }}", route, &status.to_string()]));
        },
        || sentry::capture_message(&format!("{status} on {method} {route}: {error}"), sentry::Level::Error),
    );
}
