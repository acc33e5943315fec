//! `subscriptions`: one row per user and list (List-Id, else sender), with where unsubscribing stands.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::{emails, mailboxes, subscriptions};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = subscriptions)]
pub struct Subscription {
    pub id: String,
    pub user_id: String,
    pub subscription_key: String,
    pub display_name: String,
    /// `subscribed` until a first attempt; then the last attempt's status.
    pub status: String,
    pub last_attempt_id: Option<String>,
    /// When an attempt succeeded.
    pub unsubscribed_at: Option<NaiveDateTime>,
    pub emails_seen: i64,
    pub emails_after_unsubscribe: i64,
    pub is_trash_when_ignored: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn find_by_key(conn: &mut DbConn, user_id: &str, key: &str) -> QueryResult<Option<Subscription>> {
    subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .filter(subscriptions::subscription_key.eq(key))
        .select(Subscription::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Subscription>> {
    subscriptions::table.find(id).select(Subscription::as_select()).first(conn).optional()
}

pub fn insert(conn: &mut DbConn, subscription: &Subscription) -> QueryResult<()> {
    diesel::insert_into(subscriptions::table).values(subscription).execute(conn).map(drop)
}

pub fn list_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<Subscription>> {
    subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .order((subscriptions::display_name.asc(), subscriptions::id.asc()))
        .select(Subscription::as_select())
        .load(conn)
}

/// The status of each of the user's subscriptions among `keys` (the senders on one page).
pub fn statuses(conn: &mut DbConn, user_id: &str, keys: &[String]) -> QueryResult<Vec<(String, String)>> {
    subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .filter(subscriptions::subscription_key.eq_any(keys))
        .select((subscriptions::subscription_key, subscriptions::status))
        .load(conn)
}

/// Records a new attempt as the subscription's current one.
pub fn set_attempt(
    conn: &mut DbConn,
    id: &str,
    attempt_id: &str,
    status: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(subscriptions::table.find(id))
        .set((
            subscriptions::last_attempt_id.eq(attempt_id),
            subscriptions::status.eq(status),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Records an attempt's outcome; a success also stamps `unsubscribed_at` (the first one only).
pub fn record_outcome(conn: &mut DbConn, id: &str, status: &str, now: NaiveDateTime) -> QueryResult<usize> {
    let updated = diesel::update(subscriptions::table.find(id))
        .set((subscriptions::status.eq(status), subscriptions::updated_at.eq(now)))
        .execute(conn)?;
    if status == "succeeded" {
        diesel::update(subscriptions::table.find(id).filter(subscriptions::unsubscribed_at.is_null()))
            .set(subscriptions::unsubscribed_at.eq(now))
            .execute(conn)?;
    }
    Ok(updated)
}

pub fn add_seen(
    conn: &mut DbConn,
    id: &str,
    seen: i64,
    after_unsubscribe: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(subscriptions::table.find(id))
        .set((
            subscriptions::emails_seen.eq(subscriptions::emails_seen + seen),
            subscriptions::emails_after_unsubscribe.eq(subscriptions::emails_after_unsubscribe + after_unsubscribe),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn set_trash_when_ignored(conn: &mut DbConn, id: &str, is_on: bool, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(subscriptions::table.find(id))
        .set((subscriptions::is_trash_when_ignored.eq(is_on), subscriptions::updated_at.eq(now)))
        .execute(conn)
}

/// How many of the user's emails from this List-Id (or, without one, this sender) arrived since `since`.
pub fn count_recent_emails(
    conn: &mut DbConn,
    user_id: &str,
    list_id: Option<&str>,
    from_address: Option<&str>,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    let query = emails::table
        .inner_join(mailboxes::table)
        .filter(mailboxes::user_id.eq(user_id))
        .filter(emails::created_at.ge(since))
        .into_boxed();
    let query = match (list_id, from_address) {
        (Some(list_id), _) => query.filter(emails::list_id.eq(list_id.to_owned())),
        (None, Some(address)) => {
            query.filter(emails::from_address.eq(address.to_owned())).filter(emails::list_id.is_null())
        }
        (None, None) => return Ok(0),
    };
    query.count().get_result(conn)
}

/// Bulk mail: a List-Id or unsubscribe links; the same words as the `emails_bulk` index.
const BULK_MAIL: &str = "(list_id IS NOT NULL OR list_unsubscribe_urls <> '[]')";

/// A user's bulk mail since a moment, grouped by (List-Id, sender): the sender's name, the newest
/// email's id (ids grow with time) and how many emails.
pub type BulkGroup = (Option<String>, Option<String>, Option<String>, Option<String>, i64);

/// The user's bulk mail since `since` (mail with a List-Id or unsubscribe links), grouped in the
/// database from the `emails_bulk` index: one row per list and sender, however much mail.
pub fn bulk_mail_since(conn: &mut DbConn, user_id: &str, since: NaiveDateTime) -> QueryResult<Vec<BulkGroup>> {
    use diesel::dsl::{count_star, max};
    // The user's mailboxes first: a join would read every user's bulk mail from the index.
    let mailbox_ids: Vec<String> =
        mailboxes::table.filter(mailboxes::user_id.eq(user_id)).select(mailboxes::id).load(conn)?;
    emails::table
        .filter(emails::mailbox_id.eq_any(&mailbox_ids))
        .filter(emails::listed_at.ge(since))
        .filter(emails::trashed_at.is_null())
        // Word for word the condition of the `emails_bulk` partial index (a bound '[]' would not match it).
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(BULK_MAIL))
        .group_by((emails::list_id, emails::from_address))
        .select((emails::list_id, emails::from_address, max(emails::from_name), max(emails::id), count_star()))
        .load(conn)
}
