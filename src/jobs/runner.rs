//! The runner: per queue, claim due jobs up to the queue's concurrency and run each under a timeout
//! in its own task (so a panic is contained); outcomes are written in batches; leases are kept
//! renewed; jobs whose worker died are rescued; on shutdown claiming stops, running jobs get a grace
//! period, and the rest are released.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::backoff::retry_delay;
use super::{JobContext, JobError, JobRegistry};
use crate::config::JobsConfig;
use crate::db::jobs::{ClaimedJob, OutcomeWrite};
use crate::db::{self, DbPool};

/// Runs the jobs of this process. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

struct Inner {
    pool: DbPool,
    registry: JobRegistry,
    ctx: Arc<JobContext>,
    config: JobsConfig,
    /// Written into `lease_owner`; unique per process so outcomes are only written by the holder.
    owner: String,
    has_concurrent_writers: bool,
    held: HeldJobs,
}

/// The jobs this process has claimed and whose outcome it has not written yet: the only leases it
/// renews. A job whose outcome could not be written (the database was away) is let go, so that its
/// lease runs out and the rescuer hands it out again; renewing every lease this process holds would
/// keep such a job `running` for as long as the process lives.
#[derive(Default)]
struct HeldJobs(Mutex<HashSet<String>>);

impl HeldJobs {
    fn hold(&self, jobs: &[ClaimedJob]) {
        self.ids_mut().extend(jobs.iter().map(|job| job.id.clone()));
    }

    fn let_go<'a>(&self, ids: impl IntoIterator<Item = &'a String>) {
        let mut held = self.ids_mut();
        for id in ids {
            held.remove(id);
        }
    }

    fn ids(&self) -> Vec<String> {
        self.ids_mut().iter().cloned().collect()
    }

    /// A panic cannot leave the set half-changed, so a poisoned lock is still good to use.
    fn ids_mut(&self) -> MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How one run ended, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Retrying,
    Snoozed,
    Discarded,
    /// The job was cancelled or rescued while running; its result was not recorded.
    Superseded,
}

/// What `drain` ran.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainReport {
    pub completed: usize,
    pub retrying: usize,
    pub snoozed: usize,
    pub discarded: usize,
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

impl Runner {
    pub fn new(ctx: Arc<JobContext>, registry: JobRegistry, config: JobsConfig, owner: String) -> Self {
        let pool = ctx.pool.clone();
        let has_concurrent_writers = pool.get().map(|conn| conn.backend().has_concurrent_writers()).unwrap_or(false);
        let held = HeldJobs::default();
        Self { inner: Arc::new(Inner { pool, registry, ctx, config, owner, has_concurrent_writers, held }) }
    }

    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// Starts a worker loop per configured queue plus the lease keeper and the rescuer. The returned
    /// task ends once `shutdown` is cancelled and every worker has finished or released its jobs.
    pub fn start(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let (recorder, records) = mpsc::unbounded_channel();
            let recording = tokio::spawn(record_outcomes(inner.clone(), records));
            let mut loops = JoinSet::new();
            for (queue, concurrency) in inner.config.queues.clone() {
                loops.spawn(run_queue(inner.clone(), queue, concurrency, shutdown.clone(), recorder.clone()));
            }
            loops.spawn(keep_leases(inner.clone(), shutdown.clone()));
            loops.spawn(rescue_expired(inner.clone(), shutdown.clone()));
            while loops.join_next().await.is_some() {}
            // Write every finished job's outcome before handing back the unfinished ones.
            let (flushed, done) = oneshot::channel();
            if recorder.send(Record::Flush(flushed)).is_ok() {
                let _ = done.await;
            }
            drop(recorder);
            let _ = recording.await;
            let released = blocking(&inner.pool, {
                let owner = inner.owner.clone();
                let now = inner.ctx.clock.now();
                move |conn| db::jobs::release_owned(conn, &owner, now)
            })
            .await;
            match released {
                Ok(0) => {}
                Ok(count) => tracing::warn!(count, "released jobs that did not finish within the shutdown grace"),
                Err(error) => {
                    tracing::error!(%error, "could not release unfinished jobs; the rescuer will")
                }
            }
            tracing::info!("job runner stopped");
        })
    }

    /// Runs every due job of every queue, one at a time, until none is due (for tests and the CLI).
    pub async fn drain(&self) -> DrainReport {
        let mut report = DrainReport::default();
        loop {
            let mut ran_any = false;
            for queue in self.inner.config.queues.keys() {
                let claimed = match claim(&self.inner, queue, 10).await {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        tracing::error!(%error, queue, "claim failed while draining");
                        return report;
                    }
                };
                for job in claimed {
                    ran_any = true;
                    match execute(self.inner.clone(), job).await {
                        Outcome::Completed => report.completed += 1,
                        Outcome::Retrying => report.retrying += 1,
                        Outcome::Snoozed => report.snoozed += 1,
                        Outcome::Discarded => report.discarded += 1,
                        Outcome::Superseded => {}
                    }
                }
            }
            if !ran_any {
                return report;
            }
        }
    }

    /// Runs the rescuer once (tests and the CLI).
    pub async fn rescue_now(&self) -> Result<(usize, usize), String> {
        let now = self.inner.ctx.clock.now();
        blocking(&self.inner.pool, move |conn| db::jobs::rescue_expired(conn, now)).await
    }
}

