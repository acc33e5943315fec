//! The binary started as fly.toml starts it (its `[env]`, the release command, then the app process) with
//! production settings and secrets from the environment: refused, naming the secret, when one is missing;
//! migrated and healthy when all are set, without a secret in its logs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use base64::Engine;

use crate::support::{TestDb, http_client};

const SECRET_KEY_BASE: &str = "0123456789abcdef0123456789abcdef-production-test";

fn encryption_keys() -> String {
    format!("k1:{}", base64::engine::general_purpose::STANDARD.encode([42u8; 32]))
}

fn fly() -> toml::Table {
    toml::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fly.toml")).expect("fly.toml"))
        .expect("fly.toml is TOML")
}

/// fly.toml's `[env]` on this machine (loopback, a free port, a temporary data folder) plus the secrets
/// `fly secrets set` would give it.
fn production_env(db: &TestDb) -> Vec<(String, String)> {
    let fly = fly();
    let mut env: Vec<(String, String)> = fly["env"]
        .as_table()
        .expect("[env]")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string values").to_owned()))
        .collect();
    let data = db.dir.path().join("data").to_string_lossy().into_owned();
    for (key, value) in [
        ("PORT", "0"),
        ("EMAILGATOR__SERVER__HOST", "127.0.0.1"),
        ("EMAILGATOR__DATA_DIR", data.as_str()),
        ("DATABASE_URL", db.url.as_str()),
        ("SECRET_KEY_BASE", SECRET_KEY_BASE),
        ("ENCRYPTION_KEYS", &encryption_keys()),
        ("GOOGLE_CLIENT_ID", "1234-test.apps.googleusercontent.com"),
        ("GOOGLE_CLIENT_SECRET", "test-client-secret"),
    ] {
        env.retain(|(k, _)| k != key);
        env.push((key.to_owned(), value.to_owned()));
    }
    let public_url = env.iter().find(|(k, _)| k == "PUBLIC_URL").map(|(_, v)| v.clone()).unwrap_or_default();
    assert!(public_url.starts_with("https://"), "fly.toml's PUBLIC_URL is https: {public_url}");
    env
}

fn command_line(path: &[&str]) -> Vec<String> {
    let fly = fly();
    let mut value = &toml::Value::Table(fly.clone());
    for key in path {
        value = &value[*key];
    }
    value.as_str().expect("a command").split_whitespace().map(str::to_owned).collect()
}

fn run(dir: &std::path::Path, env: &[(String, String)], words: &[String]) -> Command {
    assert_eq!(words.first().map(String::as_str), Some("emailgator"));
    let mut command = crate::binary::emailgator(dir);
    command.args(&words[1..]).envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    command
}

#[test]
fn a_production_start_without_a_required_secret_is_refused_naming_it() {
    let db = TestDb::new();
    let release = command_line(&["deploy", "release_command"]);
    let app = command_line(&["processes", "app"]);
    for missing in ["SECRET_KEY_BASE", "ENCRYPTION_KEYS"] {
        let env: Vec<(String, String)> = production_env(&db).into_iter().filter(|(k, _)| k != missing).collect();
        for words in [&release, &app] {
            let output = run(db.dir.path(), &env, words).output().expect("run");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{words:?} without {missing}: {stderr}");
            assert!(stderr.contains(&format!("{missing} is required in production")), "{stderr}");
        }
    }
    assert!(!db.dir.path().join("data").join("secret_key_base").exists(), "production never generates secrets");
}

#[tokio::test]
async fn a_production_start_with_every_secret_migrates_in_the_release_command_and_serves_healthy() {
    let db = TestDb::new();
    let env = production_env(&db);

    // The release command. On PostgreSQL it goes through DATABASE_MIGRATION_URL, as behind Supabase's
    // pooler: DATABASE_URL then names a server that does not exist.
    let mut release_env = env.clone();
    if db.url.starts_with("postgres") {
        release_env.retain(|(k, _)| k != "DATABASE_URL");
        release_env.push(("DATABASE_URL".into(), "postgres://nobody:nothing@127.0.0.1:1/absent".into()));
        release_env.push(("DATABASE_MIGRATION_URL".into(), db.url.clone()));
    }
    let release = run(db.dir.path(), &release_env, &command_line(&["deploy", "release_command"]))
        .output()
        .expect("release command");
    assert!(release.status.success(), "{}", String::from_utf8_lossy(&release.stderr));

    let mut child = run(db.dir.path(), &env, &command_line(&["processes", "app"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the app process");
    let stdout = child.stdout.take().expect("stdout");
    let (port_sender, port_receiver) = std::sync::mpsc::channel();
    let logs = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if event["message"] == "listening" {
                let _ = port_sender.send(event["port"].as_u64());
            }
            lines.push(line);
        }
        lines
    });
    let port = tokio::task::spawn_blocking(move || port_receiver.recv_timeout(std::time::Duration::from_secs(30)))
        .await
        .expect("join")
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no JSON \"listening\" log line with the port"));

    let response = http_client()
        .build()
        .expect("client")
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    let exit = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert!(exit.success(), "a clean stop on SIGTERM: {exit:?}");
    let logs = logs.join().expect("log reader").join("\n");
    assert!(logs.contains("\"level\":\"INFO\""), "JSON logs in production: {logs}");
    for secret in [SECRET_KEY_BASE, encryption_keys().as_str(), "test-client-secret"] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}
