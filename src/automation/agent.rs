//! The in-process agent: tries the web targets of one subscription in order — the one-click POST,
//! then pages in a fresh browser behind the guarded proxy — and reports the first success, or the
//! most useful failure, with every step and a screenshot of the final page. Browsers come from the
//! `sessions` pool, which has the next one started before it is needed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::future::BoxFuture;

use super::browser::BrowserSettings;
use super::fetch::FetchSettings;
use super::guard::{GuardSettings, NetworkGuard};
use super::page::{self, PageLimits};
use super::page_ai::{PageAi, PageAiSettings};
use super::sessions::{BrowserPool, PoolError, PoolSettings};
use super::{AttemptReport, AttemptRequest, Outcome, Recorder, Unsubscriber, UnsubscriberError, one_click};
use crate::config::Config;
use crate::domain::unsubscribe::{Method, Status};

/// Browser targets tried per attempt at most (the List-Unsubscribe page and a body link or two).
const MAX_BROWSER_TARGETS: usize = 3;

#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub guard: GuardSettings,
    pub fetch: FetchSettings,
    pub browser: BrowserSettings,
    pub limits: PageLimits,
    pub attempt_timeout: Duration,
    pub concurrency: usize,
    /// Browser sessions kept started ahead of need, at most (0: none).
    pub warm_sessions: usize,
    pub warm_idle: Duration,
    pub screenshot_max_bytes: usize,
    /// The AI that may choose steps the rules cannot; `None` without an OpenAI key (or with
    /// `unsubscribe.ai_steps = 0`).
    pub ai: Option<PageAiSettings>,
    /// Where browser profiles are made (and deleted).
    pub scratch_dir: PathBuf,
}

impl AgentSettings {
    pub fn from_config(config: &Config) -> AgentSettings {
        let u = &config.unsubscribe;
        AgentSettings {
            guard: GuardSettings {
                allowlist_domains: u.allowlist_domains.clone(),
                test_loopback: u.test_allow_loopback.clone(),
                resolve_timeout: u.connect_timeout,
            },
            fetch: FetchSettings {
                connect_timeout: u.connect_timeout,
                total_timeout: u.request_timeout,
                body_cap: u.body_cap_bytes,
            },
            browser: BrowserSettings {
                chromedriver_path: u.chromedriver_path.clone(),
                chromedriver_url: u.chromedriver_url.clone(),
                chromium_path: u.chromium_path.clone(),
                page_timeout: u.page_timeout,
            },
            limits: PageLimits { step_cap: u.step_cap, step_timeout: u.step_timeout },
            attempt_timeout: u.attempt_timeout,
            concurrency: u.concurrency,
            warm_sessions: u.warm_sessions,
            warm_idle: u.warm_idle,
            screenshot_max_bytes: u.screenshot_max_bytes,
            ai: PageAiSettings::from_config(&config.openai, u.ai_steps),
            scratch_dir: std::env::temp_dir().join("emailgator-browser"),
        }
    }
}

pub struct InProcessAgent {
    settings: AgentSettings,
    guard: NetworkGuard,
    browsers: Arc<BrowserPool>,
    ai: Option<PageAi>,
}

impl InProcessAgent {
    pub fn new(settings: AgentSettings) -> InProcessAgent {
        // reqwest panics without rustls's process-wide provider; callers other than `main` may not have set it.
        crate::startup::install_tls_provider();
        let guard = NetworkGuard::new(settings.guard.clone());
        let browsers = BrowserPool::new(
            PoolSettings {
                browser: settings.browser.clone(),
                scratch_dir: settings.scratch_dir.clone(),
                connect_timeout: settings.fetch.connect_timeout,
                concurrency: settings.concurrency,
                warm: settings.warm_sessions.min(settings.concurrency),
                warm_idle: settings.warm_idle,
            },
            guard.clone(),
        );
        let ai = settings.ai.clone().map(PageAi::new);
        InProcessAgent { guard, settings, browsers, ai }
    }

    /// The chromedriver process id, once one was started (benchmarks count what it leaves behind).
    pub async fn chromedriver_pid(&self) -> Option<u32> {
        self.browsers.chromedriver_pid().await
    }

    /// Closes every browser, waiting for them, and stops chromedriver; dropping the agent without
    /// this still ends every chromium, but abruptly.
    pub async fn shut_down(&self) {
        self.browsers.shut_down().await;
    }

