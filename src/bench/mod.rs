//! `emailgator bench`: on-demand performance measurements (not timed tests).
//! `bench jobs` measures no-op job throughput; `bench serve` measures start-to-healthy time and idle memory;
//! `bench pages` measures every page and GraphQL `categoryEmails` at 100,000 emails, and with `--load`
//! drives them with `wrk`;
//! `bench unsubscribe` measures the unsubscribe agent on the fixture pages in real chromium.

pub mod fixture_pages;
mod load;
mod pages;
mod unsubscribe;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db;
use crate::domain::JobState;
use crate::jobs::{EnqueueOptions, Job, JobContext, JobError, JobRegistry, Runner};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// No-op job throughput through the real queue (claim, run, complete).
    Jobs {
        #[arg(long, default_value_t = 20_000)]
        count: usize,
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// The database to use; a fresh temporary SQLite file when omitted.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Import throughput from a Maildir of varied generated messages (parse, store, archive), AI off.
    Import {
        #[arg(long, default_value_t = 5_000)]
        count: usize,
        /// The database to use; a fresh temporary SQLite file when omitted.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The sorters on the labelled evaluation set: local accuracy and macro-F1 (zero-shot and after
    /// learning 20 %), local speed, and the hybrid pipeline's AI cost against the fake server.
    Sorting,
    /// Server-side latency (p50/p99) of every signed-in page for one user with many emails.
    Pages {
        #[arg(long, default_value_t = 100_000)]
        emails: usize,
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// The database to use; a fresh temporary SQLite file when omitted.
        #[arg(long)]
        database_url: Option<String>,
        /// Then load the category page and GraphQL `categoryEmails` with `wrk` for this many
        /// seconds each (apt-get install wrk).
        #[arg(long)]
        load: Option<u64>,
        /// Add about this many KiB to each email's HTML body (and half as much to its text): real
        /// mail's size, which the list pages must not pay for.
        #[arg(long, default_value_t = 0)]
        body_kb: usize,
    },
    /// Start-to-healthy time and idle resident memory of `emailgator serve`.
    Serve {
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The unsubscribe agent on the fixture pages in real chromium: attempts/min, p50 per one-click and
    /// per browser attempt, memory per browser session, processes left, success rate, false successes.
    Unsubscribe {
        #[arg(long, default_value_t = 50)]
        attempts: usize,
        #[arg(long, default_value_t = 2)]
        browsers: usize,
    },
}

const BENCH_QUEUE: &str = "bench";

/// The job the throughput benchmark runs: nothing, so the queue itself is measured.
#[derive(Debug, Serialize, Deserialize)]
struct BenchNoop {
    n: usize,
}

impl Job for BenchNoop {
    const KIND: &'static str = "bench_noop";
    const QUEUE: &'static str = BENCH_QUEUE;

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

pub async fn run(command: BenchCommand, config: Config) -> anyhow::Result<()> {
    match command {
        BenchCommand::Jobs { count, workers, database_url } => bench_jobs(config, count, workers, database_url).await,
        BenchCommand::Import { count, database_url } => bench_import(config, count, database_url).await,
        BenchCommand::Pages { emails, requests, database_url, load, body_kb } => {
            pages::run(config, emails, requests, database_url, load, body_kb).await
        }
        BenchCommand::Sorting => crate::sorting::evaluation::run().await,
        BenchCommand::Serve { runs } => tokio::task::spawn_blocking(move || bench_serve(runs)).await?,
        BenchCommand::Unsubscribe { attempts, browsers } => unsubscribe::run(config, attempts, browsers).await,
    }
}

async fn bench_jobs(
    mut config: Config,
    count: usize,
    workers: usize,
    database_url: Option<String>,
) -> anyhow::Result<()> {
    let temp = tempfile_dir()?;
    let url = database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db", temp.display()));
    config.database.url = url.clone().into();
    config.database.pool_size = u32::try_from(workers + 4).unwrap_or(8);
    config.jobs.queues = BTreeMap::from([(BENCH_QUEUE.to_owned(), workers)]);
    config.jobs.poll_interval = Duration::from_millis(5);
    let pool = crate::startup::open_database(&config, true).await?;
    let backend = {
        let mut conn = pool.get()?;
        db::jobs::delete_queue(&mut conn, BENCH_QUEUE)?;
        conn.backend()
    };

    let enqueue_started = Instant::now();
    let insert_pool = pool.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = insert_pool.get()?;
        let now = SystemClock.now();
        for chunk in (0..count).collect::<Vec<_>>().chunks(1000) {
            db::transaction(&mut conn, |conn| {
                for n in chunk {
                    crate::jobs::enqueue(conn, &BenchNoop { n: *n }, EnqueueOptions::default(), now)?;
                }
                db::QueryResult::Ok(())
            })?;
        }
        Ok(())
    })
    .await??;
    let enqueue_seconds = enqueue_started.elapsed().as_secs_f64();

    let ctx = bench_context(&pool, &config);
    let runner = Runner::new(ctx, JobRegistry::default().with::<BenchNoop>(), config.jobs.clone(), "bench".into());
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let task = runner.start(shutdown.clone());
    let target = i64::try_from(count)?;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let pool = pool.clone();
        let done: i64 = tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
            let mut conn = pool.get()?;
            Ok(db::jobs::count_in_queue_and_state(&mut conn, BENCH_QUEUE, JobState::Completed)?)
        })
        .await??;
        if done >= target {
            break;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "benchmark did not finish: {done} of {count}");
    }
    let seconds = started.elapsed().as_secs_f64();
    shutdown.cancel();
    task.await?;
    println!(
        "bench jobs: backend={backend:?} jobs={count} workers={workers} run={seconds:.2}s throughput={:.0} jobs/s \
         (enqueue {:.0} jobs/s)",
        count as f64 / seconds,
        count as f64 / enqueue_seconds
    );
    Ok(())
}

