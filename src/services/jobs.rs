//! The job dashboard and its admin actions: counts per queue and state, the last hour's throughput,
//! cron schedules and leader, running jobs, recent failures; retry, cancel, discard.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use crate::config::Config;
use crate::db::jobs::JobRow;
use crate::db::leases::Lease;
use crate::db::{self, DbConn};
use crate::domain::{JobState, Schedule};
use crate::error::AppError;
use crate::jobs::cron::LEADER_LEASE;

#[derive(Debug, Clone)]
pub struct QueueCounts {
    pub queue: String,
    pub concurrency: Option<usize>,
    /// Count per state, in `JobState::ALL` order.
    pub by_state: Vec<(JobState, i64)>,
    pub completed_last_hour: i64,
    pub failed_last_hour: i64,
}

#[derive(Debug, Clone)]
pub struct ScheduleStatus {
    pub name: String,
    pub expression: String,
    pub last_run: Option<NaiveDateTime>,
    pub next_run: Option<NaiveDateTime>,
}

#[derive(Debug, Clone)]
pub struct JobsDashboard {
    pub queues: Vec<QueueCounts>,
    pub schedules: Vec<ScheduleStatus>,
    pub leader: Option<Lease>,
    pub running: Vec<JobRow>,
    pub failures: Vec<JobRow>,
    pub now: NaiveDateTime,
}

pub fn dashboard(conn: &mut DbConn, config: &Config, now: NaiveDateTime) -> Result<JobsDashboard, AppError> {
    let mut queues: BTreeMap<String, QueueCounts> = BTreeMap::new();
    let entry = |queues: &mut BTreeMap<String, QueueCounts>, queue: &str| {
        queues.entry(queue.to_owned()).or_insert_with(|| QueueCounts {
            queue: queue.to_owned(),
            concurrency: config.jobs.queues.get(queue).copied(),
            by_state: JobState::ALL.iter().map(|s| (*s, 0)).collect(),
            completed_last_hour: 0,
            failed_last_hour: 0,
        });
    };
    for queue in config.jobs.queues.keys() {
        entry(&mut queues, queue);
    }
    for (queue, state, count) in db::jobs::count_by_queue_and_state(conn)? {
        entry(&mut queues, &queue);
        if let (Some(counts), Ok(state)) = (queues.get_mut(&queue), state.parse::<JobState>())
            && let Some(slot) = counts.by_state.iter_mut().find(|(s, _)| *s == state)
        {
            slot.1 = count;
        }
    }
    for (queue, state, count) in db::jobs::count_finished_since(conn, now - chrono::Duration::hours(1))? {
        entry(&mut queues, &queue);
        if let Some(counts) = queues.get_mut(&queue) {
            match state.parse::<JobState>() {
                Ok(JobState::Completed) => counts.completed_last_hour += count,
                Ok(JobState::Discarded) => counts.failed_last_hour += count,
                _ => {}
            }
        }
    }
    let mut schedules = Vec::new();
    for (name, expression) in &config.cron.schedules {
        let last_run = db::jobs::latest_with_key_prefix(conn, &format!("{name}@"))?.map(|job| job.created_at);
        let next_run = Schedule::parse(expression).ok().and_then(|s| s.next_after(now));
        schedules.push(ScheduleStatus { name: name.clone(), expression: expression.clone(), last_run, next_run });
    }
    Ok(JobsDashboard {
        queues: queues.into_values().collect(),
        schedules,
        leader: db::leases::find(conn, LEADER_LEASE)?.filter(|lease| lease.expires_at > now),
        running: db::jobs::list_running(conn, 50)?,
        failures: db::jobs::list_recent_failures(conn, 50)?,
        now,
    })
}

/// What an admin can do to one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    Retry,
    Cancel,
    Discard,
}

pub fn apply_action(conn: &mut DbConn, id: &str, action: JobAction, now: NaiveDateTime) -> Result<(), AppError> {
    let job = db::jobs::find(conn, id)?.ok_or(AppError::NotFound)?;
    let changed = match action {
        JobAction::Retry => db::jobs::retry_now(conn, id, now)?,
        JobAction::Cancel => db::jobs::cancel(conn, id, now)?,
        JobAction::Discard => db::jobs::discard_now(conn, id, now)?,
    };
    if changed == 0 {
        return Err(AppError::Conflict(format!("this job is {} and cannot be changed that way", job.state)));
    }
    tracing::info!(job.id, job.kind, ?action, "admin changed a job");
    Ok(())
}
