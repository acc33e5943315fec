//! Test support: fresh databases, `TestApp` (the real application on a free port), test job kinds,
//! real chromium for the browser tests, a PostgreSQL server of a test's own.

pub mod app;
pub mod browser;
pub mod database;
pub mod fake_google;
pub mod fake_sentry;
pub mod fixture_pages;
pub mod mail_data;
pub mod private_postgres;
pub mod query_count;
pub mod test_jobs;

pub use app::TestApp;
pub use database::TestDb;

/// An HTTP client builder; rustls needs its crypto provider installed first (ring, as in `main`).
pub fn http_client() -> reqwest::ClientBuilder {
    emailgator::startup::install_tls_provider();
    reqwest::Client::builder()
}

/// Polls `check` every 20 ms until it returns true or `seconds` pass; fails the test on time-out.
pub async fn wait_until<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
