//! Emails: the `Email` type (its account and category come from what the request loaded once, so a
//! page of 200 emails costs no query per email), Relay-style connections with opaque cursors, and
//! the resolvers behind `categoryEmails`, `needsReview` and `email`.

use chrono::{DateTime, Utc};
use juniper::{GraphQLEnum, GraphQLObject, ID, graphql_object};

use super::categories::CategoryNode;
use super::context::Context;
use super::mailboxes::AccountNode;
use super::scalars::{id, int, utc};
use crate::db::emails::{Bodies, Email, ListFilter};
use crate::error::AppError;
use crate::services::emails::{self, MAX_PAGE_SIZE, Positioned as _};
use crate::sorting::pipeline::Source;

pub struct EmailNode(pub Email);

/// Who decided an email's category.
#[derive(GraphQLEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum SortSource {
    /// The sender (or list) was sorted alike often enough before.
    SenderMemory,
    /// The built-in local sorter.
    LocalSorter,
    Ai,
    /// The person chose or confirmed it.
    You,
}

impl SortSource {
    fn of(source: Option<&str>) -> Option<SortSource> {
        match source? {
            s if s == Source::SenderMemory.as_str() => Some(SortSource::SenderMemory),
            s if s == Source::Local.as_str() => Some(SortSource::LocalSorter),
            s if s == Source::Ai.as_str() => Some(SortSource::Ai),
            s if s == Source::User.as_str() => Some(SortSource::You),
            _ => None,
        }
    }
}

/// One imported email.
#[graphql_object(name = "Email", context = Context)]
impl EmailNode {
    fn id(&self) -> ID {
        id(&self.0.id)
    }

    /// The sender's name, else their address.
    fn from(&self) -> String {
        emails::sender(self.0.from_name.as_deref(), self.0.from_address.as_deref())
    }

    #[graphql(name = "fromAddress")]
    fn sender_address(&self) -> Option<String> {
        self.0.from_address.clone()
    }

    fn subject(&self) -> String {
        emails::subject(&self.0.subject)
    }

    /// The AI's (or the local sorter's) one- or two-sentence summary.
    fn summary(&self) -> Option<String> {
        self.0.summary.clone()
    }

    /// The message's own date, else when it arrived; lists are ordered by it, newest first.
    fn date(&self) -> DateTime<Utc> {
        utc(self.0.listed_at)
    }

    /// The connected account the email came from.
    async fn account(&self, ctx: &Context) -> Result<AccountNode, AppError> {
        let mailboxes = ctx.mailboxes().await?;
        let mailbox = mailboxes.iter().find(|m| m.id == self.0.mailbox_id).ok_or(AppError::NotFound)?;
        Ok(AccountNode(mailbox.clone()))
    }

    /// Null while the email waits for review.
    async fn category(&self, ctx: &Context) -> Result<Option<CategoryNode>, AppError> {
        let Some(category_id) = &self.0.category_id else { return Ok(None) };
        let categories = ctx.categories().await?;
        Ok(categories.iter().find(|c| &c.id == category_id).cloned().map(CategoryNode))
    }

    /// Who decided the category; for an email waiting for review, the sorter that was unsure; null
    /// before any sorter looked at it.
    fn sort_source(&self) -> Option<SortSource> {
        SortSource::of(self.0.sort_source.as_deref())
    }

    /// How sure the sorter was, from 0 to 1.
    fn confidence(&self) -> Option<f64> {
        self.0.confidence
    }

    /// Arrived after the person unsubscribed from its sender or list.
    fn is_after_unsubscribe(&self) -> bool {
        self.0.is_after_unsubscribe
    }

    /// Out of the inbox, filed under its category in the mailbox.
    fn archived(&self) -> bool {
        self.0.archived_at.is_some()
    }

    /// In the mailbox's trash; `undoDelete` brings it back for 30 days.
    fn deleted(&self) -> bool {
        self.0.trashed_at.is_some()
    }

    /// The `List-Id` header of bulk mail.
    fn list_id(&self) -> Option<String> {
        self.0.list_id.clone()
    }

    /// The `List-Unsubscribe` addresses, preferred first.
    fn unsubscribe_urls(&self) -> Vec<String> {
        serde_json::from_str(&self.0.list_unsubscribe_urls).unwrap_or_default()
    }

