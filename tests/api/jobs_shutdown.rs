//! Graceful shutdown: stop claiming, let running jobs finish within the grace period, release the rest.

use emailgator::domain::JobState;

use crate::support::test_jobs::{RecordRun, Sleeps};
use crate::support::{TestApp, wait_until};

#[tokio::test]
async fn shutdown_lets_a_running_job_finish() {
    let mut app = TestApp::spawn_with(&[("EMAILGATOR__JOBS__ENABLED", "true")]).await;
    let id = app.enqueue(&Sleeps { key: "short".into(), millis: 300 });
    wait_until(10, "the job starts", || async { app.runs("short-started") == 1 }).await;

    app.stop().await;

    assert_eq!(app.runs("short-finished"), 1);
    assert_eq!(app.job(&id).state, "completed");
}

#[tokio::test]
async fn shutdown_releases_a_job_that_outlives_the_grace_period_and_claims_nothing_new() {
    let mut app = TestApp::spawn_with(&[
        ("EMAILGATOR__JOBS__ENABLED", "true"),
        ("EMAILGATOR__JOBS__SHUTDOWN_GRACE_SECS", "1"),
        ("EMAILGATOR__JOBS__QUEUES__DEFAULT", "1"),
    ])
    .await;
    let long = app.enqueue(&Sleeps { key: "long".into(), millis: 60_000 });
    wait_until(10, "the long job starts", || async { app.runs("long-started") == 1 }).await;
    let waiting = app.enqueue(&RecordRun { key: "waiting".into() });

    app.stop().await;

    let job = app.job(&long);
    assert_eq!(job.state, JobState::Available.as_str(), "released for another instance");
    assert_eq!(job.attempt, 0, "the interrupted attempt is not counted");
    assert!(job.lease_owner.is_none());
    assert_eq!(app.runs("long-finished"), 0);
    assert_eq!(app.job(&waiting).state, "available", "nothing new was claimed after the stop");
}
