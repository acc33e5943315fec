//! The real binary (`emailgator serve`) killed with SIGKILL at random points while it syncs, imports,
//! sorts and archives a Gmail mailbox, started again each time: every message ends stored once,
//! sorted and archived once in Gmail, and no job is left stuck.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use emailgator::db;
use emailgator::jobs::{EnqueueOptions, SyncMailbox};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use super::{
    ACCOUNT, as_overrides, assert_arrived_once, assert_no_job_stuck, chaos_seed, connected_with_categories, is_done,
    message, pipeline_settings, states,
};
use crate::support::app::test_env;
use crate::support::fake_google::FakeGoogle;
use crate::support::{TestApp, TestDb, wait_until};

/// The size: 2,000 messages and 20 kills (about 30 s on SQLite in a debug build on 2 cores).
const MESSAGES: usize = 2000;
const KILLS: usize = 20;

/// Starts `emailgator serve` on the test database; its log goes to a file in the test's folder.
fn serve(db: &TestDb, settings: &[(String, String)], run: usize, stdout: Stdio) -> Child {
    let log = std::fs::File::create(db.dir.path().join(format!("serve-{run}.log"))).expect("log file");
    crate::binary::emailgator(db.dir.path())
        .arg("serve")
        .envs(test_env(db, &as_overrides(settings)))
        .stdout(stdout)
        .stderr(log)
        .spawn()
        .expect("start emailgator serve")
}

#[tokio::test]
async fn a_binary_killed_at_random_while_it_syncs_imports_sorts_and_archives_loses_and_doubles_nothing() {
    let (messages, kills) = (MESSAGES, KILLS);
    let mut rng = StdRng::seed_from_u64(chaos_seed("kill -9"));
    let fake = FakeGoogle::start().await;
    let db = Arc::new(TestDb::new());
    let settings = pipeline_settings(&fake);
    // This in-process app only sets up and looks; its own jobs and cron stay off.
    let mut setup = as_overrides(&settings);
    setup.extend([("EMAILGATOR__JOBS__ENABLED", "false"), ("EMAILGATOR__CRON__ENABLED", "false")]);
    let app = TestApp::spawn_on(db.clone(), &setup).await;
    let mailbox = connected_with_categories(&fake, &app).await;
    let delivered: Vec<String> = (0..messages).map(|n| fake.deliver(ACCOUNT, &message(n))).collect();

    let started = Instant::now();
    for run in 1..=kills {
        // Asked for a sync at once, so the work starts before the killed leader's cron lease lapses.
        let options = EnqueueOptions { unique_key: Some(SyncMailbox::unique_key(&mailbox.id)), ..Default::default() };
        app.enqueue_with(&SyncMailbox { mailbox_id: mailbox.id.clone() }, options);
        let mut child = serve(&db, &settings, run, Stdio::null());
        let alive = Duration::from_millis(rng.gen_range(200..2500));
        tokio::time::sleep(alive).await;
        child.kill().expect("SIGKILL emailgator serve");
        child.wait().expect("reap it");
        println!("kill {run}/{kills} after {alive:?}: {:?}", states(&app, &mailbox.id));
    }
    let options = EnqueueOptions { unique_key: Some(SyncMailbox::unique_key(&mailbox.id)), ..Default::default() };
    app.enqueue_with(&SyncMailbox { mailbox_id: mailbox.id.clone() }, options);
    let mut last = serve(&db, &settings, kills + 1, Stdio::null());
    // Running jobs means started (signal handlers in place) before it can be asked to stop.
    let key = SyncMailbox::unique_key(&mailbox.id);
    wait_until(60, "the last serve runs the sync", || async {
        app.state.pool.get().ok().is_some_and(|mut c| db::jobs::is_pending_with_key(&mut c, &key).is_ok_and(|p| !p))
    })
    .await;
    wait_until(240, "every message is imported, sorted and archived after the last restart", || async {
        is_done(&app, &mailbox.id, messages)
    })
    .await;
    stop(&mut last);
    println!("{messages} messages, {kills} kills: done after {:?}", started.elapsed());

    let rescued = assert_no_job_stuck(&app);
    println!("jobs rescued after their process was killed: {rescued}");
    // A run killed after Gmail's answer but before our commit asks Gmail again: once per kill at most.
    let ending = assert_arrived_once(&app, &fake, &mailbox, &delivered, 1 + kills);
    assert_eq!(ending.archived + ending.needs_review, messages);
}

/// SIGTERM, and a clean exit within 30 s.
fn stop(child: &mut Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "serve did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "a clean exit after SIGTERM: {exit:?}");
}
