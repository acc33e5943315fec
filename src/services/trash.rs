//! Delete and undo: a delete moves emails to the mailbox's trash (recoverable), recorded in the
//! database; for 30 days the user can undo it from the app. The mailbox follows in a job.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use crate::db::emails::Email;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::jobs::{self, EnqueueOptions, trash_messages::TrashMessages};

/// How long a delete can be undone (Gmail empties its trash after 30 days).
pub const UNDO_WINDOW: chrono::Duration = chrono::Duration::days(30);

/// Deletes the user's emails among `ids`; returns how many.
pub fn trash(conn: &mut DbConn, user_id: &str, ids: &[String], now: NaiveDateTime) -> Result<usize, AppError> {
    db::transaction(conn, |conn| {
        let emails: Vec<Email> =
            db::emails::list_owned(conn, user_id, ids)?.into_iter().filter(|e| e.trashed_at.is_none()).collect();
        apply(conn, &emails, Some(now), now)
    })
}

/// Undoes deletes of the user's emails among `ids` made within the undo window; returns how many.
pub fn restore(conn: &mut DbConn, user_id: &str, ids: &[String], now: NaiveDateTime) -> Result<usize, AppError> {
    db::transaction(conn, |conn| {
        let emails: Vec<Email> = db::emails::list_owned(conn, user_id, ids)?
            .into_iter()
            .filter(|e| e.trashed_at.is_some_and(|at| at > now - UNDO_WINDOW))
            .collect();
        apply(conn, &emails, None, now)
    })
}

/// Undoes one bulk delete, named by the time it was made; returns how many came back.
pub fn restore_batch(
    conn: &mut DbConn,
    user_id: &str,
    deleted_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let ids = db::emails::ids_trashed_at(conn, user_id, deleted_at)?;
    let mut restored = 0;
    for chunk in ids.chunks(crate::services::emails::ACTION_CHUNK) {
        restored += restore(conn, user_id, chunk, now)?;
    }
    Ok(restored)
}

/// The user's deletes that can still be undone.
pub fn list_undoable(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> Result<Vec<Email>, AppError> {
    Ok(db::emails::list_trashed(conn, user_id, now - UNDO_WINDOW, 500)?)
}

fn apply(
    conn: &mut DbConn,
    emails: &[Email],
    trashed_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let ids: Vec<String> = emails.iter().map(|e| e.id.clone()).collect();
    db::emails::set_trashed(conn, &ids, trashed_at, now)?;
    let mut by_mailbox: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for email in emails {
        by_mailbox.entry(&email.mailbox_id).or_default().push(email.id.clone());
    }
    for (mailbox_id, email_ids) in by_mailbox {
        for chunk in email_ids.chunks(1000) {
            let job = TrashMessages { mailbox_id: mailbox_id.to_owned(), email_ids: chunk.to_vec() };
            jobs::enqueue(conn, &job, EnqueueOptions::default(), now)?;
        }
    }
    Ok(ids.len())
}
