//! Real chromium for the browser tests: the agent's own `Chromedriver` and `Session` (without the
//! guarded proxy, since these tests drive EmailGator's pages on loopback), and when to skip.

use std::time::Duration;

use emailgator::automation::browser::{BrowserSettings, Chromedriver, Session};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether chromium is here; without it browser tests are skipped, unless CI requires them.
pub fn has_browser() -> bool {
    let is_installed = std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !is_installed {
        assert!(
            std::env::var_os("EMAILGATOR_REQUIRE_BROWSER").is_none(),
            "EMAILGATOR_REQUIRE_BROWSER is set but chromium/chromedriver are missing: apt-get install -y chromium chromium-driver"
        );
        eprintln!("SKIPPED: chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)");
    }
    is_installed
}

/// One headless chromium session and its chromedriver. Dropping it (also when a test fails) ends
/// the session, so no chromium outlives the test; it needs a multi-threaded runtime for that.
pub struct Browser {
    session: Option<Session>,
    _driver: Chromedriver,
    _scratch: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        let driver = tokio::task::spawn_blocking(|| Chromedriver::start(CHROMEDRIVER.as_ref()))
            .await
            .expect("join")
            .expect("chromedriver starts");
        let settings = BrowserSettings {
            chromedriver_path: CHROMEDRIVER.into(),
            chromedriver_url: None,
            chromium_path: CHROMIUM.into(),
            page_timeout: Duration::from_secs(20),
        };
        let scratch = tempfile::tempdir().expect("scratch dir");
        let session = Session::open(driver.url(), &settings, None, scratch.path()).await.expect("chromium starts");
        Browser { session: Some(session), _driver: driver, _scratch: scratch }
    }

    pub fn client(&self) -> &fantoccini::Client {
        &self.session.as_ref().expect("the session is open").client
    }

    pub async fn close(mut self) {
        if let Some(session) = self.session.take() {
            session.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(session.close()));
        }
    }
}
