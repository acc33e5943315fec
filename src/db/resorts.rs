//! `resorts`: a user's re-sort of recent mail and how far it got.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::resorts;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = resorts)]
pub struct Resort {
    pub user_id: String,
    pub since: NaiveDateTime,
    pub total: i64,
    pub done: i64,
    pub changed: i64,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

pub fn find(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<Resort>> {
    resorts::table.find(user_id).select(Resort::as_select()).first(conn).optional()
}

/// Starts (or restarts) the user's re-sort.
pub fn start(conn: &mut DbConn, resort: &Resort) -> QueryResult<()> {
    diesel::delete(resorts::table.find(&resort.user_id)).execute(conn)?;
    diesel::insert_into(resorts::table).values(resort).execute(conn).map(drop)
}

pub fn progress(conn: &mut DbConn, user_id: &str, total: i64, done: i64, changed: i64) -> QueryResult<()> {
    diesel::update(resorts::table.find(user_id))
        .set((resorts::total.eq(total), resorts::done.eq(done), resorts::changed.eq(changed)))
        .execute(conn)
        .map(drop)
}

pub fn finish(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(resorts::table.find(user_id)).set(resorts::finished_at.eq(now)).execute(conn).map(drop)
}
