//! The `MailProvider` seam: list what is new since a cursor, fetch raw messages, archive, trash,
//! untrash, send. Implementations: Gmail (google-gmail1) and Maildir.

pub mod gmail;
pub mod limiter;
pub mod maildir;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use futures_util::future::BoxFuture;

/// What a provider reports as new.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMessages {
    /// Provider message ids, oldest first.
    pub ids: Vec<String>,
    /// Where the next sync starts; `None` when the provider keeps no cursor (Maildir).
    pub cursor: Option<String>,
}

/// One message's raw bytes and what the provider knows about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchedMessage {
    pub raw: Vec<u8>,
    pub thread_id: Option<String>,
    pub labels: Vec<String>,
    pub received_at: Option<NaiveDateTime>,
}

/// Why a provider call failed, and so what the caller should do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("the mail service asked EmailGator to slow down; it carries on by itself in {} seconds", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    #[error(
        "Google no longer lets EmailGator read this mailbox (access was removed or expired); reconnect it to continue"
    )]
    TokenRevoked,
    #[error("the message {0} is no longer in the mailbox")]
    MessageGone(String),
    #[error("the mail service had a temporary problem (HTTP {status}); EmailGator tries again by itself")]
    Upstream { status: u16 },
    #[error("the mail service could not be reached ({0}); EmailGator tries again by itself")]
    Unreachable(String),
    /// The provider refused the request itself; trying again will not help.
    #[error("the mail service refused a request (HTTP {status}: {reason})")]
    Rejected { status: u16, reason: String },
    #[error("the mailbox folder cannot be read: {0}")]
    Storage(String),
    #[error("{0}")]
    Unsupported(&'static str),
}

impl MailError {
    /// Whether trying again later can help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            MailError::RateLimited { .. }
                | MailError::Upstream { .. }
                | MailError::Unreachable(_)
                | MailError::Storage(_)
        )
    }
}

/// A connected mailbox, whatever its kind.
pub trait MailProvider: Send + Sync {
    /// Message ids in the inbox that are new since `cursor`.
    fn list_new<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<NewMessages, MailError>>;
    /// One message, raw.
    fn fetch<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<FetchedMessage, MailError>>;
    /// Files sorted messages: adds `label` where the provider has labels, and takes them out of the
    /// inbox when `is_leaving_inbox` (the person may keep sorted mail in their inbox).
    fn archive<'a>(
        &'a self,
        ids: &'a [String],
        label: Option<&'a str>,
        is_leaving_inbox: bool,
    ) -> BoxFuture<'a, Result<(), MailError>>;
    /// Puts `add` on the messages and takes the `remove` labels off, where the provider has labels.
    fn relabel<'a>(
        &'a self,
        _ids: &'a [String],
        _add: &'a str,
        _remove: &'a [String],
    ) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async { Ok(()) })
    }
    fn trash<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Result<(), MailError>>;
    fn untrash<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Result<(), MailError>>;
    /// Sends a message from this mailbox (mailto unsubscribes); returns the provider's id for it.
    fn send<'a>(&'a self, raw: &'a [u8]) -> BoxFuture<'a, Result<String, MailError>>;
}

/// The mailbox a provider is opened for.
#[derive(Debug, Clone, Copy)]
pub struct MailboxRef<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub maildir_path: Option<&'a str>,
    /// How many days of mail a first (or restarted) sync brings in.
    pub backfill_days: i64,
}

/// Opens the provider for a mailbox of a given kind.
#[derive(Clone, Default)]
pub struct MailProviders {
    /// `None` when no Google OAuth client is configured.
    gmail: Option<Arc<gmail::GmailConnector>>,
}

impl MailProviders {
    pub fn new(gmail: Option<Arc<gmail::GmailConnector>>) -> MailProviders {
        MailProviders { gmail }
    }

    pub fn gmail(&self) -> Option<&Arc<gmail::GmailConnector>> {
        self.gmail.as_ref()
    }

    pub fn open(&self, mailbox: MailboxRef<'_>) -> Result<Arc<dyn MailProvider>, MailError> {
        match (mailbox.kind, mailbox.maildir_path, &self.gmail) {
            ("maildir", Some(path), _) => Ok(Arc::new(maildir::Maildir::new(path))),
            ("maildir", None, _) => Err(MailError::Storage("the Maildir mailbox has no folder".into())),
            ("gmail", _, Some(connector)) => Ok(Arc::new(connector.mailbox(mailbox.id, mailbox.backfill_days))),
            ("gmail", _, None) => {
                Err(MailError::Unsupported("Gmail is not configured on this server (GOOGLE_CLIENT_ID)"))
            }
            _ => Err(MailError::Unsupported("unknown mailbox kind")),
        }
    }
}
