//! `import_messages`: fetches a batch of discovered messages, parses and stores each. A message that
//! left the mailbox is stored with a note; a transient failure retries the batch, and messages already
//! imported are skipped by the store itself.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::sync_mailbox::record_failure;
use super::{Job, JobContext, JobError, SortEmails};
use crate::clients::mail::MailError;
use crate::db;
use crate::services::imports::{self, Fetched};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportMessages {
    pub mailbox_id: String,
    /// Provider message ids.
    pub ids: Vec<String>,
}

impl Job for ImportMessages {
    const KIND: &'static str = "import_messages";
    const TIMEOUT: Option<Duration> = Some(Duration::from_secs(600));

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let id = self.mailbox_id.clone();
        let mailbox = ctx.db(move |conn| Ok(db::mailboxes::find(conn, &id)?)).await?;
        let Some(mailbox) = mailbox else { return Ok(()) };
        let provider = match ctx.mail.open(mailbox.as_ref()) {
            Ok(provider) => provider,
            Err(error) => return Err(record_failure(ctx, &mailbox.id, error).await),
        };
        let mut fetched = Vec::with_capacity(self.ids.len());
        for provider_id in &self.ids {
            match provider.fetch(provider_id).await {
                Ok(message) => fetched.push((provider_id.clone(), Fetched::Message(message))),
                Err(MailError::MessageGone(_)) => fetched.push((provider_id.clone(), Fetched::Gone)),
                Err(error) => return Err(record_failure(ctx, &mailbox.id, error).await),
            }
        }
        // Parsing is CPU work: it runs on the blocking pool with the store, in one transaction.
        let (now, mailbox_id) = (ctx.clock.now(), mailbox.id.clone());
        let imported = ctx
            .db(move |conn| {
                let imported = imports::store_imports(conn, &mailbox_id, fetched, now)
                    .map_err(|e| JobError::Retry(e.to_string()))?;
                // The sorter takes them next; one sort per mailbox waits or runs at a time.
                SortEmails::enqueue_for(conn, &mailbox_id, now)?;
                Ok(imported)
            })
            .await?;
        tracing::info!(mailbox_id = mailbox.id, imported, batch = self.ids.len(), "messages imported");
        Ok(())
    }
}
