//! The signed-in home: a user's connected accounts and categories with their email counts.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::db::categories::Category;
use crate::db::mailboxes::Mailbox;
use crate::db::{self, DbConn};
use crate::error::AppError;

#[derive(Debug, Clone)]
pub struct Overview {
    pub mailboxes: Vec<MailboxStatus>,
    pub categories: Vec<(Category, i64)>,
}

/// What a mailbox is doing, in the words the dashboard shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    Syncing,
    Idle,
    NeedsReconnect,
    Disconnected,
    Paused,
    RateLimitedUntil(NaiveDateTime),
}

#[derive(Debug, Clone)]
pub struct MailboxStatus {
    pub mailbox: Mailbox,
    pub activity: Activity,
    pub imported_today: i64,
}

pub fn overview(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> Result<Overview, AppError> {
    let start_of_day = now.date().and_hms_opt(0, 0, 0).unwrap_or(now);
    let mut mailboxes = Vec::new();
    for mailbox in db::mailboxes::list_for_user(conn, user_id)? {
        let is_syncing = db::jobs::is_pending_with_key(conn, &crate::jobs::SyncMailbox::unique_key(&mailbox.id))?;
        let activity = match (mailbox.status.as_str(), mailbox.rate_limited_until) {
            ("needs_reconnect", _) => Activity::NeedsReconnect,
            ("disconnected", _) => Activity::Disconnected,
            ("paused", _) => Activity::Paused,
            (_, Some(until)) if until > now => Activity::RateLimitedUntil(until),
            _ if is_syncing => Activity::Syncing,
            _ => Activity::Idle,
        };
        let imported_today = db::emails::count_discovered_since(conn, &mailbox.id, start_of_day)?;
        mailboxes.push(MailboxStatus { mailbox, activity, imported_today });
    }
    let categories = db::categories::list_for_user(conn, user_id)?;
    let ids: Vec<String> = categories.iter().map(|c| c.id.clone()).collect();
    let counts: HashMap<Option<String>, i64> = db::emails::count_by_category(conn, &ids)?.into_iter().collect();
    let categories = categories
        .into_iter()
        .map(|c| {
            let count = counts.get(&Some(c.id.clone())).copied().unwrap_or(0);
            (c, count)
        })
        .collect();
    Ok(Overview { mailboxes, categories })
}
