//! The database failing under the app: PostgreSQL dropping every connection during an import, every
//! 0.3–1.5 s and every 50–300 ms (the app reconnects by itself); PostgreSQL turned read-only during an
//! import, and a SQLite file that cannot grow (an error in words, no corruption, and everything
//! completes once the database takes changes again).

use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Text;
use emailgator::db::{self, DbConn};
use emailgator::jobs::SyncMailbox;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use super::{
    ACCOUNT, as_overrides, assert_arrived_once, assert_no_job_stuck, chaos_seed, connected_with_categories, is_done,
    message, pipeline_settings, states,
};
use crate::support::fake_google::FakeGoogle;
use crate::support::{TestApp, TestDb, wait_until};

const TERMINATE_OTHERS: &str = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";

/// How often, and from when, the app's connections are dropped.
struct Drops {
    rounds: usize,
    pause_ms: Range<u64>,
    /// Start once the sync has recorded the messages, so that the drops hit the import.
    is_after_sync: bool,
}

#[tokio::test]
async fn postgresql_dropping_every_connection_during_an_import_loses_and_doubles_nothing() {
    let drops = Drops { rounds: 20, pause_ms: 300..1500, is_after_sync: false };
    import_while_connections_drop("PostgreSQL connections dropped", drops).await;
}

/// At this pace the sync's one transaction for all 1,000 messages never gets to commit, so the drops
/// start after it: otherwise all of them would fall before the import.
#[tokio::test]
async fn postgresql_dropping_every_connection_every_few_milliseconds_loses_and_doubles_nothing() {
    let drops = Drops { rounds: 40, pause_ms: 50..300, is_after_sync: true };
    import_while_connections_drop("PostgreSQL connections dropped fast", drops).await;
}

/// Imports 1,000 messages through the whole pipeline while every connection of the app to its
/// database is terminated again and again until the import is over; then checks that everything was
/// sorted and archived once and no job is stuck.
async fn import_while_connections_drop(test: &str, drops: Drops) {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("skipped: PostgreSQL only (set TEST_DATABASE_URL)");
        return;
    }
    const MESSAGES: usize = 1000;
    let mut rng = StdRng::seed_from_u64(chaos_seed(test));
    let fake = FakeGoogle::start().await;
    let db = Arc::new(TestDb::new());
    let settings = pipeline_settings(&fake);
    let mut app = TestApp::spawn_on(db.clone(), &as_overrides(&settings)).await;
    let mailbox = connected_with_categories(&fake, &app).await;
    let delivered: Vec<String> = (0..MESSAGES).map(|n| fake.deliver(ACCOUNT, &message(n))).collect();

    if drops.is_after_sync {
        wait_until(60, "the sync recorded the messages", || async {
            states(&app, &mailbox.id).is_some_and(|s| s.values().sum::<i64>() > 0)
        })
        .await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let terminated = Arc::new(AtomicUsize::new(0));
    let pauses: Vec<u64> = (0..drops.rounds).map(|_| rng.gen_range(drops.pause_ms.clone())).collect();
    let terminator = {
        let (url, stop, terminated) = (db.url.clone(), stop.clone(), terminated.clone());
        std::thread::spawn(move || {
            let mut admin = PgConnection::establish(&url).expect("connect to the test database");
            for pause in pauses {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(pause));
                let ended = diesel::sql_query(TERMINATE_OTHERS).execute(&mut admin).expect("terminate");
                terminated.fetch_add(ended, Ordering::SeqCst);
            }
        })
    };
    wait_until(240, "every message is imported while connections keep dropping", || async {
        terminator.is_finished()
            || states(&app, &mailbox.id).is_some_and(|s| !s.contains_key("discovered") && s.values().sum::<i64>() > 0)
    })
    .await;
    println!("when the connections stopped dropping: {:?}", states(&app, &mailbox.id));
    stop.store(true, Ordering::SeqCst);
    terminator.join().expect("the terminator thread");
    println!("connections terminated: {}", terminated.load(Ordering::SeqCst));
    assert!(terminated.load(Ordering::SeqCst) > 0, "connections really were dropped");

    wait_until(240, "everything is sorted and archived", || async { is_done(&app, &mailbox.id, MESSAGES) }).await;
    app.stop().await;
    assert_no_job_stuck(&app);
    // A commit lost with its connection after Gmail's answer means asking Gmail again.
    assert_arrived_once(&app, &fake, &mailbox, &delivered, 10);
}