/// Runs a diesel call on the blocking pool with a pooled connection.
async fn blocking<T: Send + 'static>(
    pool: &DbPool,
    work: impl FnOnce(&mut db::DbConn) -> db::QueryResult<T> + Send + 'static,
) -> Result<T, String> {
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        work(&mut conn).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

async fn claim(inner: &Arc<Inner>, queue: &str, limit: usize) -> Result<Vec<ClaimedJob>, String> {
    let now = inner.ctx.clock.now();
    let lease_until = now + chrono_duration(inner.config.lease);
    let owner = inner.owner.clone();
    let queue = queue.to_owned();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let claimed =
        blocking(&inner.pool, move |conn| db::jobs::claim(conn, &queue, &owner, limit, now, lease_until)).await?;
    inner.held.hold(&claimed);
    Ok(claimed)
}

/// Runs one queue: up to `concurrency` jobs at once, claimed by `claimers` loops that share the slots.
/// Each loop claims as many jobs as there are free slots, in one statement. PostgreSQL runs one loop
/// per slot so that claims overlap; SQLite has a single writer, so one loop claiming in batches is faster.
async fn run_queue(
    inner: Arc<Inner>,
    queue: String,
    concurrency: usize,
    shutdown: CancellationToken,
    recorder: mpsc::UnboundedSender<Record>,
) {
    let claimers = if inner.has_concurrent_writers { concurrency } else { 1 };
    tracing::info!(queue, concurrency, claimers, "queue started");
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut loops = JoinSet::new();
    for _ in 0..claimers {
        loops.spawn(claim_and_run(inner.clone(), queue.clone(), slots.clone(), shutdown.clone(), recorder.clone()));
    }
    while loops.join_next().await.is_some() {}
}

async fn claim_and_run(
    inner: Arc<Inner>,
    queue: String,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    recorder: mpsc::UnboundedSender<Record>,
) {
    let mut running = JoinSet::new();
    // Claims that failed in a row: the database is away, or takes no changes (read-only, full).
    let mut failures: i64 = 0;
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let mut permits = vec![first];
        while let Ok(permit) = slots.clone().try_acquire_owned() {
            permits.push(permit);
        }
        let claimed = claim(&inner, &queue, permits.len()).await;
        if claimed.is_ok() && failures > 0 {
            tracing::info!(queue, failures, "claiming jobs works again");
            failures = 0;
        }
        match claimed {
            Ok(claimed) if !claimed.is_empty() => {
                for (job, permit) in claimed.into_iter().zip(permits) {
                    running.spawn(run_holding(inner.clone(), job, permit, recorder.clone()));
                }
            }
            Ok(_) => {
                drop(permits);
                wait_or_stop(inner.config.poll_interval, &shutdown).await;
            }
            Err(error) => {
                drop(permits);
                failures += 1;
                let wait = claim_retry_delay(failures, inner.config.poll_interval);
                // Every claiming loop of every queue sees the same fault: log its first failures, then
                // ever more rarely, instead of a line per loop per second for as long as it lasts.
                if (failures & (failures - 1)) == 0 {
                    tracing::error!(%error, queue, failures, ?wait, "could not claim jobs; trying again");
                }
                wait_or_stop(wait, &shutdown).await;
            }
        }
        while running.try_join_next().is_some() {}
    }
    // Shutdown: no more claims; give running jobs the grace period, then stop them.
    let grace = inner.config.shutdown_grace;
    if tokio::time::timeout(grace, async { while running.join_next().await.is_some() {} }).await.is_err() {
        tracing::warn!(queue, "jobs still running after the shutdown grace; stopping them");
        running.abort_all();
        while running.join_next().await.is_some() {}
    }
}

