//! The in-process agent: tries the web targets of one subscription in order — the one-click POST,
//! then pages in a fresh browser behind the guarded proxy — and reports the first success, or the
//! most useful failure, with every step and a screenshot of the final page.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::future::BoxFuture;
use tokio::sync::{Mutex, Semaphore};

use super::browser::{BrowserSettings, Chromedriver, Session};
use super::fetch::FetchSettings;
use super::guard::{GuardSettings, NetworkGuard};
use super::page::{self, PageLimits};
use super::proxy::GuardedProxy;
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
    pub screenshot_max_bytes: usize,
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
            screenshot_max_bytes: u.screenshot_max_bytes,
            scratch_dir: std::env::temp_dir().join("emailgator-browser"),
        }
    }
}

pub struct InProcessAgent {
    settings: AgentSettings,
    guard: NetworkGuard,
    driver: Mutex<Option<Arc<Chromedriver>>>,
    browsers: Semaphore,
}

impl InProcessAgent {
    pub fn new(settings: AgentSettings) -> InProcessAgent {
        // reqwest panics without rustls's process-wide provider; callers other than `main` may not have set it.
        crate::startup::install_tls_provider();
        let browsers = Semaphore::new(settings.concurrency.max(1));
        InProcessAgent {
            guard: NetworkGuard::new(settings.guard.clone()),
            settings,
            driver: Mutex::new(None),
            browsers,
        }
    }

    /// The chromedriver process id, once one was started (benchmarks count what it leaves behind).
    pub async fn chromedriver_pid(&self) -> Option<u32> {
        self.driver.lock().await.as_ref().and_then(|d| d.pid())
    }

    /// Stops chromedriver now instead of when the agent is dropped.
    pub async fn shut_down(&self) {
        self.driver.lock().await.take();
    }

    /// Whether this machine has the browser programs the agent needs.
    pub fn is_browser_installed(&self) -> bool {
        self.settings.browser.chromedriver_url.is_some()
            || (self.settings.browser.chromedriver_path.exists() && self.settings.browser.chromium_path.exists())
    }

    async fn driver_url(&self) -> Result<String, String> {
        if let Some(url) = &self.settings.browser.chromedriver_url {
            return Ok(url.clone());
        }
        let mut driver = self.driver.lock().await;
        if let Some(running) = driver.as_ref().filter(|d| d.is_alive()) {
            return Ok(running.url().to_owned());
        }
        let path = self.settings.browser.chromedriver_path.clone();
        let started = tokio::task::spawn_blocking(move || Chromedriver::start(&path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let url = started.url().to_owned();
        *driver = Some(Arc::new(started));
        Ok(url)
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
                    self.in_browser(&target.url, &request.email_address, &mut log).await
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
            },
            None => AttemptReport {
                status: Status::NeedsManual,
                method: None,
                url: None,
                reason: "the email offers no web link to unsubscribe with".into(),
                steps: log.steps,
                screenshot_png_base64: None,
            },
        }
    }

    /// One page in a fresh browser; the session and its profile are gone when this returns.
    async fn in_browser(&self, url: &str, own_address: &str, log: &mut Recorder) -> (Outcome, Option<String>) {
        let Ok(_permit) = self.browsers.acquire().await else {
            return (Outcome::new(Status::Failed, "the agent is shutting down".into()), None);
        };
        let driver_url = match self.driver_url().await {
            Ok(url) => url,
            Err(reason) => {
                log.step("browser unavailable", &reason);
                return (
                    Outcome::new(Status::NeedsManual, format!("the browser is not available on this server: {reason}")),
                    None,
                );
            }
        };
        let proxy = match GuardedProxy::start(self.guard.clone(), self.settings.fetch.connect_timeout).await {
            Ok(proxy) => proxy,
            Err(error) => {
                return (Outcome::new(Status::Failed, format!("the guarded proxy could not start: {error}")), None);
            }
        };
        let session =
            match Session::open(&driver_url, &self.settings.browser, Some(&proxy.url()), &self.settings.scratch_dir)
                .await
            {
                Ok(session) => session,
                Err(error) => {
                    log.step("browser unavailable", &error.to_string());
                    return (
                        Outcome::new(Status::NeedsManual, format!("the browser could not be started: {error}")),
                        None,
                    );
                }
            };
        let refusals = || proxy.refusals();
        let driving = page::drive(&session.client, url, own_address, self.settings.limits, &refusals, log);
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
        session.close().await;
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
}
