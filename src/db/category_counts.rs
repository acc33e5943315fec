//! `category_email_counts`: how many live emails (in the category, not deleted) each category
//! holds, per account, without counting them. Triggers on `emails` insert a +1 or -1 for every
//! change, whatever code made it; readers sum the rows, and a fold turns a category's rows back
//! into one per account.

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::DbConn;
use super::schema::category_email_counts as counts;

/// Above this many change rows for the categories read, the reader folds them; summing stays a
/// short index scan either way.
const FOLD_AFTER_ROWS: i64 = 512;

/// Category id → live emails, for the given categories; a category without emails is missing.
/// Folds the categories' change rows when many have piled up (a big import or bulk action).
pub fn totals(conn: &mut DbConn, category_ids: &[String]) -> QueryResult<Vec<(String, i64)>> {
    let rows = sums(conn, category_ids)?;
    let changes: i64 = rows.iter().map(|(_, _, n)| n).sum();
    if changes > FOLD_AFTER_ROWS
        && let Err(error) = fold(conn, category_ids)
    {
        // The totals read above are right either way; the next reader folds again.
        tracing::warn!(%error, "could not fold category counts");
    }
    Ok(rows.into_iter().filter(|(_, total, _)| *total != 0).map(|(id, total, _)| (id, total)).collect())
}

/// The category's live emails in one account (the list filtered by account).
pub fn total_in_mailbox(conn: &mut DbConn, category_id: &str, mailbox_id: &str) -> QueryResult<i64> {
    counts::table
        .filter(counts::category_id.eq(category_id))
        .filter(counts::mailbox_id.eq(mailbox_id))
        .select(sql::<BigInt>("CAST(COALESCE(SUM(delta), 0) AS BIGINT)"))
        .get_result(conn)
}

/// Per category: (id, sum of its changes, how many change rows).
fn sums(conn: &mut DbConn, category_ids: &[String]) -> QueryResult<Vec<(String, i64, i64)>> {
    counts::table
        .filter(counts::category_id.eq_any(category_ids))
        .group_by(counts::category_id)
        .select((counts::category_id, sql::<BigInt>("CAST(SUM(delta) AS BIGINT)"), count_star()))
        .load(conn)
}

/// Replaces the categories' change rows by one row per account holding their sum. On PostgreSQL one
/// statement deletes exactly the rows it sums, so changes committed meanwhile are kept and two
/// folds never count a row twice; SQLite has one writer at a time, so a transaction does it.
pub fn fold(conn: &mut DbConn, category_ids: &[String]) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) => diesel::sql_query(
            "WITH gone AS (DELETE FROM category_email_counts WHERE category_id = ANY($1) \
             RETURNING category_id, mailbox_id, delta) \
             INSERT INTO category_email_counts (category_id, mailbox_id, delta) \
             SELECT category_id, mailbox_id, SUM(delta)::bigint FROM gone GROUP BY category_id, mailbox_id \
             HAVING SUM(delta) <> 0",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(category_ids)
        .execute(c)
        .map(drop),
        DbConn::Sqlite(_) => super::transaction(conn, |conn| {
            let sums: Vec<(String, String, i64)> = counts::table
                .filter(counts::category_id.eq_any(category_ids))
                .group_by((counts::category_id, counts::mailbox_id))
                .select((counts::category_id, counts::mailbox_id, sql::<BigInt>("CAST(SUM(delta) AS BIGINT)")))
                .load(conn)?;
            diesel::delete(counts::table.filter(counts::category_id.eq_any(category_ids))).execute(conn)?;
            for (category_id, mailbox_id, delta) in sums.into_iter().filter(|(_, _, delta)| *delta != 0) {
                diesel::insert_into(counts::table)
                    .values((
                        counts::category_id.eq(category_id),
                        counts::mailbox_id.eq(mailbox_id),
                        counts::delta.eq(delta),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        }),
    }
}

/// How many change rows the categories have (tests check that folding keeps them few).
pub fn change_rows(conn: &mut DbConn, category_ids: &[String]) -> QueryResult<i64> {
    counts::table.filter(counts::category_id.eq_any(category_ids)).count().get_result(conn)
}
