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

/// A user's attempts that came from this email, newest first.
pub fn list_for_email(conn: &mut DbConn, user_id: &str, email_id: &str) -> QueryResult<Vec<UnsubscribeAttempt>> {
    unsubscribe_attempts::table
        .filter(unsubscribe_attempts::user_id.eq(user_id))
        .filter(unsubscribe_attempts::email_id.eq(email_id))
        .order((unsubscribe_attempts::created_at.desc(), unsubscribe_attempts::id.desc()))
        .select(UnsubscribeAttempt::as_select())
        .load(conn)
}

/// A subscription's attempts, newest first.
pub fn list_for_subscription(conn: &mut DbConn, user_id: &str, key: &str) -> QueryResult<Vec<UnsubscribeAttempt>> {
    unsubscribe_attempts::table
        .filter(unsubscribe_attempts::user_id.eq(user_id))
        .filter(unsubscribe_attempts::subscription_key.eq(key))
        .order((unsubscribe_attempts::created_at.desc(), unsubscribe_attempts::id.desc()))
        .select(UnsubscribeAttempt::as_select())
        .load(conn)
}

/// Marks a pending attempt running; `false` when it was not pending (already run or running).
pub fn start(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let updated =
        diesel::update(unsubscribe_attempts::table.find(id).filter(unsubscribe_attempts::status.eq("pending")))
            .set((unsubscribe_attempts::status.eq("running"), unsubscribe_attempts::started_at.eq(now)))
            .execute(conn)?;
    Ok(updated == 1)
}

/// What an attempt ended with.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = unsubscribe_attempts, treat_none_as_null = true)]
pub struct Finished {
    pub method: String,
    pub url: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub steps: String,
    pub screenshot_path: Option<String>,
    pub finished_at: Option<NaiveDateTime>,
}

pub fn finish(conn: &mut DbConn, id: &str, finished: &Finished) -> QueryResult<usize> {
    diesel::update(unsubscribe_attempts::table.find(id)).set(finished).execute(conn)
}

/// Screenshots of attempts finished before `before` (to delete with their files).
pub fn clear_screenshots_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<Vec<String>> {
    let old = unsubscribe_attempts::table
        .filter(unsubscribe_attempts::finished_at.lt(before))
        .filter(unsubscribe_attempts::screenshot_path.is_not_null());
    let paths: Vec<Option<String>> = old.select(unsubscribe_attempts::screenshot_path).load(conn)?;
    diesel::update(old).set(unsubscribe_attempts::screenshot_path.eq(None::<String>)).execute(conn)?;
    Ok(paths.into_iter().flatten().collect())
}

pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(unsubscribe_attempts::table.find(id)).execute(conn)
}

/// Puts a running attempt back to pending (the agent could not be reached; the job retries).
pub fn reset_to_pending(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::update(unsubscribe_attempts::table.find(id).filter(unsubscribe_attempts::status.eq("running")))
        .set(unsubscribe_attempts::status.eq("pending"))
        .execute(conn)
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
