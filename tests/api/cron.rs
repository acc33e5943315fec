//! Cron on several instances: only the leader enqueues, each tick fires once, and leadership moves
//! when the leader stops.

use std::collections::HashSet;
use std::sync::Arc;

use emailgator::db;
use emailgator::jobs::cron::{LEADER_LEASE, fire, tick_key};

use crate::support::{TestApp, TestDb, wait_until};

#[tokio::test]
async fn a_tick_fires_once_however_often_it_is_signalled() {
    let app = TestApp::spawn().await;
    let due = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).and_then(|d| d.and_hms_opt(3, 17, 0)).expect("date");
    let mut conn = app.conn();
    assert!(fire(&mut conn, "prune", due, app.now()).expect("fire"));
    assert!(!fire(&mut conn, "prune", due, app.now()).expect("fire again"), "same tick, same key");
    drop(conn);
    app.run_pending_jobs().await;
    let mut conn = app.conn();
    assert!(!fire(&mut conn, "prune", due, app.now()).expect("after completion"), "a completed tick stays fired");
    assert_eq!(tick_key("prune", due), "prune@2026-11-25T03:17:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_elect_one_cron_leader_and_never_double_fire() {
    let db = Arc::new(TestDb::new());
    let settings = [
        ("EMAILGATOR__CRON__ENABLED", "true"),
        ("EMAILGATOR__JOBS__ENABLED", "true"),
        ("EMAILGATOR__CRON__SCHEDULES__PRUNE", "* * * * * *"),
        // Long enough that a renewal delayed by a busy machine does not hand the lead over mid-test.
        ("EMAILGATOR__CRON__LEADER_LEASE_SECS", "5"),
    ];
    let first = TestApp::spawn_on(db.clone(), &settings).await;
    let second = TestApp::spawn_on(db.clone(), &settings).await;

    wait_until(20, "three ticks have fired", || async { prune_ticks(&first).len() >= 3 }).await;
    // The two flags are read one after the other, so a handover between the reads is retried.
    wait_until(20, "exactly one instance leads", || async {
        [first.state.leadership.is_leader(), second.state.leadership.is_leader()].iter().filter(|l| **l).count() == 1
    })
    .await;
    let leaders = [first.state.leadership.is_leader(), second.state.leadership.is_leader()];
    let (mut leader, follower) = if leaders[0] { (first, second) } else { (second, first) };
    let lease = db::leases::find(&mut leader.conn(), LEADER_LEASE).expect("lease").expect("a leader lease");
    assert_eq!(lease.holder, leader.state.config.instance_id);
    assert_no_duplicates(&follower);

    // Stop the leader: the other instance takes over and ticks continue, still once each.
    leader.stop().await;
    let ticks = prune_ticks(&follower).len();
    wait_until(20, "the other instance leads", || async { follower.state.leadership.is_leader() }).await;
    wait_until(20, "ticks continue", || async { prune_ticks(&follower).len() > ticks }).await;
    assert_no_duplicates(&follower);
}

fn prune_ticks(app: &TestApp) -> Vec<String> {
    crate::support::test_jobs::unique_keys(&mut app.conn(), "prune@")
}

fn assert_no_duplicates(app: &TestApp) {
    let keys = prune_ticks(app);
    let distinct: HashSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "a tick fired twice: {keys:?}");
}
