//! Storage: the only module that names diesel. One `DbConn` over SQLite and PostgreSQL, an r2d2 pool
//! whose manager keeps the real connection error, embedded migrations, and one file per table.

mod pool;

pub mod ai_usage;
pub mod api_tokens;
pub mod categories;
pub mod category_counts;
pub mod emails;
pub mod jobs;
pub mod leases;
pub mod login_tokens;
pub mod mailbox_counts;
pub mod mailboxes;
pub mod migrations;
pub mod oauth_states;
pub mod resorts;
pub mod schema;
pub mod sender_memory;
pub mod sessions;
pub mod sorter_models;
pub mod subscriptions;
pub mod unsubscribe_attempts;
pub mod users;

pub use diesel::result::{Error as QueryError, QueryResult};
pub use pool::{ConnectError, DbPool, PooledConn, connect_pool};

use diesel::connection::SimpleConnection;
use diesel::{PgConnection, SqliteConnection};

/// One connection to either backend; queries written with the diesel DSL run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }
}

impl Backend {
    /// PostgreSQL runs many writers at once; SQLite one at a time.
    pub fn has_concurrent_writers(self) -> bool {
        self == Backend::Postgres
    }
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Pg(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Runs plain SQL with no results (pragmas, test fixtures).
    pub fn execute_batch(&mut self, sql: &str) -> QueryResult<()> {
        match self {
            DbConn::Pg(c) => c.batch_execute(sql),
            DbConn::Sqlite(c) => c.batch_execute(sql),
        }
    }

    /// Checks the connection answers; used by `/health` and the pool.
    pub fn ping(&mut self) -> QueryResult<()> {
        self.execute_batch("SELECT 1")
    }

    /// Whether PostgreSQL takes no changes on this connection (a standby, or a database set to
    /// `default_transaction_read_only`). SQLite says so only when a write fails, so it answers `false`.
    pub fn is_read_only(&mut self) -> QueryResult<bool> {
        use diesel::RunQueryDsl;
        match self {
            DbConn::Pg(c) => diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "current_setting('transaction_read_only')::boolean",
            ))
            .get_result(c),
            DbConn::Sqlite(_) => Ok(false),
        }
    }
}

/// Whether the database refused a change because it takes none now: PostgreSQL in a read-only
/// transaction (a standby after a failover, `default_transaction_read_only`) or out of disk, and SQLite
/// with a read-only or full file. Nothing was written, and trying again later works.
pub fn is_cannot_write(error: &QueryError) -> bool {
    use diesel::result::DatabaseErrorKind::ReadOnlyTransaction;
    match error {
        QueryError::DatabaseError(ReadOnlyTransaction, _) => true,
        QueryError::DatabaseError(_, info) => {
            let message = info.message();
            ["database or disk is full", "readonly database", "No space left on device"]
                .iter()
                .any(|words| message.contains(words))
        }
        _ => false,
    }
}

/// Whether an error is a unique-constraint violation, which callers often expect.
pub fn is_unique_violation(error: &QueryError) -> bool {
    matches!(error, QueryError::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

/// Runs `work` in one transaction (a savepoint when already inside one); services call this so that
/// they never name diesel. On SQLite the outermost transaction starts with `BEGIN IMMEDIATE`: a
/// deferred one that reads and then writes fails at once ("database is locked") when another
/// connection wrote in between, instead of waiting its turn.
pub fn transaction<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<QueryError>,
{
    use diesel::Connection;
    use diesel::connection::{AnsiTransactionManager, TransactionManager};

    let DbConn::Sqlite(inner) = conn else { return conn.transaction(work) };
    let is_outermost =
        matches!(AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth(), Ok(None));
    if !is_outermost {
        return conn.transaction(work);
    }
    AnsiTransactionManager::begin_transaction_sql(&mut *inner, "BEGIN IMMEDIATE")?;
    let result = work(conn);
    // The connection is still the SQLite one; the match only gets the inner connection back.
    let DbConn::Sqlite(inner) = conn else { return result };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(inner)?;
            Ok(value)
        }
        Err(error) => match AnsiTransactionManager::rollback_transaction(inner) {
            Ok(()) | Err(QueryError::BrokenTransactionManager) => Err(error),
            // On a full disk or an I/O error SQLite rolls the transaction back by itself. The
            // caller needs the original error ("database or disk is full"), not the failed
            // rollback's, and the connection is fine again once diesel knows the transaction ended.
            Err(rollback_error) if rollback_error.to_string().contains("no transaction is active") => {
                *AnsiTransactionManager::transaction_manager_status_mut(inner) = Default::default();
                Err(error)
            }
            Err(rollback_error) => {
                // The pool drops this connection (`has_broken`); the caller still gets the cause.
                tracing::error!(%rollback_error, "a SQLite transaction could not be rolled back");
                Err(error)
            }
        },
    }
}

/// A new random id for a row.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
