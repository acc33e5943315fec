//! `prune`: deletes finished jobs past their retention, expired sessions and spent sign-in links.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Job, JobContext, JobError};
use crate::db;

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
            tracing::info!(
                jobs,
                sessions,
                tokens,
                oauth_states,
                "pruned finished jobs, expired sessions, spent sign-in links and OAuth round trips"
            );
            Ok(())
        })
        .await
    }
}
