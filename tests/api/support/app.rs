//! `TestApp`: the application built by `Application::build`, serving on a free port, with an HTTP
//! client that keeps cookies. Background jobs are off unless a test turns them on; tests drain the
//! queue with `run_pending_jobs`. Failed jobs left at the end fail the test unless it expects them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use emailgator::clock::{Clock, FixedClock, SystemClock};
use emailgator::config::Config;
use emailgator::db::{self, DbConn, PooledConn};
use emailgator::domain::{EmailAddress, JobState};
use emailgator::jobs::runner::DrainReport;
use emailgator::jobs::{EnqueueOptions, Job};
use emailgator::services::auth;
use emailgator::startup::Application;
use emailgator::state::AppState;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::TestDb;
use super::test_jobs::{self, RUNS_TABLE};

pub struct TestApp {
    pub address: String,
    pub state: AppState,
    pub runner: emailgator::jobs::Runner,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    expects_failed_jobs: AtomicBool,
    clock: Arc<dyn Clock>,
    /// Keeps the test database until the app is gone.
    _db: Arc<TestDb>,
}

/// Settings every test app starts from; a test adds or overrides variables.
pub fn test_env(db: &TestDb, overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("DATABASE_URL", db.url.as_str()),
        ("EMAILGATOR__DATA_DIR", db.dir.path().to_str().expect("utf-8 path")),
        ("EMAILGATOR__SERVER__HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("EMAILGATOR__DATABASE__POOL_SIZE", "6"),
        ("EMAILGATOR__JOBS__ENABLED", "false"),
        ("EMAILGATOR__CRON__ENABLED", "false"),
        ("EMAILGATOR__JOBS__POLL_INTERVAL_MS", "20"),
        ("EMAILGATOR__JOBS__RETRY_BASE_MS", "10"),
        ("EMAILGATOR__JOBS__SHUTDOWN_GRACE_SECS", "5"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (key, value) in overrides {
        env.insert((*key).to_owned(), (*value).to_owned());
    }
    env
}

pub fn test_config(db: &TestDb, overrides: &[(&str, &str)]) -> Config {
    let config = Config::from_sources(None, &test_env(db, overrides)).expect("test settings are valid");
    emailgator::telemetry::init(&config.log);
    config
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
        let db = Arc::new(TestDb::new());
        Self::spawn_on(db, overrides).await
    }

    /// An app whose clock always says `now` (pages that show dates, snapshot tests).
    pub async fn spawn_at(now: chrono::NaiveDateTime, overrides: &[(&str, &str)]) -> TestApp {
        Self::spawn_on_with_clock(Arc::new(TestDb::new()), overrides, Arc::new(FixedClock(now))).await
    }

    /// Another instance on the same database (multi-instance tests).
    pub async fn spawn_on(db: Arc<TestDb>, overrides: &[(&str, &str)]) -> TestApp {
        Self::spawn_on_with_clock(db, overrides, Arc::new(SystemClock)).await
    }

    async fn spawn_on_with_clock(db: Arc<TestDb>, overrides: &[(&str, &str)], clock: Arc<dyn Clock>) -> TestApp {
        let config = test_config(&db, overrides);
        let app = Application::build_with_clock(config, test_jobs::registry(), clock.clone())
            .await
            .expect("application starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let runner = app.runner().clone();
        let shutdown = app.shutdown_token();
        let server = tokio::spawn(app.run_until_stopped());
        let client = super::http_client()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        let test_app = TestApp {
            address,
            state,
            runner,
            client,
            shutdown,
            server: Some(server),
            expects_failed_jobs: AtomicBool::new(false),
            clock,
            _db: db,
        };
        test_app.conn().execute_batch(RUNS_TABLE).expect("test runs table");
        test_app
    }

    pub fn conn(&self) -> PooledConn {
        self.state.pool.get().expect("a database connection")
    }

    pub fn now(&self) -> chrono::NaiveDateTime {
        self.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Runs every due job until none is due.
    pub async fn run_pending_jobs(&self) -> DrainReport {
        self.runner.drain().await
    }

    pub fn enqueue<J: Job>(&self, job: &J) -> String {
        self.enqueue_with(job, EnqueueOptions::default()).expect("enqueued")
    }

    pub fn enqueue_with<J: Job>(&self, job: &J, options: EnqueueOptions) -> Option<String> {
        emailgator::jobs::enqueue(&mut self.conn(), job, options, self.now()).expect("enqueue")
    }

    pub fn job(&self, id: &str) -> db::jobs::JobRow {
        db::jobs::find(&mut self.conn(), id).expect("query").expect("job exists")
    }

    /// Jobs some worker holds now (crash and fault tests wait for none before draining).
    pub fn running_jobs(&self) -> i64 {
        use diesel::prelude::*;
        use emailgator::db::schema::jobs;
        jobs::table.filter(jobs::state.eq("running")).count().get_result(&mut self.conn()).expect("running jobs")
    }

    pub fn runs(&self, key_prefix: &str) -> i64 {
        test_jobs::count_runs(&mut self.conn(), key_prefix)
    }

    /// This test leaves failed jobs on purpose.
    pub fn expect_failed_jobs(&self) {
        self.expects_failed_jobs.store(true, Ordering::SeqCst);
    }

    /// Signs the HTTP client in as the local owner (an admin) through the real link flow.
    pub async fn sign_in_as_owner(&self) {
        let owner = EmailAddress::parse(&self.state.config.local.owner_email).expect("owner email");
        let token = {
            let mut conn = self.conn();
            let user = auth::ensure_local_owner(&mut conn, &owner, self.now()).expect("owner");
            auth::create_login_token(&mut conn, &user.id, std::time::Duration::from_secs(60), self.now())
                .expect("token")
        };
        self.sign_in_with_token(&token).await;
    }

    /// Signs the client in as a new ordinary user with this address.
    pub async fn sign_in_as(&self, email: &str) {
        let (_, token) = self.new_user(email);
        self.sign_in_with_token(&token).await;
    }

    /// A second browser, signed in as a new ordinary user with this address; and that user's id.
    pub async fn other_browser(&self, email: &str) -> (reqwest::Client, String) {
        let (user_id, token) = self.new_user(email);
        let client = crate::support::http_client()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = client.post(self.url("/auth/local")).form(&[("token", token)]).send().await.expect("sign in");
        assert_eq!(response.status(), 303, "signing in redirects home");
        (client, user_id)
    }

    /// A new ordinary user and a one-time sign-in token for them.
    fn new_user(&self, email: &str) -> (String, String) {
        {
            let mut conn = self.conn();
            let now = self.now();
            let user = db::users::User {
                id: db::new_id(),
                email: email.to_owned(),
                name: "Test User".into(),
                is_admin: false,
                ai_settings: "{}".into(),
                created_at: now,
                updated_at: now,
                google_subject: None,
                is_keeping_inbox: false,
                is_labelling: true,
            };
            db::users::insert(&mut conn, &user).expect("user");
            let token =
                auth::create_login_token(&mut conn, &user.id, std::time::Duration::from_secs(60), now).expect("token");
            (user.id, token)
        }
    }

    pub async fn sign_in_with_token(&self, token: &str) -> reqwest::Response {
        let response =
            self.client.post(self.url("/auth/local")).form(&[("token", token)]).send().await.expect("sign in");
        assert_eq!(response.status(), 303, "signing in redirects home");
        response
    }

    /// Posts a form as the signed-in browser would.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(self.url(path)).form(fields).send().await.expect("post")
    }

    /// The CSRF token the signed-in pages carry.
    pub async fn csrf_token(&self) -> String {
        let page = self.client.get(self.url("/")).send().await.expect("home").text().await.expect("body");
        let marker = "name=\"csrf\" value=\"";
        let start = page.find(marker).expect("a csrf field on the signed-in page") + marker.len();
        page[start..].split('"').next().expect("token").to_owned()
    }

    /// Stops the application as SIGTERM would, and waits for it.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("clean shutdown");
        }
    }

    fn failed_jobs(conn: &mut DbConn) -> Vec<db::jobs::JobRow> {
        db::jobs::list_recent_failures(conn, 100).unwrap_or_default()
    }

    pub fn count_jobs(&self, state: JobState) -> i64 {
        db::jobs::count_in_state(&mut self.conn(), state).expect("count")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if std::thread::panicking() || self.expects_failed_jobs.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(mut conn) = self.state.pool.get() {
            let failed = Self::failed_jobs(&mut conn);
            assert!(failed.is_empty(), "the test left failed jobs: {failed:#?}");
        }
    }
}
