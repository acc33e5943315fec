//! `api_tokens`: personal tokens for the GraphQL API (`Authorization: Bearer`), stored as hashes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::api_tokens;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, token: &ApiToken) -> QueryResult<()> {
    diesel::insert_into(api_tokens::table).values(token).execute(conn).map(drop)
}

pub fn find_by_hash(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<ApiToken>> {
    api_tokens::table.filter(api_tokens::token_hash.eq(token_hash)).select(ApiToken::as_select()).first(conn).optional()
}

pub fn list_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<ApiToken>> {
    api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .order(api_tokens::created_at.desc())
        .select(ApiToken::as_select())
        .load(conn)
}

pub fn touch(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(api_tokens::table.find(id)).set(api_tokens::last_used_at.eq(now)).execute(conn)
}

/// Deletes one of the user's tokens; `true` when it existed.
pub fn delete(conn: &mut DbConn, user_id: &str, id: &str) -> QueryResult<bool> {
    let deleted = diesel::delete(api_tokens::table.find(id).filter(api_tokens::user_id.eq(user_id))).execute(conn)?;
    Ok(deleted == 1)
}
