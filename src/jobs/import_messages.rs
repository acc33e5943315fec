//! `import_messages`: fetches a batch of discovered messages, parses and stores each. A message that
//! left the mailbox is stored with a note; on a provider failure what was fetched so far is stored and
//! the job retries (or snoozes) for the rest, fetching only messages not imported yet.

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
        let (id, ids) = (self.mailbox_id.clone(), self.ids.clone());
        let (mailbox, to_fetch) = ctx
            .db(move |conn| {
                let mailbox = db::mailboxes::find(conn, &id)?;
                // A run after a failure or a crash fetches only what the earlier runs did not store.
                let pending = db::emails::still_discovered(conn, &id, &ids)?;
                Ok((mailbox, pending))
            })
            .await?;
        let Some(mailbox) = mailbox else { return Ok(()) };
        let to_fetch: Vec<&String> = self.ids.iter().filter(|id| to_fetch.contains(id)).collect();
        if to_fetch.is_empty() {
            return Ok(());
        }
        let provider = match ctx.mail.open(mailbox.as_ref()) {
            Ok(provider) => provider,
            Err(error) => return Err(record_failure(ctx, &mailbox.id, error).await),
        };
        let mut fetched = Vec::with_capacity(to_fetch.len());
        let mut failure = None;
        for provider_id in to_fetch {
            match provider.fetch(provider_id).await {
                Ok(message) => fetched.push((provider_id.clone(), Fetched::Message(message))),
                Err(MailError::MessageGone(_)) => fetched.push((provider_id.clone(), Fetched::Gone)),
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        // What was fetched before a failure is stored, so each attempt makes progress even when the
        // provider fails often (one failure in ten would otherwise fail nearly every batch of 50).
        let made_progress = !fetched.is_empty();
        if made_progress {
            // Parsing is CPU work: it runs on the blocking pool with the store, in one transaction.
            let (now, mailbox_id, batch) = (ctx.clock.now(), mailbox.id.clone(), fetched.len());
            let imported = ctx
                .db(move |conn| {
                    let imported = imports::store_imports(conn, &mailbox_id, fetched, now)
                        .map_err(|e| JobError::Retry(e.to_string()))?;
                    // The sorter takes them next; one sort per mailbox waits or runs at a time.
                    SortEmails::enqueue_for(conn, &mailbox_id, now)?;
                    Ok(imported)
                })
                .await?;
            tracing::info!(mailbox_id = mailbox.id, imported, batch, "messages imported");
        }
        match failure {
            // An attempt that stored something is not a failed attempt: run again soon, without
            // spending one, so a long batch against a flaky provider neither backs off for minutes
            // nor runs out of attempts while it is getting through.
            Some(error) => match record_failure(ctx, &mailbox.id, error).await {
                JobError::Retry(_) if made_progress => Err(JobError::Snooze(ctx.config.jobs.retry_base)),
                decided => Err(decided),
            },
            None => Ok(()),
        }
    }
}
