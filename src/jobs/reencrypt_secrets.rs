//! `reencrypt_secrets` (cron, daily): seals stored tokens again with the newest key, so an old key
//! can be removed from `ENCRYPTION_KEYS` once this has run.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Job, JobContext, JobError};
use crate::services::mailboxes;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReencryptSecrets {}

impl Job for ReencryptSecrets {
    const KIND: &'static str = "reencrypt_secrets";
    const QUEUE: &'static str = "maintenance";
    const MAX_ATTEMPTS: i64 = 3;
    const TIMEOUT: Option<Duration> = Some(Duration::from_secs(600));

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (keyring, now) = (ctx.keyring.clone(), ctx.clock.now());
        // A value that does not open (its key was removed too early) cannot be fixed by retrying.
        let changed = ctx
            .db(move |conn| {
                mailboxes::reencrypt_tokens(conn, &keyring, now).map_err(|e| JobError::Permanent(e.to_string()))
            })
            .await?;
        if changed > 0 {
            tracing::info!(changed, "sealed mailbox tokens again with the newest key");
        }
        Ok(())
    }
}