    fn text_body(&self) -> Option<String> {
        self.0.text_body.clone()
    }

    /// The HTML after the allow-list sanitizer: no scripts, handlers or forms. Show it in a
    /// sandboxed frame with a strict CSP anyway; remote images still point outside.
    fn sanitized_html(&self) -> Option<String> {
        self.0.sanitized_html.clone()
    }
}

#[derive(GraphQLObject)]
#[graphql(context = Context)]
pub struct EmailEdge {
    /// Pass as `after` to continue after this email.
    pub cursor: String,
    pub node: EmailNode,
}

#[derive(GraphQLObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// The cursor of the last edge; null on an empty page.
    pub end_cursor: Option<String>,
}

/// A page of emails, newest first.
#[derive(GraphQLObject)]
#[graphql(context = Context)]
pub struct EmailConnection {
    pub edges: Vec<EmailEdge>,
    pub page_info: PageInfo,
    /// How many emails match in all, across every page.
    pub total_count: i32,
}

impl EmailConnection {
    fn new(emails: Vec<Email>, next_cursor: Option<String>, total: i64) -> Self {
        let edges: Vec<EmailEdge> = emails
            .into_iter()
            .map(|email| EmailEdge { cursor: emails::encode_cursor(&email.position()), node: EmailNode(email) })
            .collect();
        let end_cursor = edges.last().map(|e| e.cursor.clone());
        EmailConnection {
            page_info: PageInfo { has_next_page: next_cursor.is_some(), end_cursor },
            edges,
            total_count: int(total),
        }
    }
}

/// The page size a client asked for, within the limits, spent from the request's budget.
fn page_size(ctx: &Context, first: i32) -> Result<i64, AppError> {
    let first = i64::from(first);
    if !(1..=MAX_PAGE_SIZE).contains(&first) {
        return Err(AppError::invalid("first", format!("ask for between 1 and {MAX_PAGE_SIZE} emails per page")));
    }
    ctx.spend_emails(first)?;
    Ok(first)
}

pub async fn in_category(
    ctx: &Context,
    category_id: ID,
    first: i32,
    after: Option<String>,
    account_id: Option<ID>,
    search: Option<String>,
    bodies: Bodies,
) -> Result<EmailConnection, AppError> {
    let size = page_size(ctx, first)?;
    let filter =
        ListFilter { mailbox_id: account_id.map(|id| id.to_string()), text: search.filter(|s| !s.trim().is_empty()) };
    let page = ctx
        .db(move |conn, user_id| {
            let listing = emails::Listing {
                user_id,
                category_id: &category_id,
                filter: &filter,
                cursor: after.as_deref(),
                page_size: size,
            };
            emails::list_category(conn, listing, bodies)
        })
        .await
        .map_err(|e| super::errors::rename_field(e, "cursor", "after"))?;
    Ok(EmailConnection::new(page.emails, page.next_cursor, page.total))
}

/// Whether the query asks for an email's `textBody` or `sanitizedHtml` anywhere below `selection`
/// (fragments included): only then are the bodies read, which can be megabytes for a page.
pub fn bodies_asked<S: juniper::ScalarValue>(selection: &juniper::LookAheadSelection<'_, S>) -> Bodies {
    fn asks<S: juniper::ScalarValue>(selection: &juniper::LookAheadSelection<'_, S>) -> bool {
        selection
            .children()
            .iter()
            .any(|child| matches!(child.field_original_name(), "textBody" | "sanitizedHtml") || asks(child))
    }
    if asks(selection) { Bodies::Loaded } else { Bodies::Left }
}

pub async fn needing_review(
    ctx: &Context,
    first: i32,
    after: Option<String>,
    bodies: Bodies,
) -> Result<EmailConnection, AppError> {
    let size = page_size(ctx, first)?;
    let page = ctx
        .db(move |conn, user_id| emails::list_needing_review(conn, user_id, after.as_deref(), size, bodies))
        .await
        .map_err(|e| super::errors::rename_field(e, "cursor", "after"))?;
    Ok(EmailConnection::new(page.emails, page.next_cursor, page.total))
}

pub async fn find(ctx: &Context, id: ID) -> Result<Option<EmailNode>, AppError> {
    let (email, _) = ctx.db(move |conn, user_id| emails::find_owned(conn, user_id, &id)).await?;
    Ok(Some(EmailNode(email)))
}
