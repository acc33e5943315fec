//! Bulk actions on a selection of emails (ticked ones, or every email in a category): delete, move,
//! mark reviewed. A selection of any size is resolved on the server and applied in chunks, each its
//! own transaction, so a 100,000-email "select all" never holds one long lock.

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::error::AppError;
use crate::services::emails::{ACTION_CHUNK, Selection, resolve};
use crate::services::{sorting, trash};

/// What a bulk action did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The emails it changed.
    pub changed: usize,
    /// The ids it was applied to (for an Undo of a delete).
    pub ids: Vec<String>,
}

/// Moves the selected emails to Gmail's Trash (undoable for 30 days).
pub fn delete(
    conn: &mut DbConn,
    user_id: &str,
    selection: &Selection,
    now: NaiveDateTime,
) -> Result<Outcome, AppError> {
    each_chunk(conn, user_id, selection, |conn, ids| trash::trash(conn, user_id, ids, now))
}

/// Brings back deleted emails among the selection.
pub fn undo_delete(conn: &mut DbConn, user_id: &str, ids: &[String], now: NaiveDateTime) -> Result<Outcome, AppError> {
    each_chunk(conn, user_id, &Selection::Ids(ids.to_vec()), |conn, ids| trash::restore(conn, user_id, ids, now))
}

/// Puts the selected emails in `category_id`; the sorter learns from it.
pub fn move_to(
    conn: &mut DbConn,
    user_id: &str,
    selection: &Selection,
    category_id: &str,
    sender_memory_threshold: i64,
    now: NaiveDateTime,
) -> Result<Outcome, AppError> {
    crate::services::categories::find_owned(conn, user_id, category_id)?;
    each_chunk(conn, user_id, selection, |conn, ids| {
        sorting::assign(conn, user_id, ids, category_id, sender_memory_threshold, now)
    })
}

/// Confirms the categories of the selected emails.
pub fn mark_reviewed(
    conn: &mut DbConn,
    user_id: &str,
    selection: &Selection,
    sender_memory_threshold: i64,
    now: NaiveDateTime,
) -> Result<Outcome, AppError> {
    each_chunk(conn, user_id, selection, |conn, ids| sorting::confirm(conn, user_id, ids, sender_memory_threshold, now))
}

fn each_chunk(
    conn: &mut DbConn,
    user_id: &str,
    selection: &Selection,
    mut apply: impl FnMut(&mut DbConn, &[String]) -> Result<usize, AppError>,
) -> Result<Outcome, AppError> {
    let ids = resolve(conn, user_id, selection)?;
    if ids.is_empty() {
        return Err(AppError::invalid("ids", "select at least one email"));
    }
    let mut changed = 0;
    for chunk in ids.chunks(ACTION_CHUNK) {
        changed += apply(conn, chunk)?;
    }
    Ok(Outcome { changed, ids })
}
