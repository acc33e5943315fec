//! Reading a user's mail: a category's emails page by page, one email with its details, and the
//! "select all" of a bulk action resolved to ids on the server. Every read checks ownership.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as CURSOR;
use chrono::NaiveDateTime;

use crate::db::categories::Category;
use crate::db::emails::{Bodies, Email, ListFilter, ListPosition, ListedEmail};
use crate::db::mailboxes::Mailbox;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::services::categories;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;
/// A bulk action touches at most this many emails per transaction.
pub const ACTION_CHUNK: usize = 500;

/// One page of a category's emails: full `Email`s for API clients, `ListedEmail` rows for the page.
#[derive(Debug, Clone)]
pub struct EmailPage<E = Email> {
    pub category: Category,
    pub emails: Vec<E>,
    /// The user's mailboxes (the accounts an email can come from).
    pub mailboxes: Vec<Mailbox>,
    /// The cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
    /// How many emails match the filter in the whole category.
    pub total: i64,
}

/// Where an item of a newest-first list stands (for the next page's cursor).
pub trait Positioned {
    fn position(&self) -> ListPosition;
}

impl Positioned for Email {
    fn position(&self) -> ListPosition {
        ListPosition { listed_at: self.listed_at, id: self.id.clone() }
    }
}

impl Positioned for ListedEmail {
    fn position(&self) -> ListPosition {
        ListPosition { listed_at: self.listed_at, id: self.id.clone() }
    }
}

/// Which page of which of the user's categories a list asks for: the emails matching `filter`,
/// newest first, after `cursor`.
#[derive(Debug, Clone, Copy)]
pub struct Listing<'a> {
    pub user_id: &'a str,
    pub category_id: &'a str,
    pub filter: &'a ListFilter,
    pub cursor: Option<&'a str>,
    pub page_size: i64,
}

/// One page of a category as whole emails, with their bodies only when the caller shows them.
pub fn list_category(conn: &mut DbConn, listing: Listing<'_>, bodies: Bodies) -> Result<EmailPage, AppError> {
    let Listing { category_id, filter, .. } = listing;
    list_category_with(
        conn,
        listing,
        |conn, size| db::emails::list_first_in_category_counted(conn, category_id, filter, size, bodies),
        |conn, after, size| db::emails::list_in_category(conn, category_id, filter, after, size, bodies),
    )
}

/// The same page as `list_category`, with only what a row of the category page shows.
pub fn list_category_rows(conn: &mut DbConn, listing: Listing<'_>) -> Result<EmailPage<ListedEmail>, AppError> {
    let Listing { category_id, filter, .. } = listing;
    list_category_with(
        conn,
        listing,
        |conn, size| db::emails::list_first_listed_in_category_counted(conn, category_id, filter, size),
        |conn, after, size| db::emails::list_listed_in_category(conn, category_id, filter, after, size),
    )
}

/// Checks ownership and the account filter, then reads one page with `first_counted` (a search's
/// first page and its total in one query) or `page` and the kept count.
fn list_category_with<E: Positioned>(
    conn: &mut DbConn,
    listing: Listing<'_>,
    first_counted: impl FnOnce(&mut DbConn, i64) -> db::QueryResult<(Vec<E>, i64)>,
    page: impl FnOnce(&mut DbConn, Option<&ListPosition>, i64) -> db::QueryResult<Vec<E>>,
) -> Result<EmailPage<E>, AppError> {
    let Listing { user_id, category_id, filter, cursor, page_size } = listing;
    let category = categories::find_owned(conn, user_id, category_id)?;
    let after = cursor.filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
    let mailboxes = db::mailboxes::list_for_user(conn, user_id)?;
    if let Some(mailbox_id) = &filter.mailbox_id
        && !mailboxes.iter().any(|m| &m.id == mailbox_id)
    {
        return Err(AppError::NotFound);
    }
    let size = page_size.clamp(1, MAX_PAGE_SIZE);
    let (emails, total) = if filter.text().is_some() && after.is_none() {
        first_counted(conn, size + 1)?
    } else {
        let emails = page(conn, after.as_ref(), size + 1)?;
        (emails, count_in_category(conn, category_id, filter)?)
    };
    let (emails, next_cursor) = split_page(emails, size);
    Ok(EmailPage { category, emails, mailboxes, next_cursor, total })
}

/// How many of a category's emails match the filter: the kept count when no text narrows the
/// list (for the whole category or one account), otherwise counted through the text index.
pub fn count_in_category(conn: &mut DbConn, category_id: &str, filter: &ListFilter) -> Result<i64, AppError> {
    if filter.text().is_none() {
        return Ok(match &filter.mailbox_id {
            Some(mailbox_id) => db::category_counts::total_in_mailbox(conn, category_id, mailbox_id)?,
            None => {
                let totals = db::category_counts::totals(conn, &[category_id.to_owned()])?;
                totals.first().map_or(0, |(_, total)| *total)
            }
        });
    }
    Ok(db::emails::count_in_category(conn, category_id, filter)?)
}

/// One page of the emails waiting for review.
#[derive(Debug, Clone)]
pub struct ReviewPage {
    pub emails: Vec<Email>,
    pub next_cursor: Option<String>,
    /// How many emails wait for review in all.
    pub total: i64,
}

