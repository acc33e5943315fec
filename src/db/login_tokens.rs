//! `login_tokens`: one-time local sign-in links, stored as hashes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::login_tokens;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_tokens)]
pub struct LoginToken {
    pub token_hash: String,
    pub user_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, token: &LoginToken) -> QueryResult<()> {
    diesel::insert_into(login_tokens::table).values(token).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<LoginToken>> {
    login_tokens::table.find(token_hash).select(LoginToken::as_select()).first(conn).optional()
}

/// Marks the token used if it is unused and unexpired; one statement, so two clicks cannot both win.
pub fn consume(conn: &mut DbConn, token_hash: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let updated = diesel::update(
        login_tokens::table
            .find(token_hash)
            .filter(login_tokens::used_at.is_null())
            .filter(login_tokens::expires_at.gt(now)),
    )
    .set(login_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn delete_stale(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(login_tokens::table.filter(login_tokens::expires_at.le(now).or(login_tokens::used_at.is_not_null())))
        .execute(conn)
}
