//! Job kinds used only by tests. Runs are recorded in `test_job_runs`, whose primary key makes a
//! second run of the same key fail loudly.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use emailgator::db::DbConn;
use emailgator::jobs::{Job, JobContext, JobError, JobRegistry};
use serde::{Deserialize, Serialize};

pub const RUNS_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS test_job_runs (key TEXT PRIMARY KEY NOT NULL, runner TEXT NOT NULL)";

/// Every test job kind, on top of the product's own.
pub fn registry() -> JobRegistry {
    JobRegistry::standard()
        .with::<RecordRun>()
        .with::<FailTimes>()
        .with::<AlwaysRetry>()
        .with::<FailPermanently>()
        .with::<Snoozes>()
        .with::<Panics>()
        .with::<Hangs>()
        .with::<Sleeps>()
        .with::<BlocksFirstRun>()
}

/// Keys are made by the tests themselves from letters, digits, `-` and `_`.
fn checked(key: &str) -> &str {
    assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "unsafe key {key:?}");
    key
}

pub fn record(conn: &mut DbConn, key: &str, runner: &str) -> Result<(), JobError> {
    conn.execute_batch(&format!(
        "INSERT INTO test_job_runs (key, runner) VALUES ('{}', '{}')",
        checked(key),
        checked(runner)
    ))
    .map_err(|e| JobError::Permanent(format!("run {key} recorded twice: {e}")))
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub fn count_runs(conn: &mut DbConn, key_prefix: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM test_job_runs WHERE key LIKE '{}%'", checked(key_prefix));
    let rows: Vec<Count> = match conn {
        DbConn::Pg(c) => diesel::sql_query(sql).load(c),
        DbConn::Sqlite(c) => diesel::sql_query(sql).load(c),
    }
    .expect("count runs");
    rows.first().map_or(0, |r| r.n)
}

/// How many different runners recorded runs of keys starting with `key_prefix`.
pub fn distinct_runners(conn: &mut DbConn, key_prefix: &str) -> i64 {
    let sql =
        format!("SELECT COUNT(DISTINCT runner) AS n FROM test_job_runs WHERE key LIKE '{}%'", checked(key_prefix));
    let rows: Vec<Count> = match conn {
        DbConn::Pg(c) => diesel::sql_query(sql).load(c),
        DbConn::Sqlite(c) => diesel::sql_query(sql).load(c),
    }
    .expect("count runners");
    rows.first().map_or(0, |r| r.n)
}

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = diesel::sql_types::Text)]
    unique_key: String,
}

/// Every job's unique key that starts with `prefix` (cron tick keys), duplicates included.
pub fn unique_keys(conn: &mut DbConn, prefix: &str) -> Vec<String> {
    let sql = format!("SELECT unique_key FROM jobs WHERE unique_key LIKE '{}%'", prefix.replace('\'', ""));
    let rows: Vec<Key> = match conn {
        DbConn::Pg(c) => diesel::sql_query(sql).load(c),
        DbConn::Sqlite(c) => diesel::sql_query(sql).load(c),
    }
    .expect("unique keys");
    rows.into_iter().map(|r| r.unique_key).collect()
}

#[derive(QueryableByName)]
struct Args {
    #[diesel(sql_type = diesel::sql_types::Text)]
    args: String,
}

/// Every provider id queued for import, duplicates included.
pub fn import_job_ids(conn: &mut DbConn) -> Vec<String> {
    let sql = "SELECT args FROM jobs WHERE kind = 'import_messages'";
    let rows: Vec<Args> = match conn {
        DbConn::Pg(c) => diesel::sql_query(sql).load(c),
        DbConn::Sqlite(c) => diesel::sql_query(sql).load(c),
    }
    .expect("import jobs");
    rows.iter()
        .flat_map(|row| {
            let job: emailgator::jobs::ImportMessages = serde_json::from_str(&row.args).expect("import args");
            job.ids
        })
        .collect()
}

fn with_conn<T>(ctx: &JobContext, work: impl FnOnce(&mut DbConn) -> Result<T, JobError>) -> Result<T, JobError> {
    let mut conn = ctx.pool.get().map_err(|e| JobError::Retry(e.to_string()))?;
    work(&mut conn)
}

static ATTEMPTS: LazyLock<Mutex<HashMap<String, i64>>> = LazyLock::new(Mutex::default);

/// Counts this process's runs of `key`; returns the new count.
fn bump(key: &str) -> i64 {
    let mut attempts = ATTEMPTS.lock().expect("attempts lock");
    let n = attempts.entry(key.to_owned()).or_default();
    *n += 1;
    *n
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RecordRun {
    pub key: String,
}

impl Job for RecordRun {
    const KIND: &'static str = "test_record_run";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let runner = ctx.config.instance_id.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        with_conn(ctx, |conn| record(conn, &self.key, &runner))
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FailTimes {
    pub key: String,
    pub failures: i64,
}

impl Job for FailTimes {
    const KIND: &'static str = "test_fail_times";
    const MAX_ATTEMPTS: i64 = 5;

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        if bump(&self.key) <= self.failures { Err(JobError::Retry("upstream returned 503".into())) } else { Ok(()) }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AlwaysRetry {}

impl Job for AlwaysRetry {
    const KIND: &'static str = "test_always_retry";
    const MAX_ATTEMPTS: i64 = 2;

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        Err(JobError::Retry("still failing".into()))
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FailPermanently {}

impl Job for FailPermanently {
    const KIND: &'static str = "test_fail_permanently";

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        Err(JobError::Permanent("the grant was revoked".into()))
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Snoozes {
    pub key: String,
}

impl Job for Snoozes {
    const KIND: &'static str = "test_snoozes";

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        if bump(&self.key) == 1 { Err(JobError::Snooze(Duration::from_secs(3600))) } else { Ok(()) }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Panics {}

impl Job for Panics {
    const KIND: &'static str = "test_panics";

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        panic!("boom");
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Hangs {}

impl Job for Hangs {
    const KIND: &'static str = "test_hangs";
    const TIMEOUT: Option<Duration> = Some(Duration::from_millis(100));

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    }
}

/// Sleeps, then records its key: shows whether it finished.
#[derive(Debug, Serialize, Deserialize)]
pub struct Sleeps {
    pub key: String,
    pub millis: u64,
}

impl Job for Sleeps {
    const KIND: &'static str = "test_sleeps";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        with_conn(ctx, |conn| record(conn, &format!("{}-started", self.key), "r"))?;
        tokio::time::sleep(Duration::from_millis(self.millis)).await;
        with_conn(ctx, |conn| record(conn, &format!("{}-finished", self.key), "r"))
    }
}

/// The crash test's job: the first run records that it started and never ends (its process is
/// killed); a later run records that it finished.
#[derive(Debug, Serialize, Deserialize)]
pub struct BlocksFirstRun {
    pub key: String,
}

impl Job for BlocksFirstRun {
    const KIND: &'static str = "test_blocks_first_run";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let started = format!("{}-started", self.key);
        let is_first = with_conn(ctx, |conn| Ok(count_runs(conn, &started) == 0))?;
        if is_first {
            with_conn(ctx, |conn| record(conn, &started, "child"))?;
            std::future::pending::<()>().await;
        }
        with_conn(ctx, |conn| record(conn, &format!("{}-finished", self.key), "parent"))
    }
}
