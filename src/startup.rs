//! `Application::build(config)`: the one start-up path, used by `serve` and by the tests. It opens
//! the pool, migrates, binds the listener, and starts the web server, the job runner and cron.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clients::google::GoogleOAuth;
use crate::clients::mail::MailProviders;
use crate::clients::mail::gmail::GmailConnector;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db;
use crate::encryption::Keyring;
use crate::jobs::cron::{self, Leadership};
use crate::jobs::{JobContext, JobRegistry, Runner};
use crate::services::gmail_tokens::GmailTokens;
use crate::sorting::llm::LlmSorter;
use crate::state::AppState;
use crate::web::{csrf, graphql, headers, metrics, request_id, routes};

pub struct Application {
    /// Installed before anything starts, so a SIGTERM at any moment stops gracefully.
    stop_signal: StopSignal,
    port: u16,
    server: actix_web::dev::Server,
    state: AppState,
    runner: Runner,
    shutdown: CancellationToken,
    background: Vec<JoinHandle<()>>,
    /// Closed last, so no browser outlives the process.
    unsubscriber: Arc<dyn crate::automation::Unsubscriber>,
}

impl Application {
    pub async fn build(config: Config, registry: JobRegistry) -> anyhow::Result<Self> {
        Self::build_with_clock(config, registry, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        config: Config,
        registry: JobRegistry,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let stop_signal = StopSignal::install()?;
        install_tls_provider();
        tracing::info!(settings = config.redacted_summary(), "starting EmailGator");
        let pool = open_database(&config, config.database.is_migrate_on_start).await?;

        let listener = TcpListener::bind((config.server.host.as_str(), config.server.port))
            .with_context(|| format!("cannot listen on {}:{}", config.server.host, config.server.port))?;
        let port = listener.local_addr()?.port();
        let public_url = config.public_url_for_port(port).context("server.host does not form a URL")?;

        let config = Arc::new(config);
        let leadership = Leadership::default();
        let keyring = Keyring::new(&config.security.encryption_keys);
        let google = GoogleOAuth::from_config(&config.google, &public_url);
        let mail = MailProviders::new(google.clone().map(|oauth| {
            let tokens = GmailTokens::new(pool.clone(), keyring.clone(), oauth, clock.clone());
            Arc::new(GmailConnector::new(&config.google.gmail_base_url, config.google.gmail.clone(), Arc::new(tokens)))
        }));
        let state = AppState {
            pool: pool.clone(),
            config: config.clone(),
            clock: clock.clone(),
            metrics: Arc::default(),
            leadership: leadership.clone(),
            public_url,
            google,
            keyring: keyring.clone(),
            mail: mail.clone(),
        };
        let llm = crate::sorting::llm::LlmSettings::from_config(&config.openai).map(|s| Arc::new(LlmSorter::new(s)));
        let unsubscriber = crate::automation::from_config(&config);
        let ctx = Arc::new(JobContext {
            pool,
            config: config.clone(),
            clock,
            mail,
            keyring,
            llm,
            unsubscriber: unsubscriber.clone(),
        });
        let runner = Runner::new(ctx.clone(), registry, config.jobs.clone(), config.instance_id.clone());
        let shutdown = CancellationToken::new();
        let mut background = Vec::new();
        if config.jobs.is_enabled {
            background.push(runner.start(shutdown.child_token()));
        }
        if config.cron.is_enabled {
            let cron =
                cron::start(ctx, config.cron.clone(), config.instance_id.clone(), leadership, shutdown.child_token())
                    .await
                    .context("cannot start cron")?;
            background.push(cron);
        }

        let data = web::Data::new(state.clone());
        let schema = web::Data::new(graphql::build_schema(&config.graphql));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(schema.clone())
                .app_data(web::FormConfig::default().limit(64 * 1024))
                .wrap(from_fn(csrf::check_origin))
                .wrap(headers::security_headers())
                .wrap(Compress::default())
                .wrap(from_fn(metrics::track))
                .wrap(from_fn(request_id::track))
                .wrap(request_log())
                .configure(routes::configure)
                .default_service(web::to(not_found))
        })
        .disable_signals()
        .shutdown_timeout(config.jobs.shutdown_grace.as_secs().max(1))
        .listen(listener)?
        .run();

        tracing::info!(port, public_url = %state.public_url, "listening");
        Ok(Self { stop_signal, port, server, state, runner, shutdown, background, unsubscriber })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Cancelling this token stops the application gracefully, as SIGTERM does.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until SIGTERM, Ctrl-C or the shutdown token; then stops taking requests and jobs, lets
    /// running work finish within the grace period, and releases what is left.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        tokio::select! {
            _ = self.shutdown.cancelled() => {}
            _ = self.stop_signal.received() => tracing::info!("shutdown requested"),
        }
        self.shutdown.cancel();
        handle.stop(true).await;
        for task in self.background {
            if let Err(error) = task.await {
                tracing::error!(%error, "a background task ended abnormally");
            }
        }
        server.await.context("web server task")?.context("web server")?;
        // After the jobs stopped: no attempt can start another browser now.
        self.unsubscriber.shut_down().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Opens the pool and, if asked, applies pending migrations; otherwise refuses an outdated schema.
pub async fn open_database(config: &Config, is_migrating: bool) -> anyhow::Result<db::DbPool> {
    let url = config.database.url.expose_secret().to_owned();
    let (size, timeout, cache) =
        (config.database.pool_size, config.database.connect_timeout, config.database.is_statement_cache_enabled);
    let redacted = config.redacted_database_url();
    tokio::task::spawn_blocking(move || -> anyhow::Result<db::DbPool> {
        let pool = db::connect_pool(&url, size, timeout, cache)
            .with_context(|| format!("cannot open the database {redacted}"))?;
        let mut conn = pool.get()?;
        if is_migrating && conn.is_read_only()? {
            // A standby after a failover: reading still works, so start if the schema is current.
            let pending = db::migrations::pending(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::ensure!(
                pending.is_empty(),
                "the database is read-only and needs migrations {pending:?}: make it writable and start again"
            );
            tracing::error!("the database is read-only: started without migrating; nothing is imported or changed until it takes changes again");
        } else if is_migrating {
            let applied =
                db::migrations::run_pending(&mut conn).map_err(|e| anyhow::anyhow!("migrations failed: {e}"))?;
            if !applied.is_empty() {
                tracing::info!(?applied, "applied migrations");
            }
        } else {
            let pending = db::migrations::pending(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::ensure!(pending.is_empty(), "the database needs migrations {pending:?}: run `emailgator migrate`");
        }
        Ok(pool)
    })
    .await?
}

/// SIGTERM or Ctrl-C, listened for from the moment it is installed.
struct StopSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot listen for SIGTERM")?;
            Ok(Self { term })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn received(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn not_found() -> Result<actix_web::HttpResponse, crate::error::AppError> {
    Err(crate::error::AppError::NotFound)
}

/// Logs one line per request with its status, duration and request id.
fn request_log() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%r %s %Dms %{x-request-id}o").log_target("emailgator::http")
}

/// rustls needs one process-wide crypto provider: ring (FACTS.md: aws-lc-rs must not be linked).
/// Called first in `main` and again here for the tests; a second call changes nothing.
pub fn install_tls_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}
