//! Bulk actions on a selection — the ticked `ids`, or `allInCategory` (every email of a category
//! matching an account and a search, not only a page) — behind `deleteEmails`, `undoDelete`,
//! `moveEmails` and `markReviewed`. Named ids must all be the user's: one that is not answers
//! NOT_FOUND and nothing changes. `unsubscribeEmails` is meant to take the same selection through
//! `selection` and `check_owned`.

use juniper::{GraphQLInputObject, GraphQLObject, ID};

use super::context::Context;
use super::scalars::{id, int_from_usize, strings};
use crate::db::emails::ListFilter;
use crate::error::AppError;
use crate::services::bulk::{self, Outcome};
use crate::services::emails::{Selection, ensure_all_owned};
use crate::services::mailboxes;

/// Every email of a category that matches the filters, whatever page the client has seen.
#[derive(GraphQLInputObject)]
pub struct AllInCategory {
    pub category_id: ID,
    /// Only this account's emails.
    pub account_id: Option<ID>,
    /// Only emails whose subject, sender or summary contains this text (case-insensitive).
    pub search: Option<String>,
}

/// What a bulk action did.
#[derive(GraphQLObject)]
pub struct BulkResult {
    /// The emails it changed.
    pub changed: i32,
    /// The emails it applied to; after `deleteEmails`, pass them to `undoDelete`.
    pub email_ids: Vec<ID>,
}

impl From<Outcome> for BulkResult {
    fn from(outcome: Outcome) -> Self {
        BulkResult { changed: int_from_usize(outcome.changed), email_ids: outcome.ids.iter().map(|i| id(i)).collect() }
    }
}

/// The selection a client sent: exactly one of `ids` and `allInCategory`.
pub(super) fn selection(ids: Option<Vec<ID>>, all: Option<AllInCategory>) -> Result<Selection, AppError> {
    match (ids, all) {
        (Some(ids), None) if !ids.is_empty() => Ok(Selection::Ids(strings(&ids))),
        (Some(_), None) => Err(AppError::invalid("ids", "select at least one email")),
        (None, Some(all)) => Ok(Selection::AllInCategory {
            category_id: all.category_id.to_string(),
            filter: ListFilter {
                mailbox_id: all.account_id.map(|id| id.to_string()),
                text: all.search.filter(|s| !s.trim().is_empty()),
            },
        }),
        _ => Err(AppError::invalid("ids", "give either ids or allInCategory")),
    }
}

/// `NotFound` for any named email or account that is not the user's.
pub(super) fn check_owned(conn: &mut crate::db::DbConn, user_id: &str, selection: &Selection) -> Result<(), AppError> {
    match selection {
        Selection::Ids(ids) => ensure_all_owned(conn, user_id, ids),
        Selection::AllInCategory { filter, .. } => match &filter.mailbox_id {
            Some(mailbox_id) => mailboxes::find_owned(conn, user_id, mailbox_id).map(drop),
            None => Ok(()),
        },
    }
}

pub async fn delete(ctx: &Context, ids: Option<Vec<ID>>, all: Option<AllInCategory>) -> Result<BulkResult, AppError> {
    let (selection, now) = (selection(ids, all)?, ctx.now);
    let outcome = ctx
        .db(move |conn, user_id| {
            check_owned(conn, user_id, &selection)?;
            bulk::delete(conn, user_id, &selection, now)
        })
        .await?;
    ctx.forget_loaded().await;
    Ok(outcome.into())
}

pub async fn undo_delete(ctx: &Context, ids: Vec<ID>) -> Result<BulkResult, AppError> {
    let (ids, now) = (strings(&ids), ctx.now);
    if ids.is_empty() {
        return Err(AppError::invalid("ids", "select at least one email"));
    }
    let outcome = ctx
        .db(move |conn, user_id| {
            ensure_all_owned(conn, user_id, &ids)?;
            bulk::undo_delete(conn, user_id, &ids, now)
        })
        .await?;
    ctx.forget_loaded().await;
    Ok(outcome.into())
}

pub async fn move_to(
    ctx: &Context,
    ids: Option<Vec<ID>>,
    all: Option<AllInCategory>,
    category_id: ID,
) -> Result<BulkResult, AppError> {
    let (selection, now) = (selection(ids, all)?, ctx.now);
    let threshold = ctx.state.config.sorting.sender_memory_threshold;
    let outcome = ctx
        .db(move |conn, user_id| {
            check_owned(conn, user_id, &selection)?;
            bulk::move_to(conn, user_id, &selection, &category_id, threshold, now)
        })
        .await?;
    ctx.forget_loaded().await;
    Ok(outcome.into())
}

pub async fn mark_reviewed(
    ctx: &Context,
    ids: Option<Vec<ID>>,
    all: Option<AllInCategory>,
) -> Result<BulkResult, AppError> {
    let (selection, now) = (selection(ids, all)?, ctx.now);
    let threshold = ctx.state.config.sorting.sender_memory_threshold;
    let outcome = ctx
        .db(move |conn, user_id| {
            check_owned(conn, user_id, &selection)?;
            bulk::mark_reviewed(conn, user_id, &selection, threshold, now)
        })
        .await?;
    Ok(outcome.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_is_ids_or_everything_in_a_category_never_both_or_neither() {
        let ids = || Some(vec![ID::new("a")]);
        let all = || Some(AllInCategory { category_id: ID::new("c"), account_id: None, search: Some(" ".into()) });
        assert_eq!(selection(ids(), None).ok(), Some(Selection::Ids(vec!["a".into()])));
        let Ok(Selection::AllInCategory { category_id, filter }) = selection(None, all()) else { panic!("all") };
        assert_eq!((category_id.as_str(), filter), ("c", ListFilter::default()));
        assert!(selection(ids(), all()).is_err());
        assert!(selection(None, None).is_err());
        assert!(selection(Some(Vec::new()), None).is_err());
    }
}