/// PostgreSQL turned read-only under the app, as a standby is after a failover, while an import job
/// waits for Gmail: the job's writes fail and it is handed out again later; pages still read, a form
/// and the API answer that nothing was changed and why, `/health` names the problem; once the database takes
/// changes again everything arrives, once.
#[tokio::test]
async fn a_postgresql_database_turned_read_only_fails_in_words_and_recovers_without_loss() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("skipped: PostgreSQL only (set TEST_DATABASE_URL)");
        return;
    }
    const MESSAGES: usize = 100;
    let fake = FakeGoogle::start().await;
    let db = Arc::new(TestDb::new());
    let mut settings = fake.settings();
    for (key, value) in [
        ("EMAILGATOR__GMAIL__QUOTA_UNITS_PER_SECOND", "1000000"),
        ("EMAILGATOR__SORTING__ARCHIVE_DELAY_SECS", "0"),
        // The job whose outcome could not be written comes back once its lease has run out.
        ("EMAILGATOR__JOBS__LEASE_SECS", "2"),
    ] {
        settings.push((key.to_owned(), value.to_owned()));
    }
    let app = TestApp::spawn_on(db.clone(), &as_overrides(&settings)).await;
    let mailbox = connected_with_categories(&fake, &app).await;
    let delivered: Vec<String> = (0..MESSAGES).map(|n| fake.deliver(ACCOUNT, &message(n))).collect();
    // Each message takes a moment to fetch, so the import is still asking Gmail when the switch comes.
    fake.set_delay("messages.get", Duration::from_millis(50));

    let switcher = {
        let url = db.url.clone();
        std::thread::spawn(move || {
            let mut admin = PgConnection::establish(&url).expect("connect to the test database");
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while running_imports(&mut admin) == 0 {
                assert!(std::time::Instant::now() < deadline, "an import job started");
                std::thread::sleep(Duration::from_millis(10));
            }
            set_read_only(&mut admin, true);
            admin
        })
    };
    app.enqueue(&SyncMailbox { mailbox_id: mailbox.id.clone() });
    app.run_pending_jobs().await;
    let mut admin = switcher.join().expect("the switching thread");
    let while_read_only = states(&app, &mailbox.id);
    println!("while the database was read-only: {while_read_only:?}");
    assert!(
        while_read_only.as_ref().is_some_and(|s| s.get("discovered").is_some_and(|n| *n > 0)),
        "the switch came before the import had stored its messages: {while_read_only:?}"
    );

    let health = app.client.get(app.url("/health")).send().await.expect("health");
    assert_eq!(health.status(), 200, "reading still works, so the instance stays routed");
    let health: serde_json::Value = health.json().await.expect("health JSON");
    assert_eq!((health["status"].as_str(), health["database"].as_str()), (Some("degraded"), Some("read-only")));
    let dashboard = app.client.get(app.url("/")).send().await.expect("dashboard");
    assert_eq!(dashboard.status(), 200, "pages still read");
    let csrf = app.csrf_token().await;
    let fields = [("csrf", csrf.as_str()), ("name", "Read-only test"), ("description", "Made while read-only")];
    let refused = app.post_form("/categories", &fields).await;
    assert_eq!(refused.status(), 503);
    let body = refused.text().await.expect("body");
    assert!(body.contains("The database cannot store changes") && body.contains("Nothing was changed"), "{body}");
    assert!(!body.contains("read-only transaction"), "the database's own words stay in the log: {body}");
    let mutation = r#"mutation { createCategory(name: "Via the API", description: "made while read-only") { id } }"#;
    let answer: serde_json::Value = app
        .client
        .post(app.url("/api/graphql"))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({ "query": mutation }))
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("GraphQL JSON");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "READ_ONLY", "{answer}");

    // Writable again: the import whose outcome was lost comes back, and everything arrives once.
    set_read_only(&mut admin, false);
    wait_until(30, "the lost job's lease runs out and the rescuer hands it out again", || async {
        app.runner.rescue_now().await.is_ok() && app.running_jobs() == 0
    })
    .await;
    app.run_pending_jobs().await;
    println!("after the database took changes again: {:?}", states(&app, &mailbox.id));
    assert!(is_done(&app, &mailbox.id, MESSAGES), "{:?}", states(&app, &mailbox.id));
    assert_arrived_once(&app, &fake, &mailbox, &delivered, 1);
    assert_no_job_stuck(&app);
    let created = app.post_form("/categories", &fields).await;
    assert_eq!(created.status(), 303, "the same form works once the database takes changes");
}

