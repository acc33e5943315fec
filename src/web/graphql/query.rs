//! The query root: one line per field, each handing over to the file of its noun. Names follow the
//! previous system's clients (`me`, `categories`, `category`, `accounts`, `connectGmailUrl`,
//! `categoryEmails`, `pollingStatus`, `email`). Lookups by id answer null with NOT_FOUND for ids that
//! do not exist or are not the caller's; lists answer only the caller's.

use juniper::{Executor, ID, graphql_object};

use super::ai_usage::{self, AiUsageDay};
use super::api_tokens::{self, ApiTokenNode};
use super::categories::{self, CategoryNode, CategoryPreview};
use super::context::Context;
use super::emails::{self, EmailConnection, EmailNode};
use super::mailboxes::{self, AccountNode, PollingStatus};
use super::unsubscribe::{self, Subscription, UnsubscribeAttempt};
use super::users::Me;
use crate::error::AppError;

pub struct Query;

// The default scalars: the `categoryEmails` resolver looks ahead through a typed executor.
#[graphql_object(context = Context, scalar = juniper::DefaultScalarValue)]
impl Query {
    /// The person the request acts for.
    fn me() -> Me {
        Me
    }

    /// Categories in dashboard order.
    async fn categories(ctx: &Context) -> Result<Vec<CategoryNode>, AppError> {
        categories::list(ctx).await
    }

    async fn category(ctx: &Context, id: ID) -> Result<Option<CategoryNode>, AppError> {
        categories::find(ctx, id).await
    }

    /// Connected mail accounts.
    async fn accounts(ctx: &Context) -> Result<Vec<AccountNode>, AppError> {
        mailboxes::list(ctx).await
    }

    /// Open this page in the person's browser (where they are signed in) to connect a Gmail account;
    /// null when this server offers local sign-in only.
    fn connect_gmail_url(ctx: &Context) -> Option<String> {
        mailboxes::connect_gmail_url(ctx)
    }

    /// A category's emails, newest first: `first` (1–200) after the cursor `after`,
    /// optionally one account's only and matching `search` (subject, sender or summary).
    async fn category_emails(
        ctx: &Context,
        executor: &Executor<'_, '_, Context>,
        category_id: ID,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
        account_id: Option<ID>,
        search: Option<String>,
    ) -> Result<EmailConnection, AppError> {
        let bodies = emails::bodies_asked(&executor.look_ahead());
        emails::in_category(ctx, category_id, first, after, account_id, search, bodies).await
    }

    /// What an account is doing: syncing, idle, rate-limited…, and the mail still on its way.
    async fn polling_status(ctx: &Context, account_id: ID) -> Result<Option<PollingStatus>, AppError> {
        mailboxes::status(ctx, account_id).await
    }

    /// One email, also a deleted one (for its undo).
    async fn email(ctx: &Context, id: ID) -> Result<Option<EmailNode>, AppError> {
        emails::find(ctx, id).await
    }

    /// Every sender and list the user got bulk mail from in the last 30 days, busiest first, with
    /// what unsubscribing did.
    async fn subscriptions(ctx: &Context) -> Result<Vec<Subscription>, AppError> {
        unsubscribe::subscriptions(ctx).await
    }

    /// The unsubscribe attempts made from one of the user's emails, newest first.
    async fn unsubscribe_attempts(ctx: &Context, email_id: ID) -> Result<Vec<UnsubscribeAttempt>, AppError> {
        unsubscribe::attempts(ctx, email_id).await
    }

    /// Emails no sorter was sure about, newest first (`first`: 1–200); they wait in the inbox for a
    /// category.
    async fn needs_review(
        ctx: &Context,
        executor: &Executor<'_, '_, Context>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> Result<EmailConnection, AppError> {
        let bodies = emails::bodies_asked(&executor.look_ahead());
        emails::needing_review(ctx, first, after, bodies).await
    }

    /// The AI's use per UTC day over the last `days` (1–365), newest first; days without use are left out.
    async fn ai_usage(ctx: &Context, #[graphql(default = 14)] days: i32) -> Result<Vec<AiUsageDay>, AppError> {
        ai_usage::recent(ctx, days).await
    }

    /// What a new category (or, with `categoryId`, an edited one) would take from the last 200 emails.
    async fn preview_category(
        ctx: &Context,
        name: String,
        description: String,
        category_id: Option<ID>,
    ) -> Result<CategoryPreview, AppError> {
        categories::preview(ctx, name, description, category_id).await
    }

    /// The caller's personal API tokens, newest first.
    async fn api_tokens(ctx: &Context) -> Result<Vec<ApiTokenNode>, AppError> {
        api_tokens::list(ctx).await
    }
}
