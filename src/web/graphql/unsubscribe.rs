//! `unsubscribeEmails`, `subscriptions` and `unsubscribeAttempts`: the unsubscribe agent through the
//! API, on the same services as the pages (one attempt per subscription; unverified or spam mail
//! skipped unless `insist`).

use chrono::{DateTime, Utc};
use juniper::{GraphQLObject, ID};

use super::bulk::{AllInCategory, check_owned, selection};
use super::context::Context;
use super::scalars::{id, int, int_from_usize, utc};
use crate::error::AppError;
use crate::services::emails::{ACTION_CHUNK, resolve};
use crate::services::unsubscribe::{self, AttemptView, BulkSender, SkipReason};

/// One subscription an unsubscribe was started for.
#[derive(GraphQLObject)]
pub struct StartedUnsubscribe {
    pub attempt_id: ID,
    pub subscription_id: ID,
    pub display_name: String,
    /// How many of the selected emails belong to it.
    pub email_count: i32,
}

/// A selected email that was left alone, and why in words.
#[derive(GraphQLObject)]
pub struct SkippedEmail {
    pub email_id: ID,
    pub reason: String,
    /// Whether `insist: true` would act on it.
    pub is_overridable: bool,
}

#[derive(GraphQLObject)]
pub struct UnsubscribeResult {
    pub started: Vec<StartedUnsubscribe>,
    pub skipped: Vec<SkippedEmail>,
}

/// One step the agent took.
#[derive(GraphQLObject)]
pub struct UnsubscribeStep {
    /// Milliseconds since the attempt started.
    pub at_ms: i32,
    pub action: String,
    pub detail: String,
}

/// One try at leaving a subscription.
#[derive(GraphQLObject)]
pub struct UnsubscribeAttempt {
    pub id: ID,
    /// pending, running, succeeded, failed, needs_manual or blocked.
    pub status: String,
    /// one_click, mailto, page or body_link, once known.
    pub method: Option<String>,
    pub url: Option<String>,
    /// The evidence of a success, or why it did not succeed, in words.
    pub reason: Option<String>,
    pub steps: Vec<UnsubscribeStep>,
    /// Where the screenshot of the final page is served (signed-in browsers), when there is one.
    pub screenshot_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<AttemptView> for UnsubscribeAttempt {
    fn from(a: AttemptView) -> Self {
        UnsubscribeAttempt {
            status: a.status.as_str().to_owned(),
            method: a.method.map(|m| m.as_str().to_owned()),
            steps: a
                .steps
                .iter()
                .map(|s| UnsubscribeStep {
                    at_ms: i32::try_from(s.at_ms).unwrap_or(i32::MAX),
                    action: s.action.clone(),
                    detail: s.detail.clone(),
                })
                .collect(),
            screenshot_url: a.screenshot_path.as_ref().map(|_| format!("/unsubscribe/attempts/{}/screenshot", a.id)),
            created_at: utc(a.created_at),
            finished_at: a.finished_at.map(utc),
            url: a.url,
            reason: a.reason,
            id: id(&a.id),
        }
    }
}

/// A sender or list the user gets bulk mail from.
#[derive(GraphQLObject)]
pub struct Subscription {
    /// `list:<List-Id>` or `from:<address>`.
    pub key: String,
    pub display_name: String,
    /// Emails in the last 30 days.
    pub recent_emails: i32,
    /// `subscribed` before any attempt, else the last attempt's status.
    pub status: String,
    /// Mail kept arriving more than 3 days after a successful unsubscribe.
    pub is_ignored: bool,
    pub emails_after_unsubscribe: i32,
    pub last_attempt: Option<UnsubscribeAttempt>,
}

impl From<BulkSender> for Subscription {
    fn from(s: BulkSender) -> Self {
        let view = s.subscription;
        Subscription {
            key: s.key,
            display_name: s.display_name,
            recent_emails: int(s.recent_emails),
            status: view.as_ref().map_or_else(|| "subscribed".to_owned(), |v| v.status.clone()),
            is_ignored: view.as_ref().is_some_and(|v| v.is_ignored),
            emails_after_unsubscribe: view.as_ref().map_or(0, |v| int(v.emails_after_unsubscribe)),
            last_attempt: view.and_then(|v| v.last_attempt).map(UnsubscribeAttempt::from),
        }
    }
}

pub async fn request(
    ctx: &Context,
    ids: Option<Vec<ID>>,
    all: Option<AllInCategory>,
    insist: bool,
) -> Result<UnsubscribeResult, AppError> {
    let (selection, now) = (selection(ids, all)?, ctx.now);
    let (started, skipped) = ctx
        .db(move |conn, user_id| {
            check_owned(conn, user_id, &selection)?;
            let ids = resolve(conn, user_id, &selection)?;
            let (mut started, mut skipped) = (Vec::new(), Vec::new());
            for chunk in ids.chunks(ACTION_CHUNK) {
                let summary = unsubscribe::request(conn, user_id, chunk, insist, now)?;
                started.extend(summary.started);
                // Emails of a subscription this request already started are not news.
                skipped.extend(summary.skipped.into_iter().filter(|(_, why)| *why != SkipReason::AlreadyInProgress));
            }
            Ok((started, skipped))
        })
        .await?;
    Ok(UnsubscribeResult {
        started: started
            .into_iter()
            .map(|s| StartedUnsubscribe {
                attempt_id: id(&s.attempt_id),
                subscription_id: id(&s.subscription_id),
                display_name: s.display_name,
                email_count: int_from_usize(s.email_count),
            })
            .collect(),
        skipped: skipped
            .into_iter()
            .map(|(email_id, why)| SkippedEmail {
                email_id: id(&email_id),
                reason: why.describe().to_owned(),
                is_overridable: why.is_overridable(),
            })
            .collect(),
    })
}

pub async fn subscriptions(ctx: &Context) -> Result<Vec<Subscription>, AppError> {
    let now = ctx.now;
    let senders = ctx.db(move |conn, user_id| unsubscribe::bulk_senders(conn, user_id, now)).await?;
    Ok(senders.into_iter().map(Subscription::from).collect())
}

/// The attempts made from one of the user's emails, newest first; NOT_FOUND for anyone else's.
pub async fn attempts(ctx: &Context, email_id: ID) -> Result<Vec<UnsubscribeAttempt>, AppError> {
    let email_id = email_id.to_string();
    let views = ctx
        .db(move |conn, user_id| {
            crate::services::emails::find_owned(conn, user_id, &email_id)?;
            unsubscribe::attempts_for_email(conn, user_id, &email_id)
        })
        .await?;
    Ok(views.into_iter().map(UnsubscribeAttempt::from).collect())
}