/// A restart while PostgreSQL is read-only: with a current schema `serve` starts without migrating,
/// serves reads, reports the database read-only and says why it prints no sign-in link; with
/// migrations pending it refuses to start and says so.
#[tokio::test]
async fn serve_starts_on_a_read_only_postgresql_database_whose_schema_is_current() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("skipped: PostgreSQL only (set TEST_DATABASE_URL)");
        return;
    }
    let current = TestDb::new();
    let migrated = emailgator_on(&current).arg("migrate").output().expect("migrate");
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    let mut admin = PgConnection::establish(&current.url).expect("connect to the test database");
    set_read_only(&mut admin, true);

    let mut child = emailgator_on(&current).arg("serve").stdout(Stdio::piped()).spawn().expect("start serve");
    let stdout = child.stdout.take().expect("stdout");
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let is_last = line.starts_with("No sign-in link") || line.contains("/auth/local?token=");
            lines.push(line);
            if is_last {
                break;
            }
        }
        lines
    })
    .await
    .expect("read stdout");
    let url = lines
        .iter()
        .find_map(|line| line.strip_prefix("EmailGator is running at "))
        .unwrap_or_else(|| panic!("serve started: {lines:?}"))
        .trim_end_matches('/')
        .to_owned();
    assert!(lines.last().is_some_and(|l| l.contains("the database takes no changes now")), "{lines:?}");
    let health: serde_json::Value = crate::support::http_client()
        .build()
        .expect("client")
        .get(format!("{url}/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("health JSON");
    assert_eq!(health["database"], "read-only", "{health}");
    child.kill().expect("stop serve");
    child.wait().expect("serve stopped");

    let empty = TestDb::new();
    let mut admin = PgConnection::establish(&empty.url).expect("connect to the empty database");
    set_read_only(&mut admin, true);
    let refused = emailgator_on(&empty).arg("serve").output().expect("serve");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "serve must not start on a read-only database it cannot migrate");
    assert!(stderr.contains("the database is read-only and needs migrations"), "{stderr}");
}

/// The binary on a test database, with nothing else from the environment.
fn emailgator_on(db: &TestDb) -> Command {
    let mut command = crate::binary::emailgator(db.dir.path());
    command
        .env("DATABASE_URL", &db.url)
        .env("EMAILGATOR__DATA_DIR", db.dir.path())
        .env("PORT", "0")
        .env("RUST_LOG", "error")
        .stderr(Stdio::piped());
    command
}

/// Makes the test database read-only for every new session (`false`: writable again) and ends the
/// app's connections so that its pool reconnects under the new setting.
fn set_read_only(admin: &mut PgConnection, is_read_only: bool) {
    let name: String = diesel::select(diesel::dsl::sql::<Text>("current_database()")).get_result(admin).expect("name");
    let setting =
        if is_read_only { "SET default_transaction_read_only = on" } else { "RESET default_transaction_read_only" };
    diesel::sql_query(format!("ALTER DATABASE \"{name}\" {setting}")).execute(admin).expect("alter database");
    diesel::sql_query(TERMINATE_OTHERS).execute(admin).expect("terminate the app's connections");
}

fn running_imports(admin: &mut PgConnection) -> i64 {
    use emailgator::db::schema::jobs;
    jobs::table
        .filter(jobs::kind.eq("import_messages"))
        .filter(jobs::state.eq("running"))
        .count()
        .get_result(admin)
        .expect("running imports")
}

const CHILD_MARKER: &str = "EMAILGATOR_CHAOS_DISK_FULL_CHILD";
const TEST_NAME: &str =
    "chaos::database_faults::a_sqlite_file_that_cannot_grow_fails_in_words_and_recovers_without_loss";

