//! `archive_messages`: takes sorted emails out of the provider's inbox, adding the label of their
//! category (`EmailGator/<category>`), then records them archived — as the mailbox's owner chose:
//! they may keep sorted mail in the inbox, and go without labels. Only emails that are stored and
//! sorted are archived; anything else in the batch is left in the inbox.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sync_mailbox::record_failure;
use super::{Job, JobContext, JobError};
use crate::db;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchiveMessages {
    pub mailbox_id: String,
    /// Email ids (ours, not the provider's); empty: every sorted email of the mailbox.
    #[serde(default)]
    pub email_ids: Vec<String>,
}

/// Emails archived per provider call at most, in one run.
const RUN_LIMIT: i64 = 5000;

impl ArchiveMessages {
    /// Sorting queues one archive run per mailbox at a time, so Gmail sees few large `batchModify` calls.
    pub fn unique_key(mailbox_id: &str) -> String {
        format!("archive:{mailbox_id}")
    }
}

/// The provider label for a category.
pub fn category_label(category: &str) -> String {
    format!("EmailGator/{category}")
}

impl Job for ArchiveMessages {
    const KIND: &'static str = "archive_messages";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (mailbox_id, ids) = (self.mailbox_id.clone(), self.email_ids.clone());
        let (mailbox, sorted) = ctx
            .db(move |conn| {
                let mailbox = db::mailboxes::find(conn, &mailbox_id)?;
                let owner = match &mailbox {
                    Some(mailbox) => db::users::find(conn, &mailbox.user_id)?,
                    None => None,
                };
                let sorted = if ids.is_empty() {
                    db::emails::list_all_sorted_with_category(conn, &mailbox_id, RUN_LIMIT)?
                } else {
                    db::emails::list_sorted_with_category(conn, &mailbox_id, &ids)?
                };
                Ok((mailbox.zip(owner), sorted))
            })
            .await?;
        let Some((mailbox, owner)) = mailbox.filter(|(m, _)| m.status == "active") else { return Ok(()) };
        if sorted.is_empty() {
            return Ok(());
        }
        let provider = match ctx.mail.open(mailbox.as_ref()) {
            Ok(provider) => provider,
            Err(error) => return Err(record_failure(ctx, &mailbox.id, error).await),
        };
        // One provider call per category, since the label differs; each category's emails are
        // recorded archived as soon as Gmail took them, so a failure later in the run does not make
        // the retry ask Gmail again for what is already done.
        let mut by_category: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (email, category) in sorted {
            by_category.entry(category).or_default().push((email.id, email.provider_message_id));
        }
        let mut count = 0;
        for (category, emails) in by_category {
            let label = owner.is_labelling.then(|| category_label(&category));
            let is_leaving_inbox = !owner.is_keeping_inbox;
            let (ids, provider_ids): (Vec<String>, Vec<String>) = emails.into_iter().unzip();
            if let Err(error) = provider.archive(&provider_ids, label.as_deref(), is_leaving_inbox).await {
                return Err(record_failure(ctx, &mailbox.id, error).await);
            }
            let now = ctx.clock.now();
            count += ctx.db(move |conn| Ok(db::emails::mark_archived(conn, &ids, is_leaving_inbox, now)?)).await?;
        }
        tracing::info!(mailbox_id = mailbox.id, count, "emails archived");
        Ok(())
    }
}
