//! `oauth_states`: one row per OAuth round trip (sign-in or connect), single use, bound to the
//! browser that started it and holding the PKCE verifier. Only hashes of the state and of the
//! browser binding are stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::oauth_states;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_states)]
pub struct OAuthState {
    pub state_hash: String,
    /// `sign_in` or `connect`.
    pub purpose: String,
    pub browser_hash: String,
    /// Who asked to connect a mailbox; `None` for sign-in.
    pub user_id: Option<String>,
    pub code_verifier: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, state: &OAuthState) -> QueryResult<()> {
    diesel::insert_into(oauth_states::table).values(state).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, state_hash: &str) -> QueryResult<Option<OAuthState>> {
    oauth_states::table.find(state_hash).select(OAuthState::as_select()).first(conn).optional()
}

/// Marks the state used if it is unused and unexpired; one statement, so a replay cannot also win.
pub fn consume(conn: &mut DbConn, state_hash: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let updated = diesel::update(
        oauth_states::table
            .find(state_hash)
            .filter(oauth_states::used_at.is_null())
            .filter(oauth_states::expires_at.gt(now)),
    )
    .set(oauth_states::used_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Forgets round trips that ended or expired more than a day ago (kept a while to name replays).
pub fn delete_stale(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(oauth_states::table.filter(oauth_states::expires_at.le(before))).execute(conn)
}
