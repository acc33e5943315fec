//! `sync_mailbox`: asks the mailbox's provider what is new and records it, with the import jobs, in
//! one transaction (`services::imports::record_new_messages`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Job, JobContext, JobError};
use crate::clients::mail::MailError;
use crate::db;
use crate::services::imports;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncMailbox {
    pub mailbox_id: String,
}

impl SyncMailbox {
    /// One sync per mailbox waits or runs at a time.
    pub fn unique_key(mailbox_id: &str) -> String {
        format!("sync:{mailbox_id}")
    }
}

impl Job for SyncMailbox {
    const KIND: &'static str = "sync_mailbox";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let id = self.mailbox_id.clone();
        let mailbox = ctx.db(move |conn| Ok(db::mailboxes::find(conn, &id)?)).await?;
        let Some(mailbox) = mailbox.filter(|m| m.status == "active") else {
            // Removed, paused or waiting for a reconnect: nothing to do, and nothing to retry.
            return Ok(());
        };
        let provider = match ctx.mail.open(mailbox.as_ref()) {
            Ok(provider) => provider,
            Err(error) => return Err(record_failure(ctx, &mailbox.id, error).await),
        };
        let found = match provider.list_new(mailbox.sync_cursor.as_deref()).await {
            Ok(found) => found,
            Err(error) => return Err(record_failure(ctx, &mailbox.id, error).await),
        };
        let (now, id) = (ctx.clock.now(), mailbox.id.clone());
        let new = ctx
            .db(move |conn| {
                imports::record_new_messages(conn, &id, &found, now).map_err(|e| JobError::Retry(e.to_string()))
            })
            .await?;
        tracing::info!(mailbox_id = mailbox.id, new, "mailbox synced");
        Ok(())
    }
}

/// "Sync now" pressed while a sync runs: that sync may have asked the provider before the mail the
/// person is waiting for arrived, so one more sync follows it instead of the press being lost.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncAgain {
    pub mailbox_id: String,
}

impl SyncAgain {
    /// Presses during one running sync make one follow-up.
    pub fn unique_key(mailbox_id: &str) -> String {
        format!("sync-again:{mailbox_id}")
    }
}

/// How often a follow-up looks whether the running sync has finished.
const FOLLOW_UP_WAIT: Duration = Duration::from_secs(2);

impl Job for SyncAgain {
    const KIND: &'static str = "sync_again";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (id, now) = (self.mailbox_id.clone(), ctx.clock.now());
        let is_running = ctx
            .db(move |conn| {
                let key = SyncMailbox::unique_key(&id);
                if db::jobs::is_running_with_key(conn, &key)? {
                    return Ok(true);
                }
                // A sync that waits (or none at all) asks the provider after this moment: enough.
                let options = super::EnqueueOptions { unique_key: Some(key), ..Default::default() };
                super::enqueue(conn, &SyncMailbox { mailbox_id: id }, options, now)?;
                Ok(false)
            })
            .await?;
        if is_running { Err(JobError::Snooze(FOLLOW_UP_WAIT)) } else { Ok(()) }
    }
}

/// Records a provider failure on the mailbox (shown on the dashboard) and decides what the job does.
pub(super) async fn record_failure(ctx: &JobContext, mailbox_id: &str, error: MailError) -> JobError {
    let (now, id, message) = (ctx.clock.now(), mailbox_id.to_owned(), error.to_string());
    let is_revoked = error == MailError::TokenRevoked;
    let limited_until = match &error {
        MailError::RateLimited { retry_after } => {
            let day = chrono::Duration::days(1);
            Some(now + chrono::Duration::from_std(*retry_after).unwrap_or(day).min(day))
        }
        _ => None,
    };
    let recorded = ctx
        .db(move |conn| {
            db::mailboxes::record_error(conn, &id, &message, now)?;
            if is_revoked {
                db::mailboxes::set_status(conn, &id, "needs_reconnect", now)?;
            }
            if let Some(until) = limited_until {
                db::mailboxes::set_rate_limited(conn, &id, until, now)?;
            }
            Ok(())
        })
        .await;
    if let Err(problem) = recorded {
        tracing::error!(mailbox_id, %problem, "could not record the mailbox error");
    }
    match error {
        MailError::RateLimited { retry_after } => JobError::Snooze(retry_after.min(Duration::from_secs(86_400))),
        error if error.is_transient() => JobError::Retry(error.to_string()),
        error => JobError::Permanent(error.to_string()),
    }
}
