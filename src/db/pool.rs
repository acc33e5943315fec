//! The r2d2 pool. Our own manager picks the backend from the URL scheme, keeps the real connection
//! error (diesel's `AnyConnection` hides it), and prepares every SQLite connection with its pragmas.

use std::time::Duration;

use diesel::connection::{CacheSize, Connection, SimpleConnection};
use diesel::r2d2::{self, ManageConnection};
use diesel::{PgConnection, SqliteConnection};

use super::{Backend, DbConn};

pub type DbPool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL (use sqlite:PATH or postgres://…)")]
    UnsupportedUrl,
    #[error("cannot create the folder for the SQLite database: {0}")]
    Folder(std::io::Error),
    #[error(transparent)]
    Connection(#[from] diesel::ConnectionError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] r2d2::PoolError),
}

#[derive(Debug)]
pub struct Manager {
    url: String,
    backend: Backend,
    is_statement_cache_enabled: bool,
}

/// SQLite settings applied to every connection: WAL so readers never block the writer, foreign keys
/// on, and a busy timeout so concurrent writers wait instead of failing.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

impl Manager {
    pub fn new(url: &str, is_statement_cache_enabled: bool) -> Result<Self, ConnectError> {
        let backend = Backend::from_url(url).ok_or(ConnectError::UnsupportedUrl)?;
        let url = match backend {
            Backend::Sqlite => sqlite_path(url).to_owned(),
            Backend::Postgres => url.to_owned(),
        };
        let is_file = backend == Backend::Sqlite && !url.starts_with("file:") && url != ":memory:";
        if is_file && let Some(parent) = std::path::Path::new(&url).parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(ConnectError::Folder)?;
        }
        Ok(Self { url, backend, is_statement_cache_enabled })
    }
}

/// `sqlite://path`, `sqlite:path` and `sqlite:///abs/path` all name a file path.
fn sqlite_path(url: &str) -> &str {
    let rest = url.trim_start_matches("sqlite:");
    rest.strip_prefix("//").unwrap_or(rest)
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConn, ConnectError> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url)?;
                if !self.is_statement_cache_enabled {
                    // A transaction-mode pooler may hand each statement to another server connection.
                    conn.set_prepared_statement_cache_size(CacheSize::Disabled);
                }
                Ok(DbConn::Pg(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url)?;
                conn.batch_execute(SQLITE_PRAGMAS)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ConnectError> {
        Ok(conn.ping()?)
    }

    /// A connection whose transaction could not be ended is dropped instead of poisoning the pool.
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        // Broken: diesel gave up on the transaction state, or a transaction is still open.
        let depth = match conn {
            DbConn::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth(),
            DbConn::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth(),
        };
        !matches!(depth, Ok(None))
    }
}

/// Builds the pool and opens one connection at once, so a wrong URL fails at start with its cause.
pub fn connect_pool(
    url: &str,
    size: u32,
    connect_timeout: Duration,
    is_statement_cache_enabled: bool,
) -> Result<DbPool, ConnectError> {
    let manager = Manager::new(url, is_statement_cache_enabled)?;
    // Surface the real error (bad password, missing file) instead of r2d2's generic timeout.
    drop(manager.connect()?);
    Ok(r2d2::Pool::builder().max_size(size).min_idle(Some(1)).connection_timeout(connect_timeout).build(manager)?)
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;

    /// Set in .cargo/config.toml; without it every `LIMIT ?` query is compiled twice per run.
    #[test]
    fn the_bundled_sqlite_keeps_query_plans_stable() {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct CompileOption {
            #[diesel(sql_type = diesel::sql_types::Text)]
            compile_options: String,
        }
        let mut conn = diesel::SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        let options: Vec<CompileOption> =
            diesel::sql_query("PRAGMA compile_options").load(&mut conn).expect("compile options");
        assert!(
            options.iter().any(|o| o.compile_options == "ENABLE_QPSG"),
            "SQLite was built without SQLITE_ENABLE_QPSG (LIBSQLITE3_FLAGS in .cargo/config.toml)"
        );
    }

    #[test]
    fn sqlite_urls_name_paths() {
        assert_eq!(sqlite_path("sqlite://./data/eg.db"), "./data/eg.db");
        assert_eq!(sqlite_path("sqlite:data/eg.db"), "data/eg.db");
        assert_eq!(sqlite_path("sqlite:///tmp/eg.db"), "/tmp/eg.db");
    }
}
