//! `trash_messages`: moves deleted emails to the provider's trash, or back out of it after an
//! undo. The database already says what the user wants (`emails.trashed_at`); this job makes the
//! mailbox agree, so running it twice, or after a later undo, does the right thing.

use serde::{Deserialize, Serialize};

use super::sync_mailbox::record_failure;
use super::{Job, JobContext, JobError};
use crate::db;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrashMessages {
    pub mailbox_id: String,
    pub email_ids: Vec<String>,
}

impl Job for TrashMessages {
    const KIND: &'static str = "trash_messages";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (mailbox_id, ids) = (self.mailbox_id.clone(), self.email_ids.clone());
        let (mailbox, emails) = ctx
            .db(move |conn| {
                let mailbox = db::mailboxes::find(conn, &mailbox_id)?;
                Ok((mailbox, db::emails::list_in_mailbox(conn, &mailbox_id, &ids)?))
            })
            .await?;
        let Some(mailbox) = mailbox.filter(|m| m.status == "active") else { return Ok(()) };
        let (trash, restore): (Vec<_>, Vec<_>) = emails.into_iter().partition(|email| email.trashed_at.is_some());
        let trash: Vec<String> = trash.into_iter().map(|e| e.provider_message_id).collect();
        let restore: Vec<String> = restore.into_iter().map(|e| e.provider_message_id).collect();
        let provider = match ctx.mail.open(mailbox.as_ref()) {
            Ok(provider) => provider,
            Err(error) => return Err(record_failure(ctx, &mailbox.id, error).await),
        };
        if !trash.is_empty()
            && let Err(error) = provider.trash(&trash).await
        {
            return Err(record_failure(ctx, &mailbox.id, error).await);
        }
        if !restore.is_empty()
            && let Err(error) = provider.untrash(&restore).await
        {
            return Err(record_failure(ctx, &mailbox.id, error).await);
        }
        tracing::info!(mailbox_id = mailbox.id, trashed = trash.len(), restored = restore.len(), "trash updated");
        Ok(())
    }
}
