//! Embedded migrations, one tree per backend with identical version names.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DbConn;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Arbitrary constant naming our advisory lock, so instances starting together migrate one at a time.
const MIGRATION_LOCK: i64 = 0x0E6A_1A70;

/// Applies pending migrations; returns the versions applied.
pub fn run_pending(conn: &mut DbConn) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    match conn {
        DbConn::Pg(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(c)?;
            let result = c.run_pending_migrations(POSTGRES).map(|v| v.iter().map(|m| m.to_string()).collect());
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(c)?;
            result
        }
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE).map(|v| v.iter().map(|m| m.to_string()).collect()),
    }
}

/// Versions not yet applied, so `serve --no-migrate` can refuse to start on an old schema.
pub fn pending(conn: &mut DbConn) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(match conn {
        DbConn::Pg(c) => c.pending_migrations(POSTGRES)?.iter().map(|m| m.name().to_string()).collect(),
        DbConn::Sqlite(c) => c.pending_migrations(SQLITE)?.iter().map(|m| m.name().to_string()).collect(),
    })
}
