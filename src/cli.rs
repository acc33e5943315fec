//! The command line: `serve` (the default), `migrate`, `login-link`, `jobs`, `demo`, `mailbox`, `sidecar`,
//! `unsubscribe`, `bench`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db;
use crate::domain::{EmailAddress, JobState};
use crate::jobs::JobRegistry;
use crate::services::auth;
use crate::startup::{Application, open_database};

/// Prints a line for the operator. Unlike `println!` it does not panic when stdout is closed
/// (`emailgator serve | head -1`, a detached terminal): the server must keep running.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[derive(Debug, Parser)]
#[command(name = "emailgator", version, about = "Self-hostable AI email sorter")]
pub struct Cli {
    /// A settings file to read instead of ./emailgator.toml.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server, the job runner and cron (the default).
    Serve {
        /// Do not apply pending migrations at start (refuse to start if any are pending).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and exit (the release command).
    Migrate,
    /// Print a fresh one-time sign-in link for the local owner.
    LoginLink,
    /// Show job counts per queue and state, and recent failures.
    Jobs {
        /// How many recent failures to list.
        #[arg(long, default_value_t = 10)]
        failures: i64,
    },
    /// Add the sample mailbox (78 emails) and starter categories, to try EmailGator without an account.
    Demo {
        /// Whose demo it is; the local owner by default.
        #[arg(long)]
        user: Option<String>,
    },
    /// Manage mailboxes from the server (operators only).
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// Serve only the unsubscribe agent over HTTP, for an app started with SIDECAR_URL and SIDECAR_TOKEN.
    Sidecar,
    /// Run one unsubscribe attempt and print the outcome, the steps and the screenshot path.
    Unsubscribe {
        /// An unsubscribe URL, or an email saved as a .eml file.
        target: String,
        /// The address the list sends to (the only one typed into forms).
        #[arg(long)]
        email: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Measure performance (see docs/PERFORMANCE.md).
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Add a Maildir folder (cur/, new/, tmp/) as a mailbox of the user with this address.
    AddMaildir {
        /// The user's email address (the user is created if new).
        #[arg(long)]
        user: String,
        /// The Maildir folder on this server.
        #[arg(long)]
        path: PathBuf,
    },
}

pub fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?;
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve { no_migrate: false }) {
            Command::Serve { no_migrate } => serve(config, no_migrate).await,
            Command::Migrate => migrate(config).await,
            Command::LoginLink => {
                let pool = open_database(&config, true).await?;
                let link = login_link(&config, &pool, &local_public_url(&config)?).await?;
                say!("{link}");
                Ok(())
            }
            Command::Jobs { failures } => jobs(config, failures).await,
            Command::Demo { user } => demo(config, user).await,
            Command::Mailbox(MailboxCommand::AddMaildir { user, path }) => add_maildir(config, &user, path).await,
            Command::Sidecar => crate::web::sidecar::serve(config).await,
            Command::Unsubscribe { target, email, json } => {
                crate::automation::cli::run(config, &target, &email, json).await
            }
            Command::Bench(command) => crate::bench::run(command, config).await,
        }
    })
}

async fn serve(mut config: Config, is_migrate_skipped: bool) -> anyhow::Result<()> {
    if is_migrate_skipped {
        config.database.is_migrate_on_start = false;
    }
    let is_google_configured = config.google.is_configured();
    let app = Application::build(config.clone(), JobRegistry::standard()).await?;
    if !is_google_configured {
        let link = login_link(&config, &app.state().pool, app.state().public_url.as_str()).await;
        say!("EmailGator is running at {}", app.state().public_url);
        match link {
            Ok(link) => {
                say!(
                    "Sign in as the owner with this one-time link (valid {} minutes):",
                    config.local.login_link_ttl.as_secs() / 60
                );
                say!("  {link}");
            }
            // A read-only or full database still serves what it has; the link needs a write.
            Err(error) if matches!(error.downcast_ref(), Some(crate::error::AppError::CannotWrite(_))) => {
                say!("No sign-in link: the database takes no changes now. Run `emailgator login-link` once it does.");
            }
            Err(error) => return Err(error),
        }
    }
    app.run_until_stopped().await
}

