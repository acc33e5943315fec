//! `users`: people who sign in.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::users;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
    pub ai_settings: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The Google account (`sub`) this user signs in with.
    pub google_subject: Option<String>,
    /// Sorted mail stays in the inbox (labelled) instead of being archived.
    pub is_keeping_inbox: bool,
    /// Sorted mail gets the `EmailGator/<category>` label (when the server allows labels).
    pub is_labelling: bool,
}

pub fn insert(conn: &mut DbConn, user: &User) -> QueryResult<()> {
    diesel::insert_into(users::table).values(user).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<User>> {
    users::table.find(id).select(User::as_select()).first(conn).optional()
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table.filter(users::email.eq(email)).select(User::as_select()).first(conn).optional()
}

pub fn set_admin(conn: &mut DbConn, id: &str, is_admin: bool, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::is_admin.eq(is_admin), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn find_by_google_subject(conn: &mut DbConn, subject: &str) -> QueryResult<Option<User>> {
    users::table.filter(users::google_subject.eq(subject)).select(User::as_select()).first(conn).optional()
}

/// Ties a user to their Google account.
pub fn link_google(conn: &mut DbConn, id: &str, subject: &str, is_admin: bool, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::google_subject.eq(subject), users::is_admin.eq(is_admin), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn set_ai_settings(conn: &mut DbConn, id: &str, ai_settings: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::ai_settings.eq(ai_settings), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

/// How the user's sorted mail is filed in their mailbox.
pub fn set_mail_filing(
    conn: &mut DbConn,
    id: &str,
    is_keeping_inbox: bool,
    is_labelling: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::is_keeping_inbox.eq(is_keeping_inbox),
            users::is_labelling.eq(is_labelling),
            users::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Deletes the user; their rows in other tables go with it (ON DELETE CASCADE).
pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(users::table.find(id)).execute(conn)
}
