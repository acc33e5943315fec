//! `sessions`: server-side sign-in sessions, keyed by the hash of the cookie value.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::{sessions, users};
use super::users::User;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, session: &Session) -> QueryResult<()> {
    diesel::insert_into(sessions::table).values(session).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, id_hash: &str) -> QueryResult<Option<Session>> {
    sessions::table.find(id_hash).select(Session::as_select()).first(conn).optional()
}

/// The session and its user in one query: every signed-in request starts with it.
pub fn find_with_user(conn: &mut DbConn, id_hash: &str) -> QueryResult<Option<(Session, User)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id_hash.eq(id_hash))
        .select((Session::as_select(), User::as_select()))
        .first(conn)
        .optional()
}

pub fn touch(conn: &mut DbConn, id_hash: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(sessions::table.find(id_hash)).set(sessions::last_seen_at.eq(now)).execute(conn).map(drop)
}

pub fn delete(conn: &mut DbConn, id_hash: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id_hash)).execute(conn)
}

/// Deletes sessions past their absolute expiry or idle since `idle_before`.
pub fn delete_expired(conn: &mut DbConn, now: NaiveDateTime, idle_before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(now).or(sessions::last_seen_at.lt(idle_before))))
        .execute(conn)
}

pub fn count_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<i64> {
    sessions::table.filter(sessions::user_id.eq(user_id)).count().get_result(conn)
}
