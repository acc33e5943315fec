//! `relabel_messages`: after the person moved archived emails to another category, the provider's
//! category labels follow (Gmail: the new `EmailGator/<category>` label on, the old ones off).

use serde::{Deserialize, Serialize};

use super::archive_messages::category_label;
use super::sync_mailbox::record_failure;
use super::{Job, JobContext, JobError};
use crate::db;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelabelMessages {
    pub mailbox_id: String,
    pub email_ids: Vec<String>,
    /// The category they are in now.
    pub category: String,
    /// The categories they came from.
    pub previous_categories: Vec<String>,
}

impl Job for RelabelMessages {
    const KIND: &'static str = "relabel_messages";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (mailbox_id, ids) = (self.mailbox_id.clone(), self.email_ids.clone());
        let (mailbox, emails) = ctx
            .db(move |conn| {
                let mailbox = db::mailboxes::find(conn, &mailbox_id)?;
                let is_labelling = match &mailbox {
                    Some(mailbox) => db::users::find(conn, &mailbox.user_id)?.is_some_and(|u| u.is_labelling),
                    None => false,
                };
                Ok((mailbox.filter(|_| is_labelling), db::emails::list_in_mailbox(conn, &mailbox_id, &ids)?))
            })
            .await?;
        // No mailbox, or its owner wants no labels.
        let Some(mailbox) = mailbox.filter(|m| m.status == "active") else { return Ok(()) };
        if !ctx.config.google.gmail.is_category_labels_enabled || emails.is_empty() {
            return Ok(());
        }
        let provider = match ctx.mail.open(mailbox.as_ref()) {
            Ok(provider) => provider,
            Err(error) => return Err(record_failure(ctx, &mailbox.id, error).await),
        };
        let provider_ids: Vec<String> = emails.into_iter().map(|e| e.provider_message_id).collect();
        let remove: Vec<String> =
            self.previous_categories.iter().filter(|c| **c != self.category).map(|c| category_label(c)).collect();
        if let Err(error) = provider.relabel(&provider_ids, &category_label(&self.category), &remove).await {
            return Err(record_failure(ctx, &mailbox.id, error).await);
        }
        Ok(())
    }
}