async fn bench_import(mut config: Config, count: usize, database_url: Option<String>) -> anyhow::Result<()> {
    let temp = tempfile_dir()?;
    let url = database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db", temp.display()));
    config.database.url = url.into();
    config.jobs.poll_interval = Duration::from_millis(5);
    let pool = crate::startup::open_database(&config, true).await?;
    let maildir = temp.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub))?;
    }
    for n in 0..count {
        std::fs::write(maildir.join("new").join(format!("{:010}.M{n}.bench", 1_700_000_000 + n)), sample_message(n))?;
    }
    let owner = crate::domain::EmailAddress::parse(&format!("bench-{}@localhost", uuid::Uuid::new_v4().simple()))?;
    let mailbox = {
        let mut conn = pool.get()?;
        crate::services::mailboxes::add_maildir(&mut conn, &owner, &maildir, SystemClock.now())
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
    };
    let ctx = bench_context(&pool, &config);
    let runner = Runner::new(ctx, JobRegistry::standard(), config.jobs.clone(), "bench".into());
    // This process is the whole app minus the web server: its peak is the import's memory.
    let before_kib = memory_kib(std::process::id(), "VmRSS:")?;
    let started = Instant::now();
    {
        let mut conn = pool.get()?;
        let job = crate::jobs::SyncMailbox { mailbox_id: mailbox.id.clone() };
        crate::jobs::enqueue(&mut conn, &job, EnqueueOptions::default(), SystemClock.now())?;
    }
    let shutdown = CancellationToken::new();
    let task = runner.start(shutdown.clone());
    let target = i64::try_from(count)?;
    wait_for_state(&pool, &mailbox.id, "imported", target, started).await?;
    let import_seconds = started.elapsed().as_secs_f64();
    let bytes: u64 =
        std::fs::read_dir(maildir.join("new"))?.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();

    // Archiving needs sorted mail: every email goes to one category (sorting itself is measured by its
    // own benchmark), then the archive jobs move the files into .Archive.
    let archive_started = Instant::now();
    {
        let (pool, mailbox) = (pool.clone(), mailbox.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let mut conn = pool.get()?;
            let now = SystemClock.now();
            let category = db::categories::Category {
                id: db::new_id(),
                user_id: mailbox.user_id.clone(),
                name: "Bench".into(),
                name_key: "bench".into(),
                description: "Everything".into(),
                position: 0,
                gmail_label_ids: "{}".into(),
                created_at: now,
                updated_at: now,
            };
            db::categories::insert(&mut conn, &category)?;
            let ids = db::emails::sort_all_for_bench(&mut conn, &mailbox.id, &category.id)?;
            for chunk in ids.chunks(500) {
                let job = crate::jobs::ArchiveMessages { mailbox_id: mailbox.id.clone(), email_ids: chunk.to_vec() };
                crate::jobs::enqueue(&mut conn, &job, EnqueueOptions::default(), now)?;
            }
            Ok(())
        })
        .await??;
    }
    wait_for_state(&pool, &mailbox.id, "archived", target, started).await?;
    let archive_seconds = archive_started.elapsed().as_secs_f64();
    shutdown.cancel();
    task.await?;
    let archived_files = std::fs::read_dir(maildir.join(".Archive/cur"))?.count();
    anyhow::ensure!(archived_files == count, "{archived_files} of {count} files were moved to .Archive");
    let peak_kib = memory_kib(std::process::id(), "VmHWM:")?;
    println!(
        "bench import: backend={:?} messages={count} ({:.1} MiB) import={import_seconds:.2}s ({:.0} messages/s) \
         archive={archive_seconds:.2}s end-to-end={:.0} messages/s memory: before={:.1} MiB peak={:.1} MiB",
        pool.get()?.backend(),
        bytes as f64 / 1_048_576.0,
        count as f64 / import_seconds,
        count as f64 / (import_seconds + archive_seconds),
        before_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0,
    );
    std::fs::remove_dir_all(&temp).ok();
    Ok(())
}

