//! `jobs`: the durable queue. Claiming differs per backend (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
//! one atomic `UPDATE … RETURNING` on SQLite); every outcome is written only by the lease holder.

use std::sync::{Mutex, PoisonError};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::DbConn;
use super::schema::jobs;
use crate::domain::JobState;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub args: String,
    pub queue: String,
    pub priority: i64,
    pub state: String,
    pub attempt: i64,
    pub max_attempts: i64,
    pub run_at: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub unique_key: Option<String>,
    pub created_at: NaiveDateTime,
    pub attempted_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

/// A job a worker now holds the lease on.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedJob {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub args: String,
    #[diesel(sql_type = Text)]
    pub queue: String,
    #[diesel(sql_type = BigInt)]
    pub attempt: i64,
    #[diesel(sql_type = BigInt)]
    pub max_attempts: i64,
}

/// SQLite has one writer at a time, and a thread that finds the database locked sleeps in SQLite's
/// busy handler for a millisecond or more. The runner's own single-statement writes therefore take
/// turns here instead. Never held around a caller's transaction, so it cannot deadlock with one.
static SQLITE_QUEUE_WRITES: Mutex<()> = Mutex::new(());

fn one_writer<T>(conn: &mut DbConn, write: impl FnOnce(&mut DbConn) -> QueryResult<T>) -> QueryResult<T> {
    match conn {
        DbConn::Sqlite(_) => {
            let _turn = SQLITE_QUEUE_WRITES.lock().unwrap_or_else(PoisonError::into_inner);
            write(conn)
        }
        DbConn::Pg(_) => write(conn),
    }
}

/// Runs a batch of runner-owned writes without waiting for PostgreSQL to flush its log. An outcome
/// lost in a crash only makes a job run again, which at-least-once delivery allows anyway; enqueues
/// never use this, so no job is ever lost.
fn runner_write<T>(conn: &mut DbConn, write: impl FnOnce(&mut DbConn) -> QueryResult<T>) -> QueryResult<T> {
    one_writer(conn, |conn| match conn {
        DbConn::Pg(_) => super::transaction(conn, |conn| {
            conn.execute_batch("SET LOCAL synchronous_commit = off")?;
            write(conn)
        }),
        DbConn::Sqlite(_) => write(conn),
    })
}

/// Inserts a job; returns `false` when a job with the same unique key is still to run.
pub fn insert(conn: &mut DbConn, job: &JobRow) -> QueryResult<bool> {
    // ON CONFLICT is not available through the multi-backend, so each backend runs the same statement.
    let inserted = match conn {
        DbConn::Pg(c) => diesel::insert_into(jobs::table).values(job).on_conflict_do_nothing().execute(c)?,
        DbConn::Sqlite(c) => diesel::insert_into(jobs::table).values(job).on_conflict_do_nothing().execute(c)?,
    };
    Ok(inserted == 1)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<JobRow>> {
    jobs::table.find(id).select(JobRow::as_select()).first(conn).optional()
}

/// Whether any job, in any state, carries this key (cron ticks must never fire twice).
pub fn exists_with_key(conn: &mut DbConn, key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(jobs::table.filter(jobs::unique_key.eq(key)))).get_result(conn)
}

const CLAIM_POSTGRES: &str = "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, \
     lease_expires_at = $2, attempted_at = $3 \
     WHERE id IN (SELECT id FROM jobs WHERE queue = $4 AND state IN ('available', 'scheduled', 'retryable') \
     AND run_at <= $3 ORDER BY priority, run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) \
     RETURNING id, kind, args, queue, attempt, max_attempts";

const CLAIM_SQLITE: &str = "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1, \
     lease_expires_at = ?2, attempted_at = ?3 \
     WHERE id IN (SELECT id FROM jobs WHERE queue = ?4 AND state IN ('available', 'scheduled', 'retryable') \
     AND run_at <= ?3 ORDER BY priority, run_at, id LIMIT ?5) \
     RETURNING id, kind, args, queue, attempt, max_attempts";

