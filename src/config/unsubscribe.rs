//! The `[unsubscribe]` settings: where the browser programs are, the agent's limits, the network
//! guard's allowlist, and the loopback pairs only tests may open to the agent.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Mode, Reader};

#[derive(Debug, Clone)]
pub struct UnsubscribeConfig {
    pub chromedriver_path: PathBuf,
    /// An already running chromedriver to use instead of starting one.
    pub chromedriver_url: Option<String>,
    pub chromium_path: PathBuf,
    pub connect_timeout: Duration,
    /// The whole of one non-browser request, redirects included.
    pub request_timeout: Duration,
    pub page_timeout: Duration,
    /// How long a page may take to react to one action.
    pub step_timeout: Duration,
    /// The whole of one attempt, every method included.
    pub attempt_timeout: Duration,
    pub step_cap: usize,
    /// Browser sessions at once, per process (and unsubscribe jobs at once).
    pub concurrency: usize,
    /// Browser sessions started ahead of need (at most `concurrency`), so an attempt does not wait
    /// for chromium to start; 0 turns this off.
    pub warm_sessions: usize,
    /// A pre-started session unused this long is closed.
    pub warm_idle: Duration,
    /// AI-chosen steps per page at most, when an OpenAI key is configured; 0 never asks the AI.
    pub ai_steps: usize,
    pub body_cap_bytes: usize,
    pub screenshot_max_bytes: usize,
    pub screenshot_dir: PathBuf,
    /// `ALLOWLIST_DOMAINS`: when set, the agent only reaches these domains (whole labels).
    pub allowlist_domains: Vec<String>,
    /// Loopback `ip:port` pairs tests serve fixture pages on; refused in production.
    pub test_allow_loopback: Vec<SocketAddr>,
    /// Where `emailgator sidecar` listens.
    pub sidecar_listen: String,
}

pub(super) fn read(r: &mut Reader, mode: Mode, data_dir: &Path, problems: &mut Vec<String>) -> UnsubscribeConfig {
    let secs = |value: Option<u64>, default: u64| Duration::from_secs(value.unwrap_or(default).max(1));
    let allowlist_domains = r
        .text("unsubscribe.allowlist_domains")
        .unwrap_or_default()
        .split(',')
        .map(|d| d.trim().trim_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    let mut test_allow_loopback = Vec::new();
    for entry in r
        .text("unsubscribe.test_allow_loopback")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        match entry.parse::<SocketAddr>() {
            Ok(address) if address.ip().is_loopback() && address.port() != 0 => test_allow_loopback.push(address),
            _ => problems.push(format!("unsubscribe.test_allow_loopback: {entry:?} is not a loopback ip:port pair")),
        }
    }
    if mode == Mode::Production && !test_allow_loopback.is_empty() {
        problems.push("unsubscribe.test_allow_loopback is for tests only and is refused in production".into());
    }
    let concurrency = r.get::<usize>("unsubscribe.concurrency").unwrap_or(2).max(1);
    let config = UnsubscribeConfig {
        chromedriver_path: PathBuf::from(
            r.text("unsubscribe.chromedriver_path").unwrap_or_else(|| "/usr/bin/chromedriver".into()),
        ),
        chromedriver_url: r.text("unsubscribe.chromedriver_url"),
        chromium_path: PathBuf::from(r.text("unsubscribe.chromium_path").unwrap_or_else(|| "/usr/bin/chromium".into())),
        connect_timeout: secs(r.get("unsubscribe.connect_timeout_secs"), 5),
        request_timeout: secs(r.get("unsubscribe.request_timeout_secs"), 15),
        page_timeout: secs(r.get("unsubscribe.page_timeout_secs"), 20),
        step_timeout: Duration::from_millis(r.get::<u64>("unsubscribe.step_timeout_ms").unwrap_or(3000).max(100)),
        attempt_timeout: secs(r.get("unsubscribe.attempt_timeout_secs"), 120),
        step_cap: r.get::<usize>("unsubscribe.step_cap").unwrap_or(12).clamp(1, 50),
        concurrency,
        warm_sessions: r.get::<usize>("unsubscribe.warm_sessions").unwrap_or(1).min(concurrency),
        warm_idle: secs(r.get("unsubscribe.warm_idle_secs"), 120),
        ai_steps: r.get::<usize>("unsubscribe.ai_steps").unwrap_or(3).min(10),
        body_cap_bytes: r.get::<usize>("unsubscribe.body_cap_bytes").unwrap_or(1024 * 1024).max(1024),
        screenshot_max_bytes: r.get::<usize>("unsubscribe.screenshot_max_bytes").unwrap_or(1024 * 1024),
        screenshot_dir: r
            .text("unsubscribe.screenshot_dir")
            .map_or_else(|| data_dir.join("screenshots"), PathBuf::from),
        allowlist_domains,
        test_allow_loopback,
        sidecar_listen: r.text("sidecar.listen").unwrap_or_else(|| "127.0.0.1:8091".into()),
    };
    if config.sidecar_listen.parse::<SocketAddr>().is_err() {
        problems.push(format!("sidecar.listen must be ip:port, got {:?}", config.sidecar_listen));
    }
    config
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::Config;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn allowlist_domains_and_test_pairs_are_read() {
        let dir = std::env::temp_dir().join(format!("eg-config-{}", uuid::Uuid::new_v4().simple()));
        let config = Config::from_sources(
            None,
            &env(&[
                ("EMAILGATOR__DATA_DIR", dir.to_str().expect("utf8")),
                ("ALLOWLIST_DOMAINS", "Example.com, .news.example.org"),
                ("EMAILGATOR__UNSUBSCRIBE__TEST_ALLOW_LOOPBACK", "127.0.0.1:4000,[::1]:4001"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.unsubscribe.allowlist_domains, ["example.com", "news.example.org"]);
        assert_eq!(config.unsubscribe.test_allow_loopback.len(), 2);
        assert_eq!(config.unsubscribe.screenshot_dir, dir.join("screenshots"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn test_pairs_are_refused_in_production_and_must_be_loopback() {
        let problems = Config::from_sources(
            None,
            &env(&[
                ("PUBLIC_URL", "https://mail.example.com"),
                ("EMAILGATOR__UNSUBSCRIBE__TEST_ALLOW_LOOPBACK", "127.0.0.1:4000,10.0.0.1:80,localhost:80"),
            ]),
        )
        .expect_err("refused")
        .to_string();
        assert!(problems.contains("refused in production"), "{problems}");
        assert!(problems.contains("\"10.0.0.1:80\" is not a loopback"), "{problems}");
        assert!(problems.contains("\"localhost:80\" is not a loopback"), "{problems}");
    }
}
