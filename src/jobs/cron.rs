//! Cron: a table of named schedules run by tokio-cron-scheduler. Every instance keeps a timer, but a
//! tick only enqueues on the instance holding the leader lease, with the unique key `<name>@<due>`,
//! so several instances on one database never fire a tick twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};
use tokio_util::sync::CancellationToken;

use super::{EnqueueOptions, JobContext, Poll, PruneJobs, ReencryptSecrets, enqueue};
use crate::config::CronConfig;
use crate::db::{self, DbConn, QueryResult};
use crate::domain::Schedule;

/// The name of the lease row the cron leader holds.
pub const LEADER_LEASE: &str = "cron_leader";

/// The cron table: what each named schedule enqueues.
fn enqueue_scheduled(conn: &mut DbConn, name: &str, options: EnqueueOptions, now: NaiveDateTime) -> QueryResult<bool> {
    let id = match name {
        "prune" => enqueue(conn, &PruneJobs::default(), options, now)?,
        "poll" => enqueue(conn, &Poll::default(), options, now)?,
        "reencrypt" => enqueue(conn, &ReencryptSecrets::default(), options, now)?,
        _ => None,
    };
    Ok(id.is_some())
}

/// The unique key of a schedule's tick.
pub fn tick_key(name: &str, due: NaiveDateTime) -> String {
    format!("{name}@{}", due.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// Enqueues the job of schedule `name` for the tick due at `due`, unless that tick already fired
/// (on this instance or another). Returns whether a job was added.
pub fn fire(conn: &mut DbConn, name: &str, due: NaiveDateTime, now: NaiveDateTime) -> QueryResult<bool> {
    let key = tick_key(name, due);
    db::transaction(conn, |conn| {
        if db::jobs::exists_with_key(conn, &key)? {
            return Ok(false);
        }
        enqueue_scheduled(conn, name, EnqueueOptions { unique_key: Some(key.clone()), ..Default::default() }, now)
    })
}

/// Whether this instance currently leads cron, shared with the dashboard.
#[derive(Clone, Default)]
pub struct Leadership(Arc<AtomicBool>);

impl Leadership {
    pub fn is_leader(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn set(&self, is_leader: bool) {
        let was = self.0.swap(is_leader, Ordering::SeqCst);
        if was != is_leader {
            tracing::info!(is_leader, "cron leadership changed");
        }
    }
}

/// Starts the leader election loop and the scheduler. The returned task ends after `shutdown`,
/// having stopped the timers and given up the lease.
pub async fn start(
    ctx: Arc<JobContext>,
    config: CronConfig,
    instance: String,
    leadership: Leadership,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut scheduler = JobScheduler::new().await?;
    for (name, expression) in &config.schedules {
        let schedule = Schedule::parse(expression).map_err(|e| anyhow::anyhow!("cron {name}: {e}"))?;
        let (ctx, leadership, name) = (ctx.clone(), leadership.clone(), name.clone());
        let job = CronJob::new_async(expression.as_str(), move |_id, _scheduler| {
            let (ctx, leadership, name, schedule) = (ctx.clone(), leadership.clone(), name.clone(), schedule.clone());
            Box::pin(async move {
                if leadership.is_leader() {
                    tick(&ctx, &name, &schedule).await;
                }
            })
        })?;
        scheduler.add(job).await?;
    }
    scheduler.start().await?;
    tracing::info!(schedules = ?config.schedules, "cron started");

    Ok(tokio::spawn(async move {
        lead(&ctx, &config, &instance, &leadership, &shutdown).await;
        if let Err(error) = scheduler.shutdown().await {
            tracing::warn!(%error, "cron scheduler did not stop cleanly");
        }
        let pool = ctx.pool.clone();
        let released = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            db::leases::release(&mut conn, LEADER_LEASE, &instance).map_err(|e| e.to_string())
        })
        .await;
        leadership.set(false);
        if let Ok(Err(error)) = released {
            tracing::warn!(%error, "could not release the cron leader lease; it will expire");
        }
    }))
}

async fn tick(ctx: &JobContext, name: &str, schedule: &Schedule) {
    let now = ctx.clock.now();
    let Some(due) = schedule.due_at(now) else {
        return;
    };
    let (pool, name_owned) = (ctx.pool.clone(), name.to_owned());
    let result = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        fire(&mut conn, &name_owned, due, now).map_err(|e| e.to_string())
    })
    .await;
    match result {
        Ok(Ok(true)) => tracing::debug!(name, %due, "cron enqueued"),
        Ok(Ok(false)) => tracing::debug!(name, %due, "cron tick already fired"),
        Ok(Err(error)) => tracing::error!(name, %error, "cron could not enqueue"),
        Err(error) => tracing::error!(name, %error, "cron tick task failed"),
    }
}

/// Takes and renews the leader lease until shutdown.
async fn lead(
    ctx: &JobContext,
    config: &CronConfig,
    instance: &str,
    leadership: &Leadership,
    shutdown: &CancellationToken,
) {
    let renew_every = (config.leader_lease / 3).max(Duration::from_millis(100));
    let lease = chrono::Duration::from_std(config.leader_lease).unwrap_or(chrono::Duration::seconds(30));
    loop {
        let now = ctx.clock.now();
        let (pool, holder) = (ctx.pool.clone(), instance.to_owned());
        let acquired = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            db::leases::try_acquire(&mut conn, LEADER_LEASE, &holder, now, now + lease).map_err(|e| e.to_string())
        })
        .await;
        match acquired {
            Ok(Ok(is_leader)) => leadership.set(is_leader),
            Ok(Err(error)) => {
                // Without a confirmed lease this instance must not fire: another may have taken over.
                leadership.set(false);
                tracing::error!(%error, "could not renew the cron leader lease");
            }
            Err(error) => {
                leadership.set(false);
                tracing::error!(%error, "cron leader task failed");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(renew_every) => {}
        }
    }
}
