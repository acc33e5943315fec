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
    pub categories: Vec<CategoryCount>,
    pub needs_review: i64,
}

#[derive(Debug, Clone)]
pub struct CategoryCount {
    pub category: Category,
    pub total: i64,
    /// Dated in the last 24 hours.
    pub new: i64,
}

/// Emails of a mailbox still on their way: found but not fetched, fetched but not sorted, sorted
/// but not yet archived. The sync banner follows these, not only the poll job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pipeline {
    pub importing: i64,
    pub sorting: i64,
    pub archiving: i64,
}

impl Pipeline {
    pub fn is_busy(&self) -> bool {
        self.importing + self.sorting + self.archiving > 0
    }
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
    pub pipeline: Pipeline,
}

/// What one mailbox is doing now (the dashboard card, and the API's polling status).
pub fn mailbox_status(conn: &mut DbConn, mailbox: Mailbox, now: NaiveDateTime) -> Result<MailboxStatus, AppError> {
    let start_of_day = now.date().and_hms_opt(0, 0, 0).unwrap_or(now);
    let mut pipeline = Pipeline::default();
    for (state, count) in db::emails::count_in_pipeline(conn, &mailbox.id)? {
        match state.as_str() {
            "discovered" => pipeline.importing += count,
            "imported" => pipeline.sorting += count,
            "sorted" => pipeline.archiving += count,
            _ => {}
        }
    }
    // Imported mail waits for categories when there are none, and sorted mail waits for the
    // archive delay on purpose: neither makes the mailbox busy; a pending sort or sync does.
    let is_sorting =
        pipeline.sorting > 0 && db::jobs::is_pending_with_key(conn, &crate::jobs::SortEmails::unique_key(&mailbox.id))?;
    if !is_sorting {
        pipeline.sorting = 0;
    }
    let is_syncing = pipeline.importing > 0
        || is_sorting
        || db::jobs::is_pending_with_key(conn, &crate::jobs::SyncMailbox::unique_key(&mailbox.id))?;
    let activity = match (mailbox.status.as_str(), mailbox.rate_limited_until) {
        ("needs_reconnect", _) => Activity::NeedsReconnect,
        ("disconnected", _) => Activity::Disconnected,
        ("paused", _) => Activity::Paused,
        (_, Some(until)) if until > now => Activity::RateLimitedUntil(until),
        _ if is_syncing => Activity::Syncing,
        _ => Activity::Idle,
    };
    let imported_today = db::emails::count_discovered_since(conn, &mailbox.id, start_of_day)?;
    Ok(MailboxStatus { mailbox, activity, imported_today, pipeline })
}

pub fn overview(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> Result<Overview, AppError> {
    let mut mailboxes = Vec::new();
    for mailbox in db::mailboxes::list_for_user(conn, user_id)? {
        mailboxes.push(mailbox_status(conn, mailbox, now)?);
    }
    let categories = db::categories::list_for_user(conn, user_id)?;
    let ids: Vec<String> = categories.iter().map(|c| c.id.clone()).collect();
    let counts = count_emails(conn, &ids, now)?;
    let categories = categories
        .into_iter()
        .map(|category| {
            let (total, new) = counts.get(&category.id).copied().unwrap_or((0, 0));
            CategoryCount { category, total, new }
        })
        .collect();
    let needs_review = db::emails::count_needing_review(conn, user_id)?;
    Ok(Overview { mailboxes, categories, needs_review })
}

/// Category id → (emails, emails dated in the last 24 hours), in two queries for any number of
/// categories, neither of which counts all the emails; a category without emails is missing from
/// the map. Callers pass their own category ids only.
pub fn count_emails(
    conn: &mut DbConn,
    category_ids: &[String],
    now: NaiveDateTime,
) -> Result<HashMap<String, (i64, i64)>, AppError> {
    let mut counts: HashMap<String, (i64, i64)> = HashMap::new();
    for (id, total) in db::category_counts::totals(conn, category_ids)? {
        counts.entry(id).or_default().0 = total;
    }
    for (id, new) in db::emails::count_new_by_category(conn, category_ids, now - chrono::Duration::hours(24))? {
        if let Some(id) = id {
            counts.entry(id).or_default().1 = new;
        }
    }
    Ok(counts)
}
