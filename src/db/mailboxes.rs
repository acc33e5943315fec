//! `mailboxes`: connected mail accounts (Gmail or Maildir) with their sync position and status.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::mailboxes;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = mailboxes)]
pub struct Mailbox {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub address: String,
    pub encrypted_access_token: Option<String>,
    pub encrypted_refresh_token: Option<String>,
    pub token_key_id: Option<String>,
    pub token_expires_at: Option<NaiveDateTime>,
    pub granted_scopes: String,
    pub sync_cursor: Option<String>,
    pub status: String,
    pub rate_limited_until: Option<NaiveDateTime>,
    pub last_synced_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub backfill_days: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, mailbox: &Mailbox) -> QueryResult<()> {
    diesel::insert_into(mailboxes::table).values(mailbox).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Mailbox>> {
    mailboxes::table.find(id).select(Mailbox::as_select()).first(conn).optional()
}

pub fn list_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<Mailbox>> {
    mailboxes::table
        .filter(mailboxes::user_id.eq(user_id))
        .order(mailboxes::address.asc())
        .select(Mailbox::as_select())
        .load(conn)
}
