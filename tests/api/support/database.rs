//! A fresh, empty database per test: a SQLite file in a temporary folder, or a new PostgreSQL
//! database on the server named by `TEST_DATABASE_URL` (dropped again afterwards).

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(server) => {
                let name = format!("eg_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(&server).expect("connect to TEST_DATABASE_URL");
                admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
                let mut url = url::Url::parse(&server).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                Self { url: url.to_string(), dir, postgres: Some((server, name)) }
            }
            None => {
                let url = format!("sqlite://{}/test.db", dir.path().display());
                Self { url, dir, postgres: None }
            }
        }
    }

    /// Another process's view of an existing test database; it does not drop it.
    pub fn attach(url: String) -> Self {
        Self { url, dir: tempfile::tempdir().expect("temporary folder"), postgres: None }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.postgres
            && let Ok(mut admin) = PgConnection::establish(server)
        {
            // Best effort: the cluster is thrown away after the run anyway.
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}