/// The wait after the `failures`-th failed claim in a row: from a second, doubling, at most
/// `CLAIM_RETRY_MAX`, so a long outage costs the database little and a short one is over soon.
fn claim_retry_delay(failures: i64, poll_interval: Duration) -> Duration {
    retry_delay(failures, poll_interval.max(Duration::from_secs(1)), CLAIM_RETRY_MAX)
}

/// Short enough that jobs resume within seconds once the database is back.
const CLAIM_RETRY_MAX: Duration = Duration::from_secs(10);

async fn run_holding(
    inner: Arc<Inner>,
    job: ClaimedJob,
    permit: OwnedSemaphorePermit,
    recorder: mpsc::UnboundedSender<Record>,
) {
    let (_, write) = run_job(&inner, &job).await;
    drop(permit);
    if let Err(unsent) = recorder.send(Record::Outcome(job.id, write)) {
        if let Record::Outcome(id, _) = unsent.0 {
            inner.held.let_go([&id]);
        }
        tracing::error!("the outcome recorder stopped; the rescuer will return this job");
    }
}

async fn wait_or_stop(duration: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(duration) => {}
    }
}

/// Aborts the job's own task when the worker task around it is aborted at shutdown.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one claimed job and decides what its row should say.
async fn run_job(inner: &Arc<Inner>, job: &ClaimedJob) -> (Outcome, OutcomeWrite) {
    let result = match inner.registry.get(&job.kind) {
        None => Err(JobError::Permanent(format!("unknown job kind {:?}", job.kind))),
        Some(registered) => {
            let timeout = registered.timeout.unwrap_or(inner.config.default_timeout);
            let future = registered.start(job.args.clone(), inner.ctx.clone());
            let task = tokio::spawn(tokio::time::timeout(timeout, future));
            let _guard = AbortOnDrop(task.abort_handle());
            match task.await {
                Ok(Ok(result)) => result,
                Ok(Err(_elapsed)) => Err(JobError::Retry(format!("timed out after {timeout:?}"))),
                Err(join_error) if join_error.is_panic() => {
                    Err(JobError::Retry(format!("panicked: {}", panic_message(join_error.into_panic()))))
                }
                Err(_) => Err(JobError::Retry("the job task was cancelled".into())),
            }
        }
    };
    decide(&inner.config, job, result, inner.ctx.clock.now())
}