    /// Whether this machine has the browser programs the agent needs.
    pub fn is_browser_installed(&self) -> bool {
        self.settings.browser.chromedriver_url.is_some()
            || (self.settings.browser.chromedriver_path.exists() && self.settings.browser.chromium_path.exists())
    }

    async fn run(&self, request: &AttemptRequest) -> AttemptReport {
        let mut log = Recorder::default();
        let mut best: Option<(Outcome, Method, String, Option<String>)> = None;
        let mut browser_targets = 0;
        for target in &request.targets {
            let (outcome, screenshot) = match target.method {
                Method::OneClick => {
                    (one_click::post(&self.guard, &self.settings.fetch, &target.url, &mut log).await, None)
                }
                Method::Page | Method::BodyLink => {
                    browser_targets += 1;
                    if browser_targets > MAX_BROWSER_TARGETS {
                        break;
                    }
                    let ai = self.ai.as_ref().filter(|_| request.is_ai_allowed);
                    self.in_browser(&target.url, &request.email_address, ai, &mut log).await
                }
                // Mail is sent by the service, from the user's own mailbox.
                Method::Mailto => continue,
            };
            let is_success = outcome.status == Status::Succeeded;
            if best.as_ref().is_none_or(|(b, ..)| rank(outcome.status) > rank(b.status)) {
                best = Some((outcome, target.method, target.url.clone(), screenshot));
            }
            if is_success {
                break;
            }
        }
        match best {
            Some((outcome, method, url, screenshot)) => AttemptReport {
                status: outcome.status,
                method: Some(method),
                url: Some(url),
                reason: outcome.reason,
                steps: log.steps,
                screenshot_png_base64: screenshot,
                ai_usage: log.ai_usage,
            },
            None => AttemptReport {
                status: Status::NeedsManual,
                method: None,
                url: None,
                reason: "the email offers no web link to unsubscribe with".into(),
                steps: log.steps,
                screenshot_png_base64: None,
                ai_usage: log.ai_usage,
            },
        }
    }

    /// One page in a fresh browser; the session and its profile are gone when this returns.
    async fn in_browser(
        &self,
        url: &str,
        own_address: &str,
        ai: Option<&PageAi>,
        log: &mut Recorder,
    ) -> (Outcome, Option<String>) {
        let lease = match self.browsers.take().await {
            Ok(lease) => lease,
            Err(PoolError::Proxy(error)) => {
                return (Outcome::new(Status::Failed, format!("the guarded proxy could not start: {error}")), None);
            }
            Err(error) => {
                log.step("browser unavailable", &error.to_string());
                return (
                    Outcome::new(Status::NeedsManual, format!("the browser is not available on this server: {error}")),
                    None,
                );
            }
        };
        let (session, proxy) = (&lease.browser.session, &lease.browser.proxy);
        let refusals = || proxy.refusals();
        let driving = page::drive(&session.client, url, own_address, self.settings.limits, &refusals, ai, log);
        let outcome = match tokio::time::timeout(self.settings.attempt_timeout, driving).await {
            Ok(outcome) => outcome,
            Err(_) => {
                Outcome::new(Status::Failed, format!("the page took longer than {:?}", self.settings.attempt_timeout))
            }
        };
        let screenshot = match session.client.screenshot().await {
            Ok(png) if png.len() <= self.settings.screenshot_max_bytes => Some(BASE64.encode(png)),
            Ok(png) => {
                log.step("screenshot skipped", &format!("{} bytes is over the cap", png.len()));
                None
            }
            Err(_) => None,
        };
        self.browsers.finish(lease);
        (outcome, screenshot)
    }
}

/// Which outcome to report when none succeeded: the one the user can act on first.
fn rank(status: Status) -> u8 {
    match status {
        Status::Succeeded => 4,
        Status::NeedsManual => 3,
        Status::Failed => 2,
        Status::Blocked => 1,
        Status::Pending | Status::Running => 0,
    }
}

impl Unsubscriber for InProcessAgent {
    fn attempt<'a>(&'a self, request: &'a AttemptRequest) -> BoxFuture<'a, Result<AttemptReport, UnsubscriberError>> {
        Box::pin(async move { Ok(self.run(request).await) })
    }

    fn shut_down(&self) -> BoxFuture<'_, ()> {
        Box::pin(InProcessAgent::shut_down(self))
    }
}
