//! A worker process killed with SIGKILL in the middle of a job: after its lease expires the job is
//! rescued, runs again and completes. Likewise a job whose outcome a live process could not write
//! (the database was away): the process stops renewing its lease.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use emailgator::clock::SystemClock;
use emailgator::db;
use emailgator::jobs::{EnqueueOptions, JobContext, Runner};

use crate::support::app::test_config;
use crate::support::test_jobs::{self, BlocksFirstRun, RecordRun};
use crate::support::{TestApp, TestDb, wait_until};

const CHILD_DATABASE: &str = "EMAILGATOR_CRASH_CHILD_DATABASE_URL";

#[tokio::test]
async fn a_job_whose_worker_was_killed_runs_again_and_completes() {
    let db = Arc::new(TestDb::new());
    let app = TestApp::spawn_on(db.clone(), &[]).await;
    let id = app.enqueue(&BlocksFirstRun { key: "crash".into() });

    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["jobs_crash::crash_child_worker", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_DATABASE, &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child worker");
    wait_until(60, "the child starts the job", || async { app.runs("crash-started") == 1 }).await;
    let running = app.job(&id);
    assert_eq!(running.state, "running");
    assert_eq!(running.lease_owner.as_deref(), Some("crash-child"));

    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");

    wait_until(30, "the dead worker's lease expires and the rescuer returns the job", || async {
        app.runner.rescue_now().await.expect("rescue").0 == 1
    })
    .await;
    app.run_pending_jobs().await;
    let job = app.job(&id);
    assert_eq!(job.state, "completed");
    assert_eq!(job.attempt, 2);
    assert_eq!(app.runs("crash-finished"), 1);
}

/// The runner writes a job's outcome once; when that fails (PostgreSQL restarting), the row still says
/// `running` under the name of a process that has let the job go. Its lease must run out so that the
/// rescuer hands the job out again, instead of being renewed for as long as the process lives.
#[tokio::test]
async fn a_job_whose_outcome_could_not_be_written_is_rescued_while_its_process_lives() {
    let app = TestApp::spawn_with(&[
        ("EMAILGATOR__JOBS__ENABLED", "true"),
        ("EMAILGATOR__JOBS__LEASE_SECS", "1"),
        ("EMAILGATOR__JOBS__RESCUE_INTERVAL_SECS", "1"),
    ])
    .await;
    // Due only in an hour, so the app's runner leaves it; claimed here in the runner's name as if
    // from an hour ahead, with a lease of a second: a job the runner no longer knows it holds.
    let later = app.now() + chrono::Duration::hours(1);
    let options = EnqueueOptions { run_at: Some(later), ..Default::default() };
    let id = app.enqueue_with(&RecordRun { key: "outcome-lost".into() }, options).expect("enqueued");
    let lease_until = app.now() + chrono::Duration::seconds(1);
    let claimed =
        db::jobs::claim(&mut app.conn(), "default", app.runner.owner(), 1, later, lease_until).expect("claim");
    assert_eq!(claimed.len(), 1);

    wait_until(30, "the lease runs out, the rescuer returns the job and it runs", || async {
        app.job(&id).state == "completed"
    })
    .await;
    let job = app.job(&id);
    assert_eq!(job.attempt, 2);
    assert_eq!(job.last_error.as_deref(), Some("lease expired: the worker running this job stopped"));
    assert_eq!(app.runs("outcome-lost"), 1);
}

/// The child process of the crash test: runs the queue with a one-second lease until it is killed.
#[tokio::test]
#[ignore = "started as a child process by a_job_whose_worker_was_killed_runs_again_and_completes"]
async fn crash_child_worker() {
    let url = std::env::var(CHILD_DATABASE).expect("run only by the crash test");
    let db = TestDb::attach(url);
    let config = test_config(&db, &[("EMAILGATOR__JOBS__LEASE_SECS", "1")]);
    let pool = emailgator::startup::open_database(&config, false).await.expect("database");
    let ctx = Arc::new(JobContext {
        pool,
        config: Arc::new(config.clone()),
        clock: Arc::new(SystemClock),
        mail: Default::default(),
        keyring: emailgator::encryption::Keyring::new(&config.security.encryption_keys),
        llm: None,
        unsubscriber: emailgator::automation::from_config(&config),
    });
    let runner = Runner::new(ctx, test_jobs::registry(), config.jobs.clone(), "crash-child".into());
    let _task = runner.start(tokio_util::sync::CancellationToken::new());
    // Runs until the parent kills this process.
    tokio::time::sleep(Duration::from_secs(600)).await;
}