/// Runs one claimed job and records its outcome at once (drain).
async fn execute(inner: Arc<Inner>, job: ClaimedJob) -> Outcome {
    let (outcome, write) = run_job(&inner, &job).await;
    let now = inner.ctx.clock.now();
    let recorded = blocking(&inner.pool, {
        let (id, owner) = (job.id.clone(), inner.owner.clone());
        move |conn| write.apply(conn, &id, &owner, now)
    })
    .await;
    inner.held.let_go([&job.id]);
    match recorded {
        Ok(0) => {
            tracing::info!(job.id, job.kind, "job was cancelled or rescued while running; result not recorded");
            Outcome::Superseded
        }
        Ok(_) => outcome,
        Err(error) => {
            // The lease will expire and the rescuer will hand the job out again.
            tracing::error!(job.id, job.kind, %error, "could not record the job outcome");
            Outcome::Superseded
        }
    }
}

/// How long the recorder waits for more outcomes before writing a batch.
const OUTCOME_LINGER: Duration = Duration::from_millis(2);

/// A message to the recorder.
enum Record {
    Outcome(String, OutcomeWrite),
    /// Answered once every outcome sent before it is written.
    Flush(oneshot::Sender<()>),
}

/// Writes outcomes sent by the workers, all that are waiting in one transaction, so a busy queue
/// costs one write per batch instead of one per job. A job's lease is held until its outcome is written.
async fn record_outcomes(inner: Arc<Inner>, mut records: mpsc::UnboundedReceiver<Record>) {
    while let Some(first) = records.recv().await {
        // Let outcomes finishing right now join this batch: one write for many jobs.
        tokio::time::sleep(OUTCOME_LINGER).await;
        let mut outcomes = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(record) = next.take() {
            match record {
                Record::Outcome(id, write) => outcomes.push((id, write)),
                Record::Flush(done) => flushes.push(done),
            }
            if outcomes.len() < 1000 {
                next = records.try_recv().ok();
            }
        }
        if !outcomes.is_empty() {
            let (owner, now, count) = (inner.owner.clone(), inner.ctx.clock.now(), outcomes.len());
            let ids: Vec<String> = outcomes.iter().map(|(id, _)| id.clone()).collect();
            let written =
                blocking(&inner.pool, move |conn| db::jobs::apply_outcomes(conn, &owner, now, &outcomes)).await;
            // Written or not, these jobs no longer run here; unwritten ones must be let go to expire.
            inner.held.let_go(&ids);
            match written {
                Ok(changed) if changed < count => {
                    tracing::info!(superseded = count - changed, "jobs were cancelled or rescued while running")
                }
                Ok(_) => {}
                // The leases will expire and the rescuer will hand these jobs out again.
                Err(error) => tracing::error!(%error, count, "could not record job outcomes"),
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

fn decide(
    config: &JobsConfig,
    job: &ClaimedJob,
    result: Result<(), JobError>,
    now: NaiveDateTime,
) -> (Outcome, OutcomeWrite) {
    match result {
        Ok(()) => (Outcome::Completed, OutcomeWrite::Complete),
        Err(JobError::Retry(error)) if job.attempt < job.max_attempts => {
            let delay = retry_delay(job.attempt, config.retry_base, config.retry_max);
            tracing::warn!(job.id, job.kind, attempt = job.attempt, %error, ?delay, "job failed; will retry");
            (Outcome::Retrying, OutcomeWrite::RetryAt(now + chrono_duration(delay), error))
        }
        Err(JobError::Retry(error)) => {
            tracing::error!(job.id, job.kind, attempt = job.attempt, %error, "job failed on its last attempt");
            (
                Outcome::Discarded,
                OutcomeWrite::Discard(format!("{error} (attempt {} of {})", job.attempt, job.max_attempts)),
            )
        }
        Err(JobError::Snooze(delay)) => (Outcome::Snoozed, OutcomeWrite::Snooze(now + chrono_duration(delay))),
        Err(JobError::Permanent(error)) => {
            tracing::error!(job.id, job.kind, %error, "job failed permanently");
            (Outcome::Discarded, OutcomeWrite::Discard(error))
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

async fn keep_leases(inner: Arc<Inner>, shutdown: CancellationToken) {
    let every = (inner.config.lease / 3).max(Duration::from_millis(50));
    loop {
        wait_or_stop(every, &shutdown).await;
        if shutdown.is_cancelled() {
            return;
        }
        let held = inner.held.ids();
        if held.is_empty() {
            continue;
        }
        let until = inner.ctx.clock.now() + chrono_duration(inner.config.lease);
        let owner = inner.owner.clone();
        if let Err(error) = blocking(&inner.pool, move |conn| db::jobs::renew_leases(conn, &owner, &held, until)).await
        {
            tracing::error!(%error, "could not renew job leases");
        }
    }
}

async fn rescue_expired(inner: Arc<Inner>, shutdown: CancellationToken) {
    loop {
        wait_or_stop(inner.config.rescue_interval, &shutdown).await;
        if shutdown.is_cancelled() {
            return;
        }
        let now = inner.ctx.clock.now();
        match blocking(&inner.pool, move |conn| db::jobs::rescue_expired(conn, now)).await {
            Ok((0, 0)) => {}
            Ok((retried, discarded)) => {
                tracing::warn!(retried, discarded, "rescued jobs whose worker stopped")
            }
            Err(error) => tracing::error!(%error, "rescuer failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> JobsConfig {
        JobsConfig {
            is_enabled: true,
            queues: Default::default(),
            poll_interval: Duration::from_millis(10),
            lease: Duration::from_secs(30),
            rescue_interval: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(1),
            prune_after: Duration::from_secs(60),
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(100),
            default_timeout: Duration::from_secs(5),
        }
    }

    fn job(attempt: i64, max_attempts: i64) -> ClaimedJob {
        ClaimedJob {
            id: "j".into(),
            kind: "k".into(),
            args: "{}".into(),
            queue: "default".into(),
            attempt,
            max_attempts,
        }
    }

    #[test]
    fn failed_claims_wait_longer_each_time_up_to_ten_seconds() {
        let poll = Duration::from_millis(20);
        let first = claim_retry_delay(1, poll);
        assert!((Duration::from_millis(800)..=Duration::from_millis(1200)).contains(&first), "{first:?}");
        let third = claim_retry_delay(3, poll);
        assert!((Duration::from_millis(3200)..=Duration::from_millis(4800)).contains(&third), "{third:?}");
        for failures in [5, 50, i64::MAX] {
            assert!(claim_retry_delay(failures, poll) <= CLAIM_RETRY_MAX);
        }
    }

    #[test]
    fn a_retry_with_attempts_left_is_scheduled_later() {
        let now = chrono::Utc::now().naive_utc();
        let (outcome, write) = decide(&config(), &job(1, 3), Err(JobError::Retry("boom".into())), now);
        assert_eq!(outcome, Outcome::Retrying);
        assert!(matches!(write, OutcomeWrite::RetryAt(at, _) if at > now));
    }

    #[test]
    fn the_last_attempt_discards() {
        let now = chrono::Utc::now().naive_utc();
        let (outcome, _) = decide(&config(), &job(3, 3), Err(JobError::Retry("boom".into())), now);
        assert_eq!(outcome, Outcome::Discarded);
    }

    #[test]
    fn permanent_errors_discard_at_once_and_snoozes_wait() {
        let now = chrono::Utc::now().naive_utc();
        let (outcome, _) = decide(&config(), &job(1, 20), Err(JobError::Permanent("bad".into())), now);
        assert_eq!(outcome, Outcome::Discarded);
        let (outcome, write) = decide(&config(), &job(1, 20), Err(JobError::Snooze(Duration::from_secs(60))), now);
        assert_eq!(outcome, Outcome::Snoozed);
        assert!(matches!(write, OutcomeWrite::Snooze(at) if at == now + chrono::Duration::seconds(60)));
    }
}
