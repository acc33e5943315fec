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
    if conn.is_read_only()? {
        return pending_read_only(conn);
    }
    Ok(match conn {
        DbConn::Pg(c) => c.pending_migrations(POSTGRES)?.iter().map(|m| m.name().to_string()).collect(),
        DbConn::Sqlite(c) => c.pending_migrations(SQLITE)?.iter().map(|m| m.name().to_string()).collect(),
    })
}

/// `pending` for a PostgreSQL database that takes no changes: diesel's own check first creates its
/// bookkeeping table if it is missing, which a read-only transaction refuses even when it exists.
fn pending_read_only(conn: &mut DbConn) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    use diesel::migration::MigrationSource;

    #[derive(diesel::QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let DbConn::Pg(c) = conn else { return Ok(Vec::new()) };
    let has_bookkeeping: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "to_regclass('__diesel_schema_migrations') IS NOT NULL",
    ))
    .get_result(c)?;
    let applied: std::collections::HashSet<String> = if has_bookkeeping {
        let rows = diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load::<Applied>(c)?;
        rows.into_iter().map(|a| a.version).collect()
    } else {
        Default::default()
    };
    let known = MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES)?;
    Ok(known
        .iter()
        .filter(|m| !applied.contains(&m.name().version().to_string()))
        .map(|m| m.name().to_string())
        .collect())
}
