//! The real binary: it starts with no settings at all, stops cleanly on SIGTERM, refuses bad
//! settings with every problem listed, and its subcommands work.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::TestDb;

const BINARY: &str = env!("CARGO_BIN_EXE_emailgator");

/// The binary with a clean environment, so nothing from the developer's shell leaks in.
pub(crate) fn emailgator(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BINARY);
    command.current_dir(dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// Starts `serve` with no settings but port 0 (it binds a free port itself, so no other test can
/// take the port in between) and returns it with the first stdout line that `wanted` accepts; the
/// rest of stdout is closed.
async fn start_serve(dir: &Path, wanted: fn(&str) -> bool) -> (Child, String) {
    let mut child = emailgator(dir)
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start emailgator");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).find(|line| wanted(line)).map(|l| l.trim().to_owned())
    })
    .await
    .expect("read stdout")
    .expect("serve printed the expected line");
    (child, line)
}

#[tokio::test]
async fn serve_with_no_settings_runs_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, link) = start_serve(dir.path(), |line| line.contains("/auth/local?token=")).await;
    let port: u16 = link
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("the link names this machine and its port: {link}"));
    assert!(link.contains("/auth/local?token="), "{link}");

    let health = crate::support::http_client()
        .build()
        .expect("client")
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    for file in ["emailgator.db", "secret_key_base", "encryption_key"] {
        assert!(dir.path().join("data").join(file).exists(), "data/{file} is created");
    }
    let confirm = crate::support::http_client()
        .build()
        .expect("client")
        .get(&link)
        .send()
        .await
        .expect("open link")
        .text()
        .await
        .expect("body");
    assert!(confirm.contains("one-time link"), "the printed link is valid");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "serve did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "a clean exit after SIGTERM: {exit:?}");
}

#[tokio::test]
async fn serve_with_its_output_closed_keeps_running_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    // Stdout is closed after the first line, while serve still has lines to print.
    let (mut child, _) = start_serve(dir.path(), |line| line.starts_with("EmailGator is running at")).await;

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    let exit = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert!(exit.success(), "no panic on the closed stdout, and a clean stop: {exit:?}");
}

#[test]
fn bad_settings_stop_the_start_with_every_problem_listed() {
    let dir = tempfile::tempdir().expect("dir");
    let output = emailgator(dir.path())
        .args(["serve"])
        .env("PORT", "eighty")
        .env("EMAILGATOR__MODE", "production")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("EmailGator cannot start"), "{stderr}");
    assert!(stderr.contains("server.port"), "{stderr}");
    assert!(stderr.contains("SECRET_KEY_BASE is required in production"), "{stderr}");
    assert!(stderr.contains("ENCRYPTION_KEYS is required in production"), "{stderr}");
    assert!(!dir.path().join("data").exists(), "production never generates secrets");
}

#[test]
fn migrate_login_link_and_jobs_work_from_the_command_line() {
    let db = TestDb::new();
    let run = |args: &[&str]| {
        let output = emailgator(db.dir.path()).args(args).env("DATABASE_URL", &db.url).output().expect("run");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{args:?}: {text} {}", String::from_utf8_lossy(&output.stderr));
        text
    };

    let refused = emailgator(db.dir.path())
        .args(["serve", "--no-migrate"])
        .env("DATABASE_URL", &db.url)
        .env("PORT", "0")
        .output()
        .expect("run");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("run `emailgator migrate`"));

    assert!(run(&["migrate"]).contains("migrations are up to date"));
    assert!(run(&["login-link"]).trim().starts_with("http://127.0.0.1:8080/auth/local?token="));
    let jobs = run(&["jobs"]);
    assert!(jobs.contains("queue") && jobs.contains("no recent failures"), "{jobs}");

    let maildir = db.dir.path().join("Maildir");
    let not_yet = emailgator(db.dir.path())
        .args(["mailbox", "add-maildir", "--user", "ann@example.com", "--path"])
        .arg(db.dir.path())
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run");
    assert!(!not_yet.status.success());
    assert!(String::from_utf8_lossy(&not_yet.stderr).contains("is not a Maildir"));
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    let path = maildir.to_string_lossy().into_owned();
    let added = run(&["mailbox", "add-maildir", "--user", "ann@example.com", "--path", &path]);
    assert!(added.contains("is ready"), "{added}");

    let demo = run(&["demo"]);
    assert!(demo.contains("demo mailbox ready") && demo.contains("7 starter categories"), "{demo}");
    assert!(demo.contains("/auth/local?token="), "{demo}");
    let written = std::fs::read_dir(db.dir.path().join("data/demo-mailbox/new")).expect("demo inbox").count();
    assert_eq!(written, emailgator::demo::corpus::MESSAGES.len());
    assert!(run(&["demo"]).contains("0 starter categories added"), "a second run changes nothing");
}
