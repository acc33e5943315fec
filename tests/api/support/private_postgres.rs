//! A PostgreSQL server of one test's own, for a test that stops and starts the server (which would
//! disturb every other test on the suite's shared server): a cluster in a temporary folder, on a free
//! loopback port, stopped and removed when dropped.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// How `pg_ctl stop` stops the server.
#[derive(Debug, Clone, Copy)]
pub enum StopMode {
    /// Every server process ends at once, as in a crash; the next start recovers from the WAL.
    Immediate,
    /// Sessions are ended with an error and the server shuts down cleanly.
    Fast,
}

impl StopMode {
    fn as_str(self) -> &'static str {
        match self {
            StopMode::Immediate => "immediate",
            StopMode::Fast => "fast",
        }
    }
}

pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl PrivatePostgres {
    /// Creates and starts the cluster. Fails the test when the PostgreSQL binaries are missing:
    /// only the PostgreSQL pass calls this, and it must not pass without having run.
    pub async fn start() -> Self {
        let bin = server_binaries();
        let dir = tempfile::tempdir().expect("temporary folder");
        if is_root() {
            // initdb refuses to run as root; the cluster belongs to the postgres user, as in scripts/test.
            let chowned = Command::new("chown").arg("postgres").arg(dir.path()).status().expect("chown");
            assert!(chowned.success(), "chown postgres {}", dir.path().display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let server = Self { bin, dir, port };
        let data = server.data_dir();
        server.run("initdb", &["-D", path(&data), "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]).await;
        server.start_again().await;
        server
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server; returns once it is down.
    pub async fn stop(&self, mode: StopMode) {
        self.run("pg_ctl", &["-D", path(&self.data_dir()), "-m", mode.as_str(), "-w", "stop"]).await;
    }

    /// Starts the stopped server on its port; returns once it accepts connections.
    pub async fn start_again(&self) {
        // fsync off: a test's cluster never outlives a machine crash. Commits stay synchronous, so
        // an immediate stop loses nothing the app was told was committed, as on a real server.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c full_page_writes=off",
            self.port,
            path(self.dir.path())
        );
        let log = self.dir.path().join("server.log");
        self.run("pg_ctl", &["-D", path(&self.data_dir()), "-l", path(&log), "-o", &options, "-w", "start"]).await;
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs a PostgreSQL program as the cluster's owner; fails the test, with its output and the
    /// server's log, when the program fails.
    async fn run(&self, program: &str, args: &[&str]) {
        let output: Output = tokio::process::Command::from(self.command(program, args))
            .output()
            .await
            .expect("run a PostgreSQL program");
        if !output.status.success() {
            let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            panic!(
                "{program} {args:?} failed ({}):\n{}{}\nserver log:\n{log}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }

    /// `program args…`, as the postgres user when this process is root.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        if !is_root() {
            let mut command = Command::new(program);
            command.args(args);
            return command;
        }
        // bash runs the program with the arguments as given, so no path or option needs quoting;
        // `--` keeps su from reading the program's options as its own.
        let mut command = Command::new("su");
        command.args(["-s", "/bin/bash", "-c", "exec \"$0\" \"$@\"", "--", "postgres"]).arg(program).args(args);
        command
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Best effort, also when the test failed: the server must not outlive it (the folder goes with TempDir).
        let data = self.data_dir();
        let _ = self.command("pg_ctl", &["-D", path(&data), "-m", "immediate", "-w", "stop"]).output();
    }
}

/// The folder with `initdb` and `pg_ctl`: `TEST_PG_BIN` (scripts/test sets it), or the newest
/// Debian install under /usr/lib/postgresql.
fn server_binaries() -> PathBuf {
    let bin = std::env::var_os("TEST_PG_BIN").map(PathBuf::from).or_else(|| {
        let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
        versions
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| Some((entry.file_name().to_str()?.parse::<u32>().ok()?, entry.path().join("bin"))))
            .filter(|(_, bin)| bin.join("initdb").exists())
            .max_by_key(|(version, _)| *version)
            .map(|(_, bin)| bin)
    });
    match bin {
        Some(bin) if bin.join("initdb").exists() && bin.join("pg_ctl").exists() => bin,
        _ => panic!(
            "this test starts a PostgreSQL server of its own and needs initdb and pg_ctl: \
             apt-get install -y postgresql, or set TEST_PG_BIN to their folder"
        ),
    }
}

/// Whether this process runs as root: /proc/self belongs to the process's effective user.
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}
