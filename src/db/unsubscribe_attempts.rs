//! `unsubscribe_attempts`: each try at leaving a mailing list, with its method, steps and outcome.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::unsubscribe_attempts;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = unsubscribe_attempts)]
pub struct UnsubscribeAttempt {
    pub id: String,
    pub user_id: String,
    pub subscription_key: String,
    pub email_id: Option<String>,
    pub method: String,
    pub url: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub steps: String,
    pub screenshot_path: Option<String>,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, attempt: &UnsubscribeAttempt) -> QueryResult<()> {
    diesel::insert_into(unsubscribe_attempts::table).values(attempt).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<UnsubscribeAttempt>> {
    unsubscribe_attempts::table.find(id).select(UnsubscribeAttempt::as_select()).first(conn).optional()
}

/// (method, status, count) of attempts that finished since `since`.
pub fn count_finished_since(conn: &mut DbConn, since: NaiveDateTime) -> QueryResult<Vec<(String, String, i64)>> {
    unsubscribe_attempts::table
        .filter(unsubscribe_attempts::finished_at.ge(since))
        .group_by((unsubscribe_attempts::method, unsubscribe_attempts::status))
        .select((unsubscribe_attempts::method, unsubscribe_attempts::status, diesel::dsl::count_star()))
        .order((unsubscribe_attempts::method.asc(), unsubscribe_attempts::status.asc()))
        .load(conn)
}