/// A file size limit (RLIMIT_FSIZE) on this process stands in for a full disk: root ignores file
/// permissions, but not this limit. It covers the whole process, so under `cargo test` (many tests in
/// one process) the test runs itself again in a process of its own; nextest already gives it one.
#[tokio::test]
async fn a_sqlite_file_that_cannot_grow_fails_in_words_and_recovers_without_loss() {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("skipped: SQLite only");
        return;
    }
    let is_alone = std::env::var("NEXTEST").is_ok() || std::env::var(CHILD_MARKER).is_ok();
    if !is_alone {
        let status = Command::new(std::env::current_exe().expect("test binary"))
            .args([TEST_NAME, "--exact", "--nocapture"])
            .env(CHILD_MARKER, "1")
            .status()
            .expect("run the test in its own process");
        assert!(status.success(), "the disk-full test failed in its own process");
        return;
    }
    // Writing past the limit sends SIGXFSZ, which would end the process: catch it, so the write fails instead.
    let _sigxfsz = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(25)).expect("catch SIGXFSZ");

    const MESSAGES: usize = 100;
    let fake = FakeGoogle::start().await;
    let db = Arc::new(TestDb::new());
    let settings = vec![
        ("EMAILGATOR__GMAIL__QUOTA_UNITS_PER_SECOND".to_owned(), "1000000".to_owned()),
        ("EMAILGATOR__SORTING__ARCHIVE_DELAY_SECS".to_owned(), "0".to_owned()),
        // A failed job waits a minute, so the test decides when it runs again.
        ("EMAILGATOR__JOBS__RETRY_BASE_MS".to_owned(), "60000".to_owned()),
    ];
    let mut settings_with_google = fake.settings();
    settings_with_google.extend(settings);
    let app = TestApp::spawn_on(db.clone(), &as_overrides(&settings_with_google)).await;
    let mailbox = connected_with_categories(&fake, &app).await;
    // Big messages: one import batch is megabytes.
    let padding = "All the details of your booking are below. ".repeat(1000);
    let delivered: Vec<String> = (0..MESSAGES)
        .map(|n| {
            let mut raw = message(n);
            raw.extend_from_slice(padding.as_bytes());
            fake.deliver(ACCOUNT, &raw)
        })
        .collect();

    // The write-ahead log starts empty, and no file may grow more than 256 KiB.
    app.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").expect("checkpoint");
    let file = db.dir.path().join("test.db");
    let limit = std::fs::metadata(&file).expect("database file").len() + 256 * 1024;
    set_file_size_limit(&limit.to_string());
    app.enqueue(&SyncMailbox { mailbox_id: mailbox.id.clone() });
    app.run_pending_jobs().await;

    let failures = db::jobs::list_recent_failures(&mut app.conn(), 10).expect("failures");
    set_file_size_limit("unlimited");
    let errors: Vec<String> = failures.iter().filter_map(|job| job.last_error.clone()).collect();
    println!("while the file could not grow: {errors:?}");
    assert!(!errors.is_empty(), "a job failed while the database could not grow");
    assert!(
        errors.iter().all(|e| e.contains("disk") || e.contains("full")),
        "each failure says what is wrong: {errors:?}"
    );
    let health = app.client.get(app.url("/health")).send().await.expect("health");
    let status = health.status();
    let body = health.text().await.expect("body");
    assert!(body.contains("\"database\""), "health answers in words ({status}): {body}");
    assert_integrity(&app);

    // Room again: the waiting jobs run and everything arrives, once.
    app.conn()
        .execute_batch("UPDATE jobs SET run_at = '2000-01-01 00:00:00' WHERE state IN ('retryable', 'scheduled')")
        .expect("due now");
    app.run_pending_jobs().await;
    app.enqueue(&SyncMailbox { mailbox_id: mailbox.id.clone() });
    app.run_pending_jobs().await;
    println!("after the disk had room again: {:?}", states(&app, &mailbox.id));
    assert!(is_done(&app, &mailbox.id, MESSAGES), "{:?}", states(&app, &mailbox.id));
    assert_arrived_once(&app, &fake, &mailbox, &delivered, 1);
    assert_no_job_stuck(&app);
    assert_integrity(&app);
}

/// Sets this process's largest writable file size (bytes, or `unlimited`): the soft limit only, so
/// it can be raised again without privileges.
fn set_file_size_limit(limit: &str) {
    let pid = std::process::id().to_string();
    let status = Command::new("prlimit")
        .args(["--pid", &pid, &format!("--fsize={limit}:")])
        .status()
        .expect("prlimit (util-linux)");
    assert!(status.success(), "prlimit --fsize={limit}");
}

#[derive(QueryableByName)]
struct IntegrityCheck {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

fn assert_integrity(app: &TestApp) {
    let mut conn = app.conn();
    let DbConn::Sqlite(sqlite) = &mut *conn else { panic!("a SQLite test") };
    let rows: Vec<IntegrityCheck> = diesel::sql_query("PRAGMA integrity_check").load(sqlite).expect("integrity check");
    let words: Vec<&str> = rows.iter().map(|r| r.integrity_check.as_str()).collect();
    assert_eq!(words, ["ok"], "the database file is intact");
}