/// The user's emails waiting for review, newest first, after `cursor`; with their bodies only when
/// the caller shows them.
pub fn list_needing_review(
    conn: &mut DbConn,
    user_id: &str,
    cursor: Option<&str>,
    page_size: i64,
    bodies: Bodies,
) -> Result<ReviewPage, AppError> {
    let after = cursor.filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
    let size = page_size.clamp(1, MAX_PAGE_SIZE);
    let emails = db::emails::list_needing_review_after(conn, user_id, after.as_ref(), size + 1, bodies)?;
    let (emails, next_cursor) = split_page(emails, size);
    let total = db::emails::count_needing_review(conn, user_id)?;
    Ok(ReviewPage { emails, next_cursor, total })
}

/// Cuts a list fetched with one row too many to the page size, with the next page's cursor when
/// that extra row was there.
fn split_page<E: Positioned>(mut emails: Vec<E>, size: i64) -> (Vec<E>, Option<String>) {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if emails.len() <= size {
        return (emails, None);
    }
    emails.truncate(size);
    let next = emails.last().map(|e| encode_cursor(&e.position()));
    (emails, next)
}

/// The user's email `id` (also a deleted one, for undo), with its mailbox; `NotFound` otherwise.
pub fn find_owned(conn: &mut DbConn, user_id: &str, id: &str) -> Result<(Email, Mailbox), AppError> {
    let email = db::emails::find(conn, id)?.ok_or(AppError::NotFound)?;
    let mailbox = db::mailboxes::find(conn, &email.mailbox_id)?.filter(|m| m.user_id == user_id);
    mailbox.map(|mailbox| (email, mailbox)).ok_or(AppError::NotFound)
}

/// Which emails a bulk action is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The emails the person ticked.
    Ids(Vec<String>),
    /// Every email in the category that matches the filter, not only the visible page.
    AllInCategory { category_id: String, filter: ListFilter },
}

/// The ids a selection stands for, the user's own only (others are silently not there).
pub fn resolve(conn: &mut DbConn, user_id: &str, selection: &Selection) -> Result<Vec<String>, AppError> {
    match selection {
        Selection::Ids(ids) => {
            let mut ids = ids.clone();
            ids.sort();
            ids.dedup();
            let mut owned = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(ACTION_CHUNK) {
                owned.extend(db::emails::list_owned(conn, user_id, chunk)?.into_iter().map(|e| e.id));
            }
            Ok(owned)
        }
        Selection::AllInCategory { category_id, filter } => {
            categories::find_owned(conn, user_id, category_id)?;
            let mut ids = Vec::new();
            let mut after = String::new();
            loop {
                let page = db::emails::ids_in_category(conn, category_id, filter, &after, 5_000)?;
                let Some(last) = page.last() else { return Ok(ids) };
                after = last.clone();
                ids.extend(page);
            }
        }
    }
}

/// `NotFound` unless every one of `ids` is the user's email: an API names emails one by one, and an
/// id that is not theirs must answer exactly like one that does not exist.
pub fn ensure_all_owned(conn: &mut DbConn, user_id: &str, ids: &[String]) -> Result<(), AppError> {
    let mut wanted = ids.to_vec();
    wanted.sort();
    wanted.dedup();
    let owned = resolve(conn, user_id, &Selection::Ids(wanted.clone()))?;
    if owned.len() == wanted.len() { Ok(()) } else { Err(AppError::NotFound) }
}

/// The name an email shows for its sender.
/// The sender's name, else their address.
pub fn sender(from_name: Option<&str>, from_address: Option<&str>) -> String {
    from_name.filter(|n| !n.trim().is_empty()).or(from_address).unwrap_or("(unknown sender)").to_owned()
}

pub fn subject(subject: &str) -> String {
    if subject.trim().is_empty() { "(no subject)".into() } else { subject.to_owned() }
}

pub fn encode_cursor(position: &ListPosition) -> String {
    let micros = position.listed_at.and_utc().timestamp_micros();
    CURSOR.encode(format!("{micros}:{}", position.id))
}

pub fn decode_cursor(cursor: &str) -> Result<ListPosition, AppError> {
    let invalid = || AppError::invalid("cursor", "this page link is not valid any more; start from the first page");
    let bytes = CURSOR.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (micros, id) = text.split_once(':').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let listed_at: NaiveDateTime = chrono::DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?.naive_utc();
    if id.is_empty() || id.len() > 64 {
        return Err(invalid());
    }
    Ok(ListPosition { listed_at, id: id.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let at = chrono::DateTime::from_timestamp(1_764_000_000, 123_456_000).expect("time").naive_utc();
        let position = ListPosition { listed_at: at, id: "0192-abc".into() };
        assert_eq!(decode_cursor(&encode_cursor(&position)).ok(), Some(position));
        for garbage in ["", "!!", "bm90LWEtY3Vyc29y", &CURSOR.encode("12:"), &CURSOR.encode("x:id")] {
            assert!(decode_cursor(garbage).is_err(), "{garbage}");
        }
    }
}
