//! Connected accounts (mailboxes): the `Account` type, what an account is doing (`pollingStatus`,
//! the dashboard's status and pipeline), and `accounts`, `connectGmailUrl`, `triggerPoll` and
//! `disconnectAccount`.

use chrono::{DateTime, Utc};
use juniper::{GraphQLEnum, GraphQLObject, ID, graphql_object};

use super::context::Context;
use super::scalars::{id, int, utc};
use crate::db::mailboxes::Mailbox;
use crate::error::AppError;
use crate::services::dashboard::{self, Activity, MailboxStatus};
use crate::services::mailboxes;
use crate::web::pages::google;

pub struct AccountNode(pub Mailbox);

#[derive(GraphQLEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum AccountStatus {
    Active,
    /// Google no longer accepts the grant: connect the account again.
    NeedsReconnect,
    /// Disconnected by the person; its emails were kept.
    Disconnected,
    Paused,
}

/// A connected mail account (Gmail, or a Maildir an operator added).
#[graphql_object(name = "Account", context = Context)]
impl AccountNode {
    fn id(&self) -> ID {
        id(&self.0.id)
    }

    /// The email address (for a Maildir, `maildir:<folder>`).
    fn address(&self) -> String {
        self.0.address.clone()
    }

    /// `gmail` or `maildir`.
    fn provider(&self) -> String {
        self.0.kind.clone()
    }

    fn status(&self) -> AccountStatus {
        match self.0.status.as_str() {
            "needs_reconnect" => AccountStatus::NeedsReconnect,
            "disconnected" => AccountStatus::Disconnected,
            "paused" => AccountStatus::Paused,
            _ => AccountStatus::Active,
        }
    }

    fn last_synced_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_synced_at.map(utc)
    }

    /// The last problem, in plain words.
    fn last_error(&self) -> Option<String> {
        self.0.last_error.clone()
    }

    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
}

/// What an account is doing, as the dashboard's banner shows it.
#[derive(GraphQLEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum AccountActivity {
    /// New mail is being found, imported or sorted.
    Syncing,
    Idle,
    NeedsReconnect,
    Disconnected,
    Paused,
    /// Google asked us to slow down; see `rateLimitedUntil`.
    RateLimited,
}

/// An account's activity and the mail still on its way through import, sorting and archiving.
#[derive(GraphQLObject)]
#[graphql(context = Context)]
pub struct PollingStatus {
    pub account: AccountNode,
    pub activity: AccountActivity,
    /// Syncing, or mail still on its way.
    pub is_busy: bool,
    /// Found, not yet fetched.
    pub importing: i32,
    /// Fetched, waiting for a running sort.
    pub sorting: i32,
    /// Sorted, waiting to leave the inbox.
    pub archiving: i32,
    /// Emails found today (UTC).
    pub imported_today: i32,
    pub rate_limited_until: Option<DateTime<Utc>>,
    pub last_synced_at: Option<DateTime<Utc>>,
}

impl From<MailboxStatus> for PollingStatus {
    fn from(status: MailboxStatus) -> Self {
        let (activity, rate_limited_until) = match status.activity {
            Activity::Syncing => (AccountActivity::Syncing, None),
            Activity::Idle => (AccountActivity::Idle, None),
            Activity::NeedsReconnect => (AccountActivity::NeedsReconnect, None),
            Activity::Disconnected => (AccountActivity::Disconnected, None),
            Activity::Paused => (AccountActivity::Paused, None),
            Activity::RateLimitedUntil(until) => (AccountActivity::RateLimited, Some(utc(until))),
        };
        PollingStatus {
            is_busy: activity == AccountActivity::Syncing || status.pipeline.is_busy(),
            activity,
            importing: int(status.pipeline.importing),
            sorting: int(status.pipeline.sorting),
            archiving: int(status.pipeline.archiving),
            imported_today: int(status.imported_today),
            rate_limited_until,
            last_synced_at: status.mailbox.last_synced_at.map(utc),
            account: AccountNode(status.mailbox),
        }
    }
}

/// A disconnected account.
#[derive(GraphQLObject)]
pub struct DisconnectedAccount {
    pub id: ID,
    /// The account and its emails were removed (`keepEmails: false`); otherwise it stays, disconnected.
    pub emails_removed: bool,
}

pub async fn list(ctx: &Context) -> Result<Vec<AccountNode>, AppError> {
    Ok(ctx.mailboxes().await?.iter().cloned().map(AccountNode).collect())
}

pub async fn status(ctx: &Context, account_id: ID) -> Result<Option<PollingStatus>, AppError> {
    let now = ctx.now;
    let status = ctx
        .db(move |conn, user_id| {
            let mailbox = mailboxes::find_owned(conn, user_id, &account_id)?;
            dashboard::mailbox_status(conn, mailbox, now)
        })
        .await?;
    Ok(Some(status.into()))
}

/// "Sync now": queues a sync unless one is waiting or running; answers the status after.
pub async fn trigger_poll(ctx: &Context, account_id: ID) -> Result<PollingStatus, AppError> {
    let now = ctx.now;
    let status = ctx
        .db(move |conn, user_id| {
            mailboxes::request_sync(conn, user_id, &account_id, now)?;
            let mailbox = mailboxes::find_owned(conn, user_id, &account_id)?;
            dashboard::mailbox_status(conn, mailbox, now)
        })
        .await?;
    Ok(status.into())
}

pub async fn disconnect(ctx: &Context, account_id: ID, keep_emails: bool) -> Result<DisconnectedAccount, AppError> {
    crate::services::accounts::disconnect_mailbox(&ctx.state, &ctx.user_id(), &account_id.to_string(), !keep_emails)
        .await?;
    ctx.forget_loaded().await;
    Ok(DisconnectedAccount { id: account_id, emails_removed: !keep_emails })
}

/// The page that starts connecting a Gmail account in the person's browser (it needs their signed-in
/// session there); null when this server has no Google OAuth client (local sign-in only).
pub fn connect_gmail_url(ctx: &Context) -> Option<String> {
    google::connect_page_url(&ctx.state)
}
