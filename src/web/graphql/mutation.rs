//! The mutation root: one line per field, each handing over to the file of its noun. Bulk actions
//! take a selection: `ids`, or `allInCategory` (every matching email, not only a page).

use juniper::{ID, graphql_object};

use super::api_tokens::{self, CreatedApiToken};
use super::bulk::{self, AllInCategory, BulkResult};
use super::categories::{self, CategoryNode, DeletedCategory};
use super::context::Context;
use super::mailboxes::{self, DisconnectedAccount, PollingStatus};
use super::unsubscribe::{self, UnsubscribeResult};
use crate::error::AppError;

pub struct Mutation;

#[graphql_object(context = Context)]
impl Mutation {
    /// Mail that waited because no category fitted is sorted again.
    async fn create_category(ctx: &Context, name: String, description: String) -> Result<CategoryNode, AppError> {
        categories::create(ctx, name, description).await
    }

    async fn update_category(
        ctx: &Context,
        id: ID,
        name: String,
        description: String,
    ) -> Result<CategoryNode, AppError> {
        categories::update(ctx, id, name, description).await
    }

    /// Its emails move to `moveEmailsTo`, or to Needs review when it is null; none are orphaned.
    async fn delete_category(ctx: &Context, id: ID, move_emails_to: Option<ID>) -> Result<DeletedCategory, AppError> {
        categories::delete(ctx, id, move_emails_to).await
    }

    /// Revokes EmailGator's access at Google and forgets the tokens; the emails stay unless
    /// `keepEmails` is false.
    async fn disconnect_account(
        ctx: &Context,
        id: ID,
        #[graphql(default = true)] keep_emails: bool,
    ) -> Result<DisconnectedAccount, AppError> {
        mailboxes::disconnect(ctx, id, keep_emails).await
    }

    /// Moves the selected emails to the mailbox's trash; `undoDelete` brings them back for 30 days.
    async fn delete_emails(
        ctx: &Context,
        ids: Option<Vec<ID>>,
        all_in_category: Option<AllInCategory>,
    ) -> Result<BulkResult, AppError> {
        bulk::delete(ctx, ids, all_in_category).await
    }

    async fn undo_delete(ctx: &Context, ids: Vec<ID>) -> Result<BulkResult, AppError> {
        bulk::undo_delete(ctx, ids).await
    }

    /// Puts the selected emails in the category: the person's decision, which the sorter learns.
    async fn move_emails(
        ctx: &Context,
        ids: Option<Vec<ID>>,
        all_in_category: Option<AllInCategory>,
        category_id: ID,
    ) -> Result<BulkResult, AppError> {
        bulk::move_to(ctx, ids, all_in_category, category_id).await
    }

    /// Confirms the categories the selected emails have.
    async fn mark_reviewed(
        ctx: &Context,
        ids: Option<Vec<ID>>,
        all_in_category: Option<AllInCategory>,
    ) -> Result<BulkResult, AppError> {
        bulk::mark_reviewed(ctx, ids, all_in_category).await
    }

    /// Unsubscribes from the senders of the selected emails: one attempt per subscription (List-Id,
    /// else sender). Unverified (no DKIM pass) or spam mail is skipped unless `insist`.
    async fn unsubscribe_emails(
        ctx: &Context,
        ids: Option<Vec<ID>>,
        all_in_category: Option<AllInCategory>,
        #[graphql(default = false)] insist: bool,
    ) -> Result<UnsubscribeResult, AppError> {
        unsubscribe::request(ctx, ids, all_in_category, insist).await
    }

    /// "Sync now": asks the account for new mail unless a sync is already waiting or running.
    async fn trigger_poll(ctx: &Context, account_id: ID) -> Result<PollingStatus, AppError> {
        mailboxes::trigger_poll(ctx, account_id).await
    }

    /// Answers the new token once; only its hash is kept.
    async fn create_api_token(ctx: &Context, name: String) -> Result<CreatedApiToken, AppError> {
        api_tokens::create(ctx, name).await
    }

    /// Answers the revoked token's id; the token stops working at once.
    async fn revoke_api_token(ctx: &Context, id: ID) -> Result<ID, AppError> {
        api_tokens::revoke(ctx, id).await
    }
}
