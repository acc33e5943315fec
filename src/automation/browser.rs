//! The `Browser` seam's real implementation: Debian's chromium driven through chromedriver with
//! fantoccini. One chromedriver per agent, started on first use and killed (with every chromium it
//! started) when the agent goes; one fresh session per attempt with its own profile directory
//! (deleted afterwards), downloads blocked, every request through the guarded proxy.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

/// Where the browser programs are and how long pages may take.
#[derive(Debug, Clone)]
pub struct BrowserSettings {
    pub chromedriver_path: PathBuf,
    /// An already running chromedriver to use instead of starting one.
    pub chromedriver_url: Option<String>,
    pub chromium_path: PathBuf,
    pub page_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("chromedriver could not be started ({path}): {reason}")]
    Driver { path: String, reason: String },
    #[error("the browser session could not be started: {0}")]
    Session(String),
}

/// A chromedriver process, killed on drop.
pub struct Chromedriver {
    url: String,
    child: Mutex<Option<Child>>,
}

impl Chromedriver {
    /// Starts chromedriver on a free loopback port and waits until it answers.
    pub fn start(path: &Path) -> Result<Chromedriver, BrowserError> {
        let fail = |reason: String| BrowserError::Driver { path: path.display().to_string(), reason };
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| fail(e.to_string()))?
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .arg("--allowed-origins=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, which the chromiums it starts join: dropping the driver can then
            // end them all, even sessions nobody closed (a warm one, or one whose attempt panicked).
            .process_group(0)
            .spawn()
            .map_err(|e| fail(e.to_string()))?;
        let driver = Chromedriver { url: format!("http://127.0.0.1:{port}"), child: Mutex::new(Some(child)) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(fail("it did not listen within 15 seconds".into()));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(driver)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process id, for measuring (benchmarks).
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().ok()?.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn is_alive(&self) -> bool {
        self.child.lock().ok().and_then(|mut c| c.as_mut().map(|c| matches!(c.try_wait(), Ok(None)))).unwrap_or(false)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.child.lock()
            && let Some(mut child) = guard.take()
        {
            // The group id is chromedriver's pid (`process_group(0)`); std cannot signal a group.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One browser session and its profile directory.
pub struct Session {
    pub client: fantoccini::Client,
    pub profile: PathBuf,
}

impl Session {
    /// A fresh chromium with a new profile in `scratch`, behind `proxy_url`. Without a proxy it
    /// connects directly: only for driving EmailGator's own pages (the end-to-end test), never a sender's.
    pub async fn open(
        driver_url: &str,
        settings: &BrowserSettings,
        proxy_url: Option<&str>,
        scratch: &Path,
    ) -> Result<Session, BrowserError> {
        let profile = scratch.join(format!("profile-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).map_err(|e| BrowserError::Session(format!("profile directory: {e}")))?;
        let downloads = profile.join("downloads-blocked");
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--window-size=1280,800",
            "--disable-extensions",
            "--mute-audio",
            "--dns-prefetch-disable",
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
            // Start-up work a one-page session never needs: crash reporting, field trials, the
            // search-engine prompt, and services that call home (each call is one the guard refuses).
            "--disable-breakpad",
            "--disable-field-trial-config",
            "--disable-search-engine-choice-screen",
            "--disable-component-extensions-with-background-pages",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--metrics-recording-only",
            "--no-pings",
            "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,\
             AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
        ]
        .map(str::to_owned)
        .into();
        if let Some(proxy_url) = proxy_url {
            args.push(format!("--proxy-server={proxy_url}"));
            // Without this chromium sends loopback directly; the guard must see everything.
            args.push("--proxy-bypass-list=<-loopback>".to_owned());
        }
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": { "pageLoad": settings.page_timeout.as_millis() as u64, "script": 10_000, "implicit": 0 },
            "goog:chromeOptions": {
                "binary": settings.chromium_path.display().to_string(),
                "args": args,
                "prefs": {
                    "download_restrictions": 3,
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                    "profile.default_content_setting_values.notifications": 2,
                    "profile.default_content_setting_values.geolocation": 2,
                    "credentials_enable_service": false,
                    "profile.password_manager_enabled": false,
                    "autofill.profile_enabled": false,
                    "autofill.credit_card_enabled": false,
                    // No preconnecting to the default search engine (or anything else) at start-up.
                    "net.network_prediction_options": 2,
                    "signin.allowed": false,
                }
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            return Err(BrowserError::Session("capabilities are not an object".into()));
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = fantoccini::ClientBuilder::new(connector).capabilities(capabilities).connect(driver_url).await;
        match client {
            Ok(client) => Ok(Session { client, profile }),
            Err(error) => {
                let _ = std::fs::remove_dir_all(&profile);
                Err(BrowserError::Session(error.to_string()))
            }
        }
    }

    /// Ends the session (chromedriver stops chromium) and deletes the profile.
    pub async fn close(self) {
        if let Err(error) = self.client.close().await {
            tracing::warn!(%error, "closing the browser session failed");
        }
        let profile = self.profile;
        let _ = tokio::task::spawn_blocking(move || remove_profile(&profile)).await;
    }
}

fn remove_profile(profile: &Path) {
    // Chromium may still be writing its last files for a moment after the session ends.
    for _ in 0..20 {
        if std::fs::remove_dir_all(profile).is_ok() || !profile.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tracing::warn!(profile = %profile.display(), "a browser profile could not be deleted");
}
