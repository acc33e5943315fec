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
    /// The folder of a Maildir mailbox; set only by an operator on the command line.
    pub maildir_path: Option<String>,
}

impl Mailbox {
    /// What the mail providers need to open this mailbox.
    pub fn as_ref(&self) -> crate::clients::mail::MailboxRef<'_> {
        crate::clients::mail::MailboxRef {
            id: &self.id,
            kind: &self.kind,
            maildir_path: self.maildir_path.as_deref(),
            backfill_days: self.backfill_days,
        }
    }
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

/// Mailboxes whose mail should be fetched now.
pub fn list_active(conn: &mut DbConn) -> QueryResult<Vec<Mailbox>> {
    mailboxes::table.filter(mailboxes::status.eq("active")).select(Mailbox::as_select()).load(conn)
}

/// (kind, last successful sync, created) of every active mailbox, for the sync-lag metric.
pub fn list_sync_times_of_active(
    conn: &mut DbConn,
) -> QueryResult<Vec<(String, Option<NaiveDateTime>, NaiveDateTime)>> {
    mailboxes::table
        .filter(mailboxes::status.eq("active"))
        .select((mailboxes::kind, mailboxes::last_synced_at, mailboxes::created_at))
        .load(conn)
}

/// (kind, status, count) of all mailboxes.
pub fn count_by_kind_and_status(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64)>> {
    mailboxes::table
        .group_by((mailboxes::kind, mailboxes::status))
        .select((mailboxes::kind, mailboxes::status, diesel::dsl::count_star()))
        .order((mailboxes::kind.asc(), mailboxes::status.asc()))
        .load(conn)
}

pub fn find_by_address(conn: &mut DbConn, user_id: &str, address: &str) -> QueryResult<Option<Mailbox>> {
    mailboxes::table
        .filter(mailboxes::user_id.eq(user_id))
        .filter(mailboxes::address.eq(address))
        .select(Mailbox::as_select())
        .first(conn)
        .optional()
}

/// Records a sync: the new cursor (when the provider gave one), the time, and clears the last error.
pub fn record_sync(conn: &mut DbConn, id: &str, cursor: Option<&str>, now: NaiveDateTime) -> QueryResult<usize> {
    let target = mailboxes::table.find(id);
    match cursor {
        Some(cursor) => diesel::update(target)
            .set((
                mailboxes::sync_cursor.eq(cursor),
                mailboxes::last_synced_at.eq(now),
                mailboxes::last_error.eq(None::<String>),
                mailboxes::rate_limited_until.eq(None::<NaiveDateTime>),
                mailboxes::updated_at.eq(now),
            ))
            .execute(conn),
        None => diesel::update(target)
            .set((
                mailboxes::last_synced_at.eq(now),
                mailboxes::last_error.eq(None::<String>),
                mailboxes::rate_limited_until.eq(None::<NaiveDateTime>),
                mailboxes::updated_at.eq(now),
            ))
            .execute(conn),
    }
}

pub fn record_error(conn: &mut DbConn, id: &str, error: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(mailboxes::table.find(id))
        .set((mailboxes::last_error.eq(error), mailboxes::updated_at.eq(now)))
        .execute(conn)
}

pub fn set_status(conn: &mut DbConn, id: &str, status: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(mailboxes::table.find(id))
        .set((mailboxes::status.eq(status), mailboxes::updated_at.eq(now)))
        .execute(conn)
}

/// Mailboxes whose tokens were sealed with a key other than `newest_key_id`.
pub fn list_with_outdated_key(conn: &mut DbConn, newest_key_id: &str) -> QueryResult<Vec<Mailbox>> {
    mailboxes::table
        .filter(mailboxes::token_key_id.is_not_null())
        .filter(mailboxes::token_key_id.ne(newest_key_id))
        .select(Mailbox::as_select())
        .load(conn)
}

/// Stores sealed tokens and the id of the key that sealed both.
pub fn set_tokens(
    conn: &mut DbConn,
    id: &str,
    access_token: Option<&str>,
    refresh_token: Option<&str>,
    key_id: &str,
    expires_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(mailboxes::table.find(id))
        .set((
            mailboxes::encrypted_access_token.eq(access_token),
            mailboxes::encrypted_refresh_token.eq(refresh_token),
            mailboxes::token_key_id.eq(key_id),
            mailboxes::token_expires_at.eq(expires_at),
            mailboxes::updated_at.eq(now),
        ))
        .execute(conn)
}

/// The provider asked us to wait until `until`.
pub fn set_rate_limited(conn: &mut DbConn, id: &str, until: NaiveDateTime, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(mailboxes::table.find(id))
        .set((mailboxes::rate_limited_until.eq(until), mailboxes::updated_at.eq(now)))
        .execute(conn)
}

/// A fresh grant for an existing mailbox: active again, with its emails and sync position kept.
pub fn reactivate(conn: &mut DbConn, id: &str, granted_scopes: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(mailboxes::table.find(id))
        .set((
            mailboxes::status.eq("active"),
            mailboxes::granted_scopes.eq(granted_scopes),
            mailboxes::last_error.eq(None::<String>),
            mailboxes::rate_limited_until.eq(None::<NaiveDateTime>),
            mailboxes::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Forgets the tokens (after a disconnect) and marks the mailbox disconnected.
pub fn disconnect(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(mailboxes::table.find(id))
        .set((
            mailboxes::encrypted_access_token.eq(None::<String>),
            mailboxes::encrypted_refresh_token.eq(None::<String>),
            mailboxes::token_key_id.eq(None::<String>),
            mailboxes::token_expires_at.eq(None::<NaiveDateTime>),
            mailboxes::status.eq("disconnected"),
            mailboxes::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Removes the mailbox with its emails.
pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(mailboxes::table.find(id)).execute(conn)
}

pub fn set_backfill_days(conn: &mut DbConn, id: &str, days: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(mailboxes::table.find(id))
        .set((mailboxes::backfill_days.eq(days), mailboxes::updated_at.eq(now)))
        .execute(conn)
}