async fn migrate(mut config: Config) -> anyhow::Result<()> {
    // Behind a transaction-mode pooler the schema is changed over a connection that keeps its session.
    if let Some(url) = config.database.migration_url.take() {
        config.database.url = url;
        config.database.is_statement_cache_enabled = true;
        config.database.pool_size = 1;
    }
    open_database(&config, true).await?;
    say!("migrations are up to date ({})", config.redacted_database_url());
    Ok(())
}

fn local_public_url(config: &Config) -> anyhow::Result<String> {
    Ok(config.public_url_for_port(config.server.port).context("server.host does not form a URL")?.to_string())
}

/// Creates a one-time link that signs in the local owner.
async fn login_link(config: &Config, pool: &db::DbPool, public_url: &str) -> anyhow::Result<String> {
    let owner = EmailAddress::parse(&config.local.owner_email)?;
    let ttl = config.local.login_link_ttl;
    let pool = pool.clone();
    let token = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let mut conn = pool.get()?;
        let now = SystemClock.now();
        let user = auth::ensure_local_owner(&mut conn, &owner, now)?;
        Ok(auth::create_login_token(&mut conn, &user.id, ttl, now)?)
    })
    .await??;
    let base = public_url.trim_end_matches('/');
    Ok(format!("{base}/auth/local?token={token}"))
}

async fn add_maildir(config: Config, user: &str, path: PathBuf) -> anyhow::Result<()> {
    let email = EmailAddress::parse(user)?;
    let pool = open_database(&config, true).await?;
    let mailbox = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut conn = pool.get()?;
        let now = SystemClock.now();
        crate::services::mailboxes::add_maildir(&mut conn, &email, &path, now).map_err(|error| match error {
            crate::error::AppError::Invalid(fields) => {
                anyhow::anyhow!(fields.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; "))
            }
            other => anyhow::Error::new(other),
        })
    })
    .await??;
    say!("mailbox {} ({}) is ready; it syncs at the next poll", mailbox.id, mailbox.address);
    Ok(())
}

async fn demo(config: Config, user: Option<String>) -> anyhow::Result<()> {
    let is_owner = user.is_none();
    let email = EmailAddress::parse(user.as_deref().unwrap_or(&config.local.owner_email))?;
    let pool = open_database(&config, true).await?;
    let data_dir = config.data_dir.clone();
    let installed = {
        let pool = pool.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut conn = pool.get()?;
            let now = SystemClock.now();
            if is_owner {
                auth::ensure_local_owner(&mut conn, &email, now)?;
            }
            Ok(crate::demo::install(&mut conn, &data_dir, &email, now)?)
        })
        .await??
    };
    say!(
        "demo mailbox ready: {} sample emails in {}, {} starter categories added",
        crate::demo::corpus::MESSAGES.len(),
        installed.mailbox.maildir_path.as_deref().unwrap_or_default(),
        installed.categories_added
    );
    say!("it is imported as soon as `emailgator serve` runs (or is running)");
    if is_owner {
        say!("sign in as the owner: {}", login_link(&config, &pool, &local_public_url(&config)?).await?);
    }
    Ok(())
}

async fn jobs(config: Config, failures: i64) -> anyhow::Result<()> {
    let pool = open_database(&config, false).await?;
    let (counts, failed) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut conn = pool.get()?;
        Ok((db::jobs::count_by_queue_and_state(&mut conn)?, db::jobs::list_recent_failures(&mut conn, failures)?))
    })
    .await??;
    say!("{:<16} {}", "queue", JobState::ALL.map(|s| format!("{:>10}", s.as_str())).join(" "));
    let mut queues: Vec<&String> = counts.iter().map(|(q, _, _)| q).collect();
    queues.dedup();
    for queue in queues {
        let row = JobState::ALL.map(|state| {
            let n = counts.iter().find(|(q, s, _)| q == queue && s == state.as_str()).map_or(0, |(_, _, n)| *n);
            format!("{n:>10}")
        });
        say!("{queue:<16} {}", row.join(" "));
    }
    say!();
    if failed.is_empty() {
        say!("no recent failures");
    }
    for job in failed {
        say!(
            "{} {} {} attempt {}/{}: {}",
            job.id,
            job.kind,
            job.state,
            job.attempt,
            job.max_attempts,
            job.last_error.unwrap_or_default()
        );
    }
    Ok(())
}
