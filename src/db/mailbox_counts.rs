//! `mailbox_email_counts`: how many emails each mailbox holds in each state, without counting
//! them. Triggers on `emails` insert a +1 or -1 for every change; readers sum the rows, and a fold
//! turns them back into one row per mailbox and state (dropping a removed mailbox's, which sum to 0).

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::DbConn;
use super::schema::mailbox_email_counts as counts;

/// Fold when the change rows outnumber the (mailbox, state) pairs by this many.
const FOLD_AFTER_EXTRA_ROWS: i64 = 512;

/// (mailbox id, state, emails) for every mailbox and state with emails, ordered by mailbox and
/// state. Folds the change rows when many have piled up (an import or a bulk action).
pub fn totals(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64)>> {
    let rows = sums(conn)?;
    let changes: i64 = rows.iter().map(|(_, _, _, n)| n).sum();
    let pairs = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    if changes > pairs.saturating_add(FOLD_AFTER_EXTRA_ROWS)
        && let Err(error) = fold(conn)
    {
        // The totals read above are right either way; the next reader folds again.
        tracing::warn!(%error, "could not fold mailbox counts");
    }
    Ok(rows
        .into_iter()
        .filter(|(_, _, total, _)| *total != 0)
        .map(|(id, state, total, _)| (id, state, total))
        .collect())
}

/// Per mailbox and state: (mailbox id, state, sum of its changes, how many change rows).
fn sums(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64, i64)>> {
    counts::table
        .group_by((counts::mailbox_id, counts::state))
        .order((counts::mailbox_id, counts::state))
        .select((counts::mailbox_id, counts::state, sql::<BigInt>("CAST(SUM(delta) AS BIGINT)"), count_star()))
        .load(conn)
}

/// Replaces all change rows by one row per mailbox and state holding their sum. On PostgreSQL one
/// statement deletes exactly the rows it sums, so changes committed meanwhile are kept; SQLite has
/// one writer at a time, so a transaction does it.
pub fn fold(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) => diesel::sql_query(
            "WITH gone AS (DELETE FROM mailbox_email_counts RETURNING mailbox_id, state, delta) \
             INSERT INTO mailbox_email_counts (mailbox_id, state, delta) \
             SELECT mailbox_id, state, SUM(delta)::bigint FROM gone GROUP BY mailbox_id, state \
             HAVING SUM(delta) <> 0",
        )
        .execute(c)
        .map(drop),
        DbConn::Sqlite(_) => super::transaction(conn, |conn| {
            let sums = sums(conn)?;
            diesel::delete(counts::table).execute(conn)?;
            for (id, state, delta, _) in sums.into_iter().filter(|(_, _, delta, _)| *delta != 0) {
                diesel::insert_into(counts::table)
                    .values((counts::mailbox_id.eq(id), counts::state.eq(state), counts::delta.eq(delta)))
                    .execute(conn)?;
            }
            Ok(())
        }),
    }
}

/// How many change rows there are (tests check that folding keeps them few).
pub fn change_rows(conn: &mut DbConn) -> QueryResult<i64> {
    counts::table.count().get_result(conn)
}
