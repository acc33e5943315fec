//! The durable queue, run by draining: enqueue, claim, complete, unique keys, retries, snoozes,
//! permanent failures, panics, time-outs, unknown kinds and the rescuer.

use emailgator::db;
use emailgator::domain::JobState;
use emailgator::jobs::EnqueueOptions;

use crate::support::TestApp;
use crate::support::test_jobs::{AlwaysRetry, FailPermanently, FailTimes, Hangs, Panics, RecordRun, Snoozes};

/// A retry backoff of about a second. The default test backoff (10 ms) is shorter than one pass of a drain
/// over every queue on a busy machine, so a test that looks at the job between its attempts needs this.
const SLOW_RETRIES: (&str, &str) = ("EMAILGATOR__JOBS__RETRY_BASE_MS", "1000");
/// A retry backoff of about a minute, for tests that never wait for the retry.
const LATE_RETRIES: (&str, &str) = ("EMAILGATOR__JOBS__RETRY_BASE_MS", "60000");

#[tokio::test]
async fn enqueued_job_runs_once_and_completes() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&RecordRun { key: "one".into() });
    assert_eq!(app.job(&id).state, "available");

    let report = app.run_pending_jobs().await;

    assert_eq!(report.completed, 1);
    let job = app.job(&id);
    assert_eq!(job.state, "completed");
    assert_eq!(job.attempt, 1);
    assert!(job.finished_at.is_some() && job.lease_owner.is_none());
    assert_eq!(app.runs("one"), 1);
    assert_eq!(app.run_pending_jobs().await.completed, 0, "nothing runs twice");
}

#[tokio::test]
async fn job_enqueued_in_a_rolled_back_transaction_never_exists() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn();
    let result: Result<(), db::QueryError> = db::transaction(&mut conn, |conn| {
        emailgator::jobs::enqueue(conn, &RecordRun { key: "ghost".into() }, EnqueueOptions::default(), app.now())?;
        Err(db::QueryError::RollbackTransaction)
    });
    assert!(result.is_err());
    drop(conn);
    assert_eq!(app.run_pending_jobs().await.completed, 0);
    assert_eq!(app.runs("ghost"), 0);
}

#[tokio::test]
async fn a_unique_key_blocks_a_second_copy_only_while_the_first_is_pending() {
    let app = TestApp::spawn().await;
    let unique = || EnqueueOptions { unique_key: Some("sync:mailbox-1".into()), ..Default::default() };
    let first = app.enqueue_with(&RecordRun { key: "u1".into() }, unique());
    let second = app.enqueue_with(&RecordRun { key: "u2".into() }, unique());
    assert!(first.is_some());
    assert_eq!(second, None, "the duplicate is not added");

    app.run_pending_jobs().await;
    let third = app.enqueue_with(&RecordRun { key: "u3".into() }, unique());
    assert!(third.is_some(), "after completion the key is free again");
    app.run_pending_jobs().await;
    assert_eq!((app.runs("u1"), app.runs("u2"), app.runs("u3")), (1, 0, 1));
}

#[tokio::test]
async fn a_scheduled_job_waits_for_its_time() {
    let app = TestApp::spawn().await;
    let later = app.now() + chrono::Duration::hours(1);
    let id = app
        .enqueue_with(&RecordRun { key: "later".into() }, EnqueueOptions { run_at: Some(later), ..Default::default() })
        .expect("enqueued");
    assert_eq!(app.job(&id).state, "scheduled");
    assert_eq!(app.run_pending_jobs().await.completed, 0);
    assert_eq!(app.runs("later"), 0);
}

#[tokio::test]
async fn a_failing_job_retries_with_backoff_until_it_succeeds() {
    let app = TestApp::spawn_with(&[SLOW_RETRIES]).await;
    let id = app.enqueue(&FailTimes { key: "flaky".into(), failures: 2 });

    let before = app.now();
    let report = app.run_pending_jobs().await;
    assert_eq!(report.retrying, 1);
    let job = app.job(&id);
    assert_eq!(job.state, "retryable");
    assert_eq!(job.last_error.as_deref(), Some("upstream returned 503"));
    assert!(job.run_at > before, "the retry waits for its backoff");

    crate::support::wait_until(10, "the flaky job completes", || async {
        app.run_pending_jobs().await;
        app.job(&id).state == "completed"
    })
    .await;
    assert_eq!(app.job(&id).attempt, 3);
}

#[tokio::test]
async fn a_job_is_discarded_when_its_attempts_are_spent() {
    let app = TestApp::spawn().await;
    app.expect_failed_jobs();
    let id = app.enqueue(&AlwaysRetry {});
    crate::support::wait_until(10, "the job is discarded", || async {
        app.run_pending_jobs().await;
        app.job(&id).state == "discarded"
    })
    .await;
    let job = app.job(&id);
    assert_eq!(job.attempt, 2);
    assert!(job.last_error.as_deref().is_some_and(|e| e.contains("attempt 2 of 2")), "{job:?}");
}

