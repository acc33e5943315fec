//! `poll` (cron, every 2 minutes by default): asks every active mailbox to sync, one job each; a
//! mailbox whose sync is still waiting or running is not asked twice, and a rate-limited one syncs
//! when its wait is over. It also queues sorting and archiving that a race left waiting.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ArchiveMessages, EnqueueOptions, Job, JobContext, JobError, SortEmails, SyncMailbox, enqueue};
use crate::db;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Poll {}

impl Job for Poll {
    const KIND: &'static str = "poll";
    const QUEUE: &'static str = "maintenance";
    const MAX_ATTEMPTS: i64 = 3;
    const TIMEOUT: Option<Duration> = Some(Duration::from_secs(60));

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let now = ctx.clock.now();
        ctx.db(move |conn| {
            let mailboxes = db::mailboxes::list_active(conn)?;
            let mut asked = 0;
            for mailbox in mailboxes {
                let job = SyncMailbox { mailbox_id: mailbox.id.clone() };
                // A mailbox Gmail asked to slow down syncs once the wait is over, not before.
                let run_at = mailbox.rate_limited_until.filter(|until| *until > now);
                let options = EnqueueOptions {
                    unique_key: Some(SyncMailbox::unique_key(&mailbox.id)),
                    run_at,
                    ..Default::default()
                };
                asked += usize::from(enqueue(conn, &job, options, now)?.is_some());
            }
            // A safety net for sorting: mail imported while a sort was finishing, or before the first category.
            for mailbox_id in db::emails::mailboxes_with_unsorted(conn)? {
                SortEmails::enqueue_for(conn, &mailbox_id, now)?;
            }
            // And for archiving: mail sorted while its mailbox's archive run was already under way
            // (that run's unique key kept the sort from queueing another).
            for mailbox_id in db::emails::mailboxes_with_unarchived(conn)? {
                let options =
                    EnqueueOptions { unique_key: Some(ArchiveMessages::unique_key(&mailbox_id)), ..Default::default() };
                enqueue(conn, &ArchiveMessages { mailbox_id, email_ids: Vec::new() }, options, now)?;
            }
            tracing::debug!(asked, "poll asked mailboxes to sync");
            Ok(())
        })
        .await
    }
}