/// Waits until `target` emails of the mailbox are in `state` (ten minutes at most since `started`).
async fn wait_for_state(
    pool: &db::DbPool,
    mailbox_id: &str,
    state: &'static str,
    target: i64,
    started: Instant,
) -> anyhow::Result<()> {
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (pool, id) = (pool.clone(), mailbox_id.to_owned());
        let states = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            Ok(db::emails::count_by_state(&mut *pool.get()?, &id)?)
        })
        .await??;
        if states.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n) >= target {
            return Ok(());
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "not all {state} yet: {states:?}");
    }
}

/// A message of one of several kinds (plain, HTML newsletter with list headers, non-English,
/// multipart with an attachment, malformed), so parsing cost resembles a real inbox.
fn sample_message(n: usize) -> String {
    let date = format!("Date: Tue, 24 Nov 2026 {:02}:{:02}:00 +0100\r\n", n % 24, n % 60);
    let id = format!("Message-ID: <bench-{n}@example.com>\r\n");
    match n % 5 {
        0 => format!(
            "From: Ann Example <ann@example.com>\r\nTo: bench@localhost\r\nSubject: Lunch on Friday? ({n})\r\n{date}{id}\r\n\
             Hi,\r\n\r\nAre you free for lunch on Friday? The new place by the station opened.\r\n\r\n-- \r\nAnn\r\n"
        ),
        1 => format!(
            "From: \"Shop News\" <news@shop.example>\r\nTo: bench@localhost\r\nSubject: Weekly deals #{n}\r\n{date}{id}\
             List-Id: Shop News <news.shop.example>\r\nList-Unsubscribe: <https://shop.example/u/{n}>, <mailto:u@shop.example>\r\n\
             List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/alternative; boundary=\"b{n}\"\r\n\r\n--b{n}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             This week: 20% off shoes, free delivery over 50 EUR.\r\n--b{n}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
             <html><body><table><tr><td><h1>Weekly deals</h1><p>This week: <b>20% off</b> shoes.</p>\
             <img src=\"https://shop.example/pixel/{n}.gif\"><a href=\"https://shop.example/d\">Shop now</a>\
             </td></tr></table></body></html>\r\n--b{n}--\r\n"
        ),
        2 => format!(
            "From: =?UTF-8?B?w4lsb2TDqWU=?= <elodie@exemple.fr>\r\nTo: bench@localhost\r\n\
             Subject: =?ISO-8859-1?Q?R=E9servation_confirm=E9e?= {n}\r\n{date}{id}MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
             Votre r=E9servation pour le 12 d=E9cembre est confirm=E9e. Merci !\r\n"
        ),
        3 => format!(
            "From: Billing <billing@saas.example>\r\nTo: bench@localhost\r\nSubject: Your receipt {n}\r\n{date}{id}\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m{n}\"\r\n\r\n--m{n}\r\n\
             Content-Type: text/plain\r\n\r\nThanks for your payment of 12.00 USD.\r\n--m{n}\r\n\
             Content-Type: application/pdf; name=receipt.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\r\n--m{n}--\r\n"
        ),
        _ => format!("Subject broken {n}\r\nno colon here\r\n\x01\x02 garbage {n}\r\n"),
    }
}

/// What the benchmarked jobs run with: the production context on the benchmark's database.
fn bench_context(pool: &db::DbPool, config: &Config) -> Arc<JobContext> {
    Arc::new(JobContext {
        pool: pool.clone(),
        config: Arc::new(config.clone()),
        clock: Arc::new(SystemClock),
        mail: Default::default(),
        keyring: crate::encryption::Keyring::new(&config.security.encryption_keys),
        llm: None,
        unsubscriber: crate::automation::from_config(config),
    })
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("emailgator-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn is_healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    stream.read_to_string(&mut response).is_ok() && response.starts_with("HTTP/1.1 200")
}

fn resident_kib(pid: u32) -> anyhow::Result<u64> {
    memory_kib(pid, "VmRSS:")
}

/// A memory line of `/proc/PID/status` in KiB: `VmRSS:` now, `VmHWM:` the peak so far.
fn memory_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc status"))
}

fn bench_serve(runs: usize) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut startups = Vec::new();
    let mut memory = Vec::new();
    for _ in 0..runs {
        let data = tempfile_dir()?;
        let port = free_port()?;
        let started = Instant::now();
        let mut child = Command::new(&exe)
            .arg("serve")
            .env("EMAILGATOR__DATA_DIR", &data)
            .env("EMAILGATOR__SERVER__HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        while !is_healthy(port) {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "serve did not become healthy");
            std::thread::sleep(Duration::from_millis(5));
        }
        startups.push(started.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_secs(3));
        memory.push(resident_kib(child.id())? as f64 / 1024.0);
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
        child.wait()?;
        std::fs::remove_dir_all(&data).ok();
    }
    startups.sort_by(f64::total_cmp);
    memory.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v[v.len() / 2];
    println!(
        "bench serve: runs={runs} start-to-healthy median={:.0}ms max={:.0}ms; idle RSS median={:.1}MiB max={:.1}MiB",
        median(&startups),
        startups[startups.len() - 1],
        median(&memory),
        memory[memory.len() - 1]
    );
    Ok(())
}