#[tokio::test]
async fn a_permanent_failure_is_not_retried() {
    let app = TestApp::spawn().await;
    app.expect_failed_jobs();
    let id = app.enqueue(&FailPermanently {});
    let report = app.run_pending_jobs().await;
    assert_eq!(report.discarded, 1);
    let job = app.job(&id);
    assert_eq!((job.state.as_str(), job.attempt), ("discarded", 1));
    assert_eq!(job.last_error.as_deref(), Some("the grant was revoked"));
}

#[tokio::test]
async fn a_snoozed_job_waits_without_spending_an_attempt() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&Snoozes { key: "rate-limited".into() });
    let report = app.run_pending_jobs().await;
    assert_eq!(report.snoozed, 1);
    let job = app.job(&id);
    assert_eq!(job.state, "scheduled");
    assert_eq!(job.attempt, 0, "a snooze gives the attempt back");
    assert!(job.run_at > app.now() + chrono::Duration::minutes(59));
}

#[tokio::test]
async fn a_panicking_job_is_contained_and_retried() {
    let app = TestApp::spawn_with(&[LATE_RETRIES]).await;
    app.expect_failed_jobs();
    let id = app.enqueue(&Panics {});
    let report = app.run_pending_jobs().await;
    assert_eq!(report.retrying, 1, "{report:?}");
    let job = app.job(&id);
    assert_eq!((job.state.as_str(), job.attempt), ("retryable", 1));
    assert_eq!(job.last_error.as_deref(), Some("panicked: boom"));
    // The runner survives the panic and still runs other jobs.
    app.enqueue(&RecordRun { key: "after-panic".into() });
    app.run_pending_jobs().await;
    assert_eq!(app.runs("after-panic"), 1);
}

#[tokio::test]
async fn a_job_that_runs_past_its_timeout_fails_and_retries() {
    let app = TestApp::spawn_with(&[LATE_RETRIES]).await;
    app.expect_failed_jobs();
    let id = app.enqueue(&Hangs {});
    let report = app.run_pending_jobs().await;
    assert_eq!(report.retrying, 1, "{report:?}");
    let job = app.job(&id);
    assert_eq!((job.state.as_str(), job.attempt), ("retryable", 1));
    assert!(job.last_error.as_deref().is_some_and(|e| e.starts_with("timed out after")), "{job:?}");
}

#[tokio::test]
async fn a_job_of_unknown_kind_is_discarded_with_a_clear_error() {
    let app = TestApp::spawn().await;
    app.expect_failed_jobs();
    let id = emailgator::jobs::enqueue_raw(
        &mut app.conn(),
        "renamed_kind",
        "default",
        5,
        "{}".into(),
        EnqueueOptions::default(),
        app.now(),
    )
    .expect("enqueue")
    .expect("id");
    app.run_pending_jobs().await;
    let job = app.job(&id);
    assert_eq!(job.state, "discarded");
    assert_eq!(job.last_error.as_deref(), Some("unknown job kind \"renamed_kind\""));
}

#[tokio::test]
async fn the_rescuer_returns_jobs_whose_lease_expired() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&RecordRun { key: "orphan".into() });
    let expired = app.now() - chrono::Duration::minutes(1);
    let claimed = db::jobs::claim(&mut app.conn(), "default", "dead-worker", 10, app.now(), expired).expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(app.run_pending_jobs().await.completed, 0, "a leased job is not handed out again");

    let (retried, discarded) = app.runner.rescue_now().await.expect("rescue");
    assert_eq!((retried, discarded), (1, 0));
    app.run_pending_jobs().await;
    let job = app.job(&id);
    assert_eq!((job.state.as_str(), job.attempt), ("completed", 2));
    assert_eq!(app.runs("orphan"), 1);
}

#[tokio::test]
async fn the_rescuer_discards_an_expired_job_with_no_attempts_left() {
    let app = TestApp::spawn().await;
    app.expect_failed_jobs();
    let id = app.enqueue(&AlwaysRetry {});
    let long_ago = app.now() - chrono::Duration::minutes(10);
    for _ in 0..2 {
        let mut conn = app.conn();
        db::jobs::claim(&mut conn, "default", "dead", 1, app.now(), long_ago).expect("claim");
        db::jobs::rescue_expired(&mut conn, app.now()).expect("rescue");
    }
    let job = app.job(&id);
    assert_eq!((job.state.as_str(), job.attempt), ("discarded", 2));
}

#[tokio::test]
async fn a_job_cancelled_while_running_keeps_its_cancellation() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&RecordRun { key: "cancelled".into() });
    let now = app.now();
    let claimed =
        db::jobs::claim(&mut app.conn(), "default", "w1", 1, now, now + chrono::Duration::minutes(1)).expect("claim");
    assert_eq!(claimed.len(), 1);
    db::jobs::cancel(&mut app.conn(), &id, now).expect("cancel");
    let written = db::jobs::complete(&mut app.conn(), &id, "w1", now).expect("complete");
    assert_eq!(written, 0, "the worker's late result does not overwrite the cancellation");
    assert_eq!(app.job(&id).state, JobState::Cancelled.as_str());
}
