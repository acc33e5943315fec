//! Structured logs with `tracing`: human-readable in development, JSON in production.

use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

/// Installs the global subscriber once; later calls (tests build many apps) are ignored.
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_new(&log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    let result = if log.is_json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
    // An error here means a subscriber is already installed, which is fine.
    drop(result);
}
