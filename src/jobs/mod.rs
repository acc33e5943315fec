//! Durable background jobs: the `Job` trait, the one registry of job kinds, enqueueing inside the
//! caller's transaction, the runner (claim, lease, retry) and cron.

pub mod archive_messages;
pub mod backoff;
pub mod cron;
pub mod import_messages;
pub mod poll;
pub mod prune;
pub mod reencrypt_secrets;
pub mod relabel_messages;
pub mod resort_emails;
pub mod runner;
pub mod sort_emails;
pub mod sync_mailbox;
pub mod trash_messages;
pub mod unsubscribe;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clients::mail::MailProviders;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::jobs::JobRow;
use crate::db::{DbConn, DbPool, QueryResult};
use crate::domain::JobState;
use crate::encryption::Keyring;
use crate::sorting::llm::LlmSorter;

pub use archive_messages::ArchiveMessages;
pub use import_messages::ImportMessages;
pub use poll::Poll;
pub use prune::PruneJobs;
pub use reencrypt_secrets::ReencryptSecrets;
pub use relabel_messages::RelabelMessages;
pub use resort_emails::ResortEmails;
pub use runner::Runner;
pub use sort_emails::SortEmails;
pub use sync_mailbox::{SyncAgain, SyncMailbox};
pub use trash_messages::TrashMessages;
pub use unsubscribe::UnsubscribeSubscription;

/// What a job run needs from the application.
pub struct JobContext {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub mail: MailProviders,
    pub keyring: Keyring,
    /// `None` without an AI key: the local sorter only.
    pub llm: Option<Arc<LlmSorter>>,
    /// The unsubscribe agent: in-process, or the sidecar's client.
    pub unsubscriber: Arc<dyn crate::automation::Unsubscriber>,
}

/// How a run failed; the runner decides what happens next from the variant alone.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt after a backoff (network errors, 5xx, timeouts).
    #[error("{0}")]
    Retry(String),
    /// Run again after this long without spending an attempt (rate limits).
    #[error("snoozed for {0:?}")]
    Snooze(Duration),
    /// Retrying cannot help (bad arguments, a revoked grant): give up now.
    #[error("{0}")]
    Permanent(String),
}

impl JobContext {
    /// Runs synchronous database work off the async threads with a pooled connection. Errors not
    /// decided by `work` itself (no connection, a failed task) are worth a retry.
    pub async fn db<T, F>(&self, work: F) -> Result<T, JobError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, JobError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| JobError::Retry(e.to_string()))?;
            work(&mut conn)
        })
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?
    }
}

impl From<diesel::result::Error> for JobError {
    fn from(error: diesel::result::Error) -> Self {
        JobError::Retry(format!("database error: {error}"))
    }
}

/// A kind of background work. Its name is stored with every job: never rename one.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: &'static str;
    const QUEUE: &'static str = "default";
    const MAX_ATTEMPTS: i64 = 20;
    /// How long one run may take before it counts as failed; `None` takes the configured default.
    const TIMEOUT: Option<Duration> = None;

    fn run(&self, ctx: &JobContext) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// Options for one enqueue.
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    pub run_at: Option<NaiveDateTime>,
    pub priority: i64,
    /// While a job with this key waits or runs, another with the same key is not added.
    pub unique_key: Option<String>,
}

/// Adds `job` to its queue, inside whatever transaction `conn` is in. Returns the new job's id, or
/// `None` when a job with the same unique key is still to run.
pub fn enqueue<J: Job>(
    conn: &mut DbConn,
    job: &J,
    options: EnqueueOptions,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    let args = serde_json::to_string(job).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    enqueue_raw(conn, J::KIND, J::QUEUE, J::MAX_ATTEMPTS, args, options, now)
}

/// Enqueues by kind name and JSON arguments (cron and tests use this).
pub fn enqueue_raw(
    conn: &mut DbConn,
    kind: &str,
    queue: &str,
    max_attempts: i64,
    args: String,
    options: EnqueueOptions,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    let run_at = options.run_at.unwrap_or(now);
    let state = if run_at <= now { JobState::Available } else { JobState::Scheduled };
    let row = JobRow {
        id: crate::db::new_id(),
        kind: kind.to_owned(),
        args,
        queue: queue.to_owned(),
        priority: options.priority,
        state: state.as_str().to_owned(),
        attempt: 0,
        max_attempts,
        run_at,
        lease_owner: None,
        lease_expires_at: None,
        last_error: None,
        unique_key: options.unique_key,
        created_at: now,
        attempted_at: None,
        finished_at: None,
    };
    let inserted = crate::db::jobs::insert(conn, &row)?;
    Ok(inserted.then_some(row.id))
}

type Handler = Arc<dyn Fn(String, Arc<JobContext>) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync>;

/// One registered job kind.
#[derive(Clone)]
pub struct Registered {
    pub queue: &'static str,
    pub max_attempts: i64,
    pub timeout: Option<Duration>,
    handler: Handler,
}

/// Every job kind this process can run, by its stored name.
#[derive(Clone, Default)]
pub struct JobRegistry {
    kinds: HashMap<&'static str, Registered>,
}

impl JobRegistry {
    /// The one list of job kinds the product runs.
    pub fn standard() -> Self {
        Self::default()
            .with::<PruneJobs>()
            .with::<Poll>()
            .with::<SyncMailbox>()
            .with::<SyncAgain>()
            .with::<ImportMessages>()
            .with::<ReencryptSecrets>()
            .with::<SortEmails>()
            .with::<ArchiveMessages>()
            .with::<TrashMessages>()
            .with::<RelabelMessages>()
            .with::<ResortEmails>()
            .with::<UnsubscribeSubscription>()
    }

    /// Adds a job kind (tests add their own).
    pub fn with<J: Job>(mut self) -> Self {
        let handler: Handler = Arc::new(|args: String, ctx: Arc<JobContext>| {
            Box::pin(async move {
                let job: J = serde_json::from_str(&args)
                    .map_err(|e| JobError::Permanent(format!("arguments do not fit {}: {e}", J::KIND)))?;
                job.run(&ctx).await
            })
        });
        self.kinds.insert(
            J::KIND,
            Registered { queue: J::QUEUE, max_attempts: J::MAX_ATTEMPTS, timeout: J::TIMEOUT, handler },
        );
        self
    }

    pub fn get(&self, kind: &str) -> Option<&Registered> {
        self.kinds.get(kind)
    }

    pub fn kinds(&self) -> impl Iterator<Item = (&'static str, &Registered)> {
        self.kinds.iter().map(|(k, v)| (*k, v))
    }
}

impl Registered {
    pub fn start(&self, args: String, ctx: Arc<JobContext>) -> BoxFuture<'static, Result<(), JobError>> {
        (self.handler)(args, ctx)
    }
}
