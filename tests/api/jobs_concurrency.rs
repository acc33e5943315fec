//! Many workers in two instances on one database: every job runs exactly once.

use std::sync::Arc;

use emailgator::db;
use emailgator::domain::JobState;
use emailgator::jobs::EnqueueOptions;

use crate::support::test_jobs::RecordRun;
use crate::support::{TestApp, TestDb, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_jobs_on_eight_workers_in_two_instances_each_run_exactly_once() {
    let db = Arc::new(TestDb::new());
    let settings = [("EMAILGATOR__JOBS__ENABLED", "true"), ("EMAILGATOR__JOBS__QUEUES__DEFAULT", "4")];
    let first = TestApp::spawn_on(db.clone(), &settings).await;
    {
        let mut conn = first.conn();
        db::transaction(&mut conn, |conn| {
            for n in 0..1000 {
                let job = RecordRun { key: format!("c{n:04}") };
                emailgator::jobs::enqueue(conn, &job, EnqueueOptions::default(), first.now())?;
            }
            db::QueryResult::Ok(())
        })
        .expect("enqueue 1000 jobs");
    }
    let second = TestApp::spawn_on(db.clone(), &settings).await;

    wait_until(120, "all 1000 jobs complete", || async { first.count_jobs(JobState::Completed) == 1000 }).await;

    assert_eq!(first.runs("c"), 1000, "every job ran");
    assert!(db::jobs::list_running(&mut first.conn(), 10).expect("running").is_empty(), "nothing is left running");
    let retried = db::jobs::count_in_state(&mut first.conn(), JobState::Retryable).expect("count")
        + db::jobs::count_in_state(&mut first.conn(), JobState::Discarded).expect("count");
    assert_eq!(retried, 0, "no run failed, so none ran twice (the runs table would refuse a second run)");
    let instances = crate::support::test_jobs::distinct_runners(&mut first.conn(), "c");
    assert_eq!(instances, 2, "both instances took part");
    drop(second);
}