/// Claims up to `limit` due jobs of `queue` for `owner`, leasing them until `lease_until`.
/// One statement, committed at once: no transaction is held while the jobs run.
pub fn claim(
    conn: &mut DbConn,
    queue: &str,
    owner: &str,
    limit: i64,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Vec<ClaimedJob>> {
    // PostgreSQL skips rows another worker has locked; SQLite serialises writers, so one UPDATE is atomic.
    one_writer(conn, |conn| match conn {
        DbConn::Pg(c) => diesel::sql_query(CLAIM_POSTGRES)
            .bind::<Text, _>(owner)
            .bind::<Timestamp, _>(lease_until)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(queue)
            .bind::<BigInt, _>(limit)
            .load(c),
        DbConn::Sqlite(c) => diesel::sql_query(CLAIM_SQLITE)
            .bind::<Text, _>(owner)
            .bind::<Timestamp, _>(lease_until)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(queue)
            .bind::<BigInt, _>(limit)
            .load(c),
    })
}

/// How a run ended, as a change to its row.
#[derive(Debug, Clone, PartialEq)]
pub enum OutcomeWrite {
    Complete,
    RetryAt(NaiveDateTime, String),
    Snooze(NaiveDateTime),
    Discard(String),
}

impl OutcomeWrite {
    /// Writes one outcome; 0 rows means the job was cancelled or rescued meanwhile.
    pub fn apply(&self, conn: &mut DbConn, id: &str, owner: &str, now: NaiveDateTime) -> QueryResult<usize> {
        one_writer(conn, |conn| self.write(conn, id, owner, now))
    }

    /// The statement alone, for callers that already hold the SQLite write turn: `one_writer` is not
    /// re-entrant, and taking it twice on one thread would hang every later queue write.
    fn write(&self, conn: &mut DbConn, id: &str, owner: &str, now: NaiveDateTime) -> QueryResult<usize> {
        match self {
            OutcomeWrite::Complete => write_complete(conn, id, owner, now),
            OutcomeWrite::RetryAt(run_at, error) => write_retry_at(conn, id, owner, *run_at, error),
            OutcomeWrite::Snooze(run_at) => write_snooze(conn, id, owner, *run_at),
            OutcomeWrite::Discard(error) => write_discard(conn, id, owner, now, error),
        }
    }
}

/// Writes many outcomes in one transaction, completions in one statement per 500; returns the rows
/// changed (fewer than given when some jobs were cancelled or rescued meanwhile).
pub fn apply_outcomes(
    conn: &mut DbConn,
    owner: &str,
    now: NaiveDateTime,
    outcomes: &[(String, OutcomeWrite)],
) -> QueryResult<usize> {
    let completed: Vec<&str> =
        outcomes.iter().filter(|(_, w)| *w == OutcomeWrite::Complete).map(|(id, _)| id.as_str()).collect();
    runner_write(conn, |conn| {
        super::transaction(conn, |conn| {
            let mut changed = 0;
            for ids in completed.chunks(500) {
                changed += diesel::update(
                    jobs::table
                        .filter(jobs::id.eq_any(ids))
                        .filter(jobs::lease_owner.eq(owner))
                        .filter(jobs::state.eq(JobState::Running.as_str())),
                )
                .set((
                    jobs::state.eq(JobState::Completed.as_str()),
                    jobs::finished_at.eq(now),
                    jobs::lease_owner.eq(None::<String>),
                    jobs::lease_expires_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            }
            for (id, write) in outcomes.iter().filter(|(_, w)| *w != OutcomeWrite::Complete) {
                // Already inside this batch's write turn.
                changed += write.write(conn, id, owner, now)?;
            }
            Ok(changed)
        })
    })
}

/// Rows of `id` still running under `owner`: a job rescued or cancelled meanwhile is left alone.
macro_rules! held_by {
    ($id:expr, $owner:expr) => {
        jobs::table.find($id).filter(jobs::lease_owner.eq($owner)).filter(jobs::state.eq(JobState::Running.as_str()))
    };
}

pub fn complete(conn: &mut DbConn, id: &str, owner: &str, now: NaiveDateTime) -> QueryResult<usize> {
    one_writer(conn, |conn| write_complete(conn, id, owner, now))
}

fn write_complete(conn: &mut DbConn, id: &str, owner: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(held_by!(id, owner))
        .set((
            jobs::state.eq(JobState::Completed.as_str()),
            jobs::finished_at.eq(now),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Puts a failed attempt back to run at `run_at` (the attempt is spent).
pub fn retry_at(conn: &mut DbConn, id: &str, owner: &str, run_at: NaiveDateTime, error: &str) -> QueryResult<usize> {
    one_writer(conn, |conn| write_retry_at(conn, id, owner, run_at, error))
}

fn write_retry_at(conn: &mut DbConn, id: &str, owner: &str, run_at: NaiveDateTime, error: &str) -> QueryResult<usize> {
    diesel::update(held_by!(id, owner))
        .set((
            jobs::state.eq(JobState::Retryable.as_str()),
            jobs::run_at.eq(run_at),
            jobs::last_error.eq(error),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Runs the job again at `run_at` without spending an attempt (rate limits, waiting on others).
pub fn snooze(conn: &mut DbConn, id: &str, owner: &str, run_at: NaiveDateTime) -> QueryResult<usize> {
    one_writer(conn, |conn| write_snooze(conn, id, owner, run_at))
}

fn write_snooze(conn: &mut DbConn, id: &str, owner: &str, run_at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(held_by!(id, owner))
        .set((
            jobs::state.eq(JobState::Scheduled.as_str()),
            jobs::run_at.eq(run_at),
            jobs::attempt.eq(jobs::attempt - 1),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Gives up on a job: it will not run again unless an admin retries it.
pub fn discard(conn: &mut DbConn, id: &str, owner: &str, now: NaiveDateTime, error: &str) -> QueryResult<usize> {
    one_writer(conn, |conn| write_discard(conn, id, owner, now, error))
}

fn write_discard(conn: &mut DbConn, id: &str, owner: &str, now: NaiveDateTime, error: &str) -> QueryResult<usize> {
    diesel::update(held_by!(id, owner))
        .set((
            jobs::state.eq(JobState::Discarded.as_str()),
            jobs::finished_at.eq(now),
            jobs::last_error.eq(error),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Extends the leases of the jobs `ids` that `owner` is still running.
pub fn renew_leases(conn: &mut DbConn, owner: &str, ids: &[String], until: NaiveDateTime) -> QueryResult<usize> {
    one_writer(conn, |conn| {
        diesel::update(
            jobs::table
                .filter(jobs::id.eq_any(ids))
                .filter(jobs::lease_owner.eq(owner))
                .filter(jobs::state.eq(JobState::Running.as_str())),
        )
        .set(jobs::lease_expires_at.eq(until))
        .execute(conn)
    })
}

/// Jobs whose lease ran out (their process died): discard those with no attempts left, retry the rest.
/// Returns (retried, discarded).
pub fn rescue_expired(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<(usize, usize)> {
    let expired =
        || jobs::table.filter(jobs::state.eq(JobState::Running.as_str())).filter(jobs::lease_expires_at.lt(now));
    one_writer(conn, |conn| {
        super::transaction(conn, |conn| {
            let discarded = diesel::update(expired().filter(jobs::attempt.ge(jobs::max_attempts)))
                .set((
                    jobs::state.eq(JobState::Discarded.as_str()),
                    jobs::finished_at.eq(now),
                    jobs::last_error.eq("lease expired: the worker running this job stopped"),
                    jobs::lease_owner.eq(None::<String>),
                    jobs::lease_expires_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            let retried = diesel::update(expired())
                .set((
                    jobs::state.eq(JobState::Retryable.as_str()),
                    jobs::run_at.eq(now),
                    jobs::last_error.eq("lease expired: the worker running this job stopped"),
                    jobs::lease_owner.eq(None::<String>),
                    jobs::lease_expires_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            Ok((retried, discarded))
        })
    })
}

/// At shutdown: hands back the jobs `owner` could not finish, without spending their attempt.
pub fn release_owned(conn: &mut DbConn, owner: &str, now: NaiveDateTime) -> QueryResult<usize> {
    one_writer(conn, |conn| {
        diesel::update(
            jobs::table.filter(jobs::lease_owner.eq(owner)).filter(jobs::state.eq(JobState::Running.as_str())),
        )
        .set((
            jobs::state.eq(JobState::Available.as_str()),
            jobs::run_at.eq(now),
            jobs::attempt.eq(jobs::attempt - 1),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
    })
}

/// Deletes finished jobs older than `before`.
pub fn prune_finished(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    let finished = [JobState::Completed, JobState::Discarded, JobState::Cancelled].map(JobState::as_str);
    diesel::delete(jobs::table.filter(jobs::state.eq_any(finished)).filter(jobs::finished_at.lt(before))).execute(conn)
}

/// Admin: run a waiting, failed or cancelled job now, granting one more attempt if it had none left.
pub fn retry_now(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    let retriable =
        [JobState::Discarded, JobState::Cancelled, JobState::Retryable, JobState::Scheduled, JobState::Available]
            .map(JobState::as_str);
    super::transaction(conn, |conn| {
        diesel::update(
            jobs::table.find(id).filter(jobs::state.eq_any(retriable)).filter(jobs::attempt.ge(jobs::max_attempts)),
        )
        .set(jobs::max_attempts.eq(jobs::attempt + 1))
        .execute(conn)?;
        diesel::update(jobs::table.find(id).filter(jobs::state.eq_any(retriable)))
            .set((
                jobs::state.eq(JobState::Available.as_str()),
                jobs::run_at.eq(now),
                jobs::finished_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
    })
}

/// Admin: stop a job from running (again). A running job finishes its current attempt, but its
/// result is not recorded over the cancellation.
pub fn cancel(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    let open = [JobState::Available, JobState::Scheduled, JobState::Retryable, JobState::Running].map(JobState::as_str);
    diesel::update(jobs::table.find(id).filter(jobs::state.eq_any(open)))
        .set((
            jobs::state.eq(JobState::Cancelled.as_str()),
            jobs::finished_at.eq(now),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Admin: give up on a waiting or failed job.
pub fn discard_now(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    let waiting = [JobState::Available, JobState::Scheduled, JobState::Retryable].map(JobState::as_str);
    diesel::update(jobs::table.find(id).filter(jobs::state.eq_any(waiting)))
        .set((
            jobs::state.eq(JobState::Discarded.as_str()),
            jobs::finished_at.eq(now),
            jobs::last_error.eq("discarded by an admin"),
        ))
        .execute(conn)
}

/// (queue, state, count) for every queue and state that has jobs.
pub fn count_by_queue_and_state(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64)>> {
    jobs::table
        .group_by((jobs::queue, jobs::state))
        .select((jobs::queue, jobs::state, diesel::dsl::count_star()))
        .order((jobs::queue.asc(), jobs::state.asc()))
        .load(conn)
}

/// (queue, state, count) of jobs that finished since `since`.
pub fn count_finished_since(conn: &mut DbConn, since: NaiveDateTime) -> QueryResult<Vec<(String, String, i64)>> {
    jobs::table
        .filter(jobs::finished_at.ge(since))
        .group_by((jobs::queue, jobs::state))
        .select((jobs::queue, jobs::state, diesel::dsl::count_star()))
        .load(conn)
}

/// (kind, count) of jobs that failed for good (discarded) since `since`.
pub fn count_discarded_by_kind_since(conn: &mut DbConn, since: NaiveDateTime) -> QueryResult<Vec<(String, i64)>> {
    jobs::table
        .filter(jobs::state.eq(JobState::Discarded.as_str()))
        .filter(jobs::finished_at.ge(since))
        .group_by(jobs::kind)
        .select((jobs::kind, diesel::dsl::count_star()))
        .order(jobs::kind.asc())
        .load(conn)
}

/// (kind, count) of jobs whose last attempt failed and that wait for another.
pub fn count_retryable_by_kind(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    jobs::table
        .filter(jobs::state.eq(JobState::Retryable.as_str()))
        .group_by(jobs::kind)
        .select((jobs::kind, diesel::dsl::count_star()))
        .order(jobs::kind.asc())
        .load(conn)
}

pub fn count_in_state(conn: &mut DbConn, state: JobState) -> QueryResult<i64> {
    jobs::table.filter(jobs::state.eq(state.as_str())).count().get_result(conn)
}

pub fn list_running(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<JobRow>> {
    jobs::table
        .filter(jobs::state.eq(JobState::Running.as_str()))
        .order(jobs::attempted_at.asc())
        .limit(limit)
        .select(JobRow::as_select())
        .load(conn)
}

/// Jobs whose last attempt failed: waiting to retry or given up, newest first.
pub fn list_recent_failures(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<JobRow>> {
    let failed = [JobState::Retryable, JobState::Discarded].map(JobState::as_str);
    jobs::table
        .filter(jobs::state.eq_any(failed))
        .filter(jobs::last_error.is_not_null())
        .order(jobs::attempted_at.desc())
        .limit(limit)
        .select(JobRow::as_select())
        .load(conn)
}

/// The newest job whose unique key starts with `prefix` (the last run of a cron schedule).
pub fn latest_with_key_prefix(conn: &mut DbConn, prefix: &str) -> QueryResult<Option<JobRow>> {
    jobs::table
        .filter(jobs::unique_key.like(format!("{prefix}%")))
        .order(jobs::created_at.desc())
        .select(JobRow::as_select())
        .first(conn)
        .optional()
}

pub fn count_in_queue_and_state(conn: &mut DbConn, queue: &str, state: JobState) -> QueryResult<i64> {
    jobs::table.filter(jobs::queue.eq(queue)).filter(jobs::state.eq(state.as_str())).count().get_result(conn)
}

/// Deletes every job of a queue (the benchmark's own queue, before a run).
pub fn delete_queue(conn: &mut DbConn, queue: &str) -> QueryResult<usize> {
    diesel::delete(jobs::table.filter(jobs::queue.eq(queue))).execute(conn)
}

/// Whether a job with this key is running now (not merely waiting).
pub fn is_running_with_key(conn: &mut DbConn, key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        jobs::table.filter(jobs::unique_key.eq(key)).filter(jobs::state.eq(JobState::Running.as_str())),
    ))
    .get_result(conn)
}

/// Whether a job with this key is waiting or running (a mailbox's sync, say).
pub fn is_pending_with_key(conn: &mut DbConn, key: &str) -> QueryResult<bool> {
    let pending =
        [JobState::Available, JobState::Scheduled, JobState::Running, JobState::Retryable].map(JobState::as_str);
    diesel::select(diesel::dsl::exists(
        jobs::table.filter(jobs::unique_key.eq(key)).filter(jobs::state.eq_any(pending)),
    ))
    .get_result(conn)
}
