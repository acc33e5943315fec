//! Categories: the `Category` type with its email counts (loaded once per request for all
//! categories), and the resolvers behind `categories`, `category`, `previewCategory`,
//! `createCategory`, `updateCategory` and `deleteCategory`.

use chrono::{DateTime, Utc};
use juniper::{GraphQLObject, ID, graphql_object};

use super::context::Context;
use super::errors::rename_field;
use super::scalars::{id, int, int_from_usize, utc};
use crate::db::categories::Category;
use crate::error::AppError;
use crate::services::categories::{self, CategoryInput, EmailsGoTo};
use crate::services::sorting;
use crate::sorting::llm::LlmSettings;

pub struct CategoryNode(pub Category);

/// A sorting bucket: a name and a plain-words description the sorters read.
#[graphql_object(name = "Category", context = Context)]
impl CategoryNode {
    fn id(&self) -> ID {
        id(&self.0.id)
    }

    fn name(&self) -> String {
        self.0.name.clone()
    }

    /// Which emails belong here, in plain words; the sorters read it.
    fn description(&self) -> String {
        self.0.description.clone()
    }

    /// Emails in the category (deleted ones not counted).
    async fn email_count(&self, ctx: &Context) -> Result<i32, AppError> {
        Ok(int(ctx.category_counts().await?.get(&self.0.id).map_or(0, |c| c.0)))
    }

    /// Emails in the category dated in the last 24 hours (the message's own date).
    async fn new_email_count(&self, ctx: &Context) -> Result<i32, AppError> {
        Ok(int(ctx.category_counts().await?.get(&self.0.id).map_or(0, |c| c.1)))
    }

    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }

    fn updated_at(&self) -> DateTime<Utc> {
        utc(self.0.updated_at)
    }
}

/// What a deleted category's emails became.
#[derive(GraphQLObject)]
pub struct DeletedCategory {
    /// The deleted category.
    pub id: ID,
    /// How many emails moved to the chosen category or to Needs review.
    pub moved_emails: i32,
}

/// What a new or edited category would do to the last 200 emails, by the local sorter (no AI call,
/// nothing saved).
#[derive(GraphQLObject)]
pub struct CategoryPreview {
    /// How many recent emails were looked at.
    pub examined: i32,
    /// Dollars an AI re-sort of those emails would cost; null without an AI.
    pub estimated_ai_cost: Option<f64>,
    /// The emails that would land in the category.
    pub landing: Vec<PreviewEmail>,
}

#[derive(GraphQLObject)]
pub struct PreviewEmail {
    pub subject: String,
    pub from: String,
    /// The category the email would leave; null when it is unsorted or waits for review.
    pub leaving: Option<String>,
}

pub async fn list(ctx: &Context) -> Result<Vec<CategoryNode>, AppError> {
    Ok(ctx.categories().await?.iter().cloned().map(CategoryNode).collect())
}

pub async fn find(ctx: &Context, id: ID) -> Result<Option<CategoryNode>, AppError> {
    let category = ctx.db(move |conn, user_id| categories::find_owned(conn, user_id, &id)).await?;
    Ok(Some(CategoryNode(category)))
}

pub async fn create(ctx: &Context, name: String, description: String) -> Result<CategoryNode, AppError> {
    let now = ctx.now;
    let input = CategoryInput { name, description };
    let category = ctx.db(move |conn, user_id| categories::create(conn, user_id, &input, now)).await?;
    ctx.forget_loaded().await;
    Ok(CategoryNode(category))
}

pub async fn update(ctx: &Context, id: ID, name: String, description: String) -> Result<CategoryNode, AppError> {
    let now = ctx.now;
    let input = CategoryInput { name, description };
    let category = ctx.db(move |conn, user_id| categories::update(conn, user_id, &id, &input, now)).await?;
    ctx.forget_loaded().await;
    Ok(CategoryNode(category))
}

pub async fn delete(ctx: &Context, id: ID, move_emails_to: Option<ID>) -> Result<DeletedCategory, AppError> {
    let now = ctx.now;
    let go_to = match move_emails_to {
        Some(target) => EmailsGoTo::Category(target.to_string()),
        None => EmailsGoTo::NeedsReview,
    };
    let deleted = id.clone();
    let moved = ctx
        .db(move |conn, user_id| categories::delete(conn, user_id, &deleted, &go_to, now))
        .await
        .map_err(|e| rename_field(e, "emails", "moveEmailsTo"))?;
    ctx.forget_loaded().await;
    Ok(DeletedCategory { id, moved_emails: int_from_usize(moved) })
}

pub async fn preview(
    ctx: &Context,
    name: String,
    description: String,
    category_id: Option<ID>,
) -> Result<CategoryPreview, AppError> {
    let (name, description) = (name.trim().to_owned(), description.trim().to_owned());
    if name.is_empty() || description.is_empty() {
        let field = if name.is_empty() { "name" } else { "description" };
        return Err(AppError::invalid(field, "give the category a name and a description to try"));
    }
    let llm = LlmSettings::from_config(&ctx.state.config.openai);
    let preview = ctx
        .db(move |conn, user_id| {
            let editing = category_id.as_ref().map(|id| id.to_string());
            sorting::preview(conn, user_id, &name, &description, editing.as_deref(), llm.as_ref())
        })
        .await?;
    Ok(CategoryPreview {
        examined: int_from_usize(preview.examined),
        estimated_ai_cost: preview.estimated_ai_cost,
        landing: preview
            .landing
            .into_iter()
            .map(|e| PreviewEmail { subject: e.subject, from: e.from, leaving: e.leaving })
            .collect(),
    })
}
