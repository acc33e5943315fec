//! `import_messages`: fetches a batch of discovered messages, parses and stores each. A message that
//! left the mailbox is stored with a note; a transient failure retries the batch, and messages already
//! imported are skipped by the store itself.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::sync_mailbox::record_failure;
use super::{Job, JobContext, JobError};
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
        let (pool, id) = (ctx.pool.clone(), self.mailbox_id.clone());
        let mailbox = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| JobError::Retry(e.to_string()))?;
            Ok::<_, JobError>(db::mailboxes::find(&mut conn, &id)?)
        })
        .await
        .map_err(|e| JobError::Retry(e.to_string()))??;
        let Some(mailbox) = mailbox else { return Ok(()) };
        let provider = match ctx.mail.open(&mailbox.kind, mailbox.maildir_path.as_deref()) {
            Ok(provider) => provider,
            Err(error) => return Err(record_failure(ctx, &mailbox.id, error).await),
        };
        let mut imported = 0;
        for provider_id in &self.ids {
            let fetched = match provider.fetch(provider_id).await {
                Ok(message) => Fetched::Message(message),
                Err(MailError::MessageGone(_)) => Fetched::Gone,
                Err(error) => return Err(record_failure(ctx, &mailbox.id, error).await),
            };
            let (pool, now, mailbox_id, provider_id) =
                (ctx.pool.clone(), ctx.clock.now(), mailbox.id.clone(), provider_id.clone());
            let stored = tokio::task::spawn_blocking(move || {
                let mut conn = pool.get().map_err(|e| JobError::Retry(e.to_string()))?;
                imports::store_import(&mut conn, &mailbox_id, &provider_id, fetched, now)
                    .map_err(|e| JobError::Retry(e.to_string()))
            })
            .await
            .map_err(|e| JobError::Retry(e.to_string()))??;
            imported += usize::from(stored);
        }
        tracing::info!(mailbox_id = mailbox.id, imported, batch = self.ids.len(), "messages imported");
        Ok(())
    }
}
