//! `prune`: deletes finished jobs past their retention, expired sessions, spent sign-in links and
//! unsubscribe screenshots older than 30 days.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Job, JobContext, JobError};
use crate::db;

/// Unsubscribe screenshots are evidence for a month, then deleted.
const SCREENSHOT_RETENTION: chrono::Duration = chrono::Duration::days(30);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PruneJobs {}

impl Job for PruneJobs {
    const KIND: &'static str = "prune";
    const QUEUE: &'static str = "maintenance";
    const MAX_ATTEMPTS: i64 = 3;
    const TIMEOUT: Option<Duration> = Some(Duration::from_secs(600));

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let now = ctx.clock.now();
        let config = ctx.config.clone();
        ctx.db(move |conn| {
            let before = now - chrono::Duration::from_std(config.jobs.prune_after).unwrap_or_default();
            let jobs = db::jobs::prune_finished(conn, before)?;
            let idle_before = now - chrono::Duration::from_std(config.server.session_idle).unwrap_or_default();
            let sessions = db::sessions::delete_expired(conn, now, idle_before)?;
            let tokens = db::login_tokens::delete_stale(conn, now)?;
            let oauth_states = db::oauth_states::delete_stale(conn, now - chrono::Duration::days(1))?;
            let screenshots = db::unsubscribe_attempts::clear_screenshots_before(conn, now - SCREENSHOT_RETENTION)?;
            for path in &screenshots {
                // Already gone is fine; the row no longer points at it either way.
                let _ = std::fs::remove_file(path);
            }
            tracing::info!(
                jobs,
                sessions,
                tokens,
                oauth_states,
                screenshots = screenshots.len(),
                "pruned finished jobs, expired sessions, spent sign-in links and OAuth round trips"
            );
            Ok(())
        })
        .await
    }
}
