//! `/subscriptions`: every sender and list the person gets bulk mail from, with the last 30 days'
//! volume, what unsubscribing did, and whether mail kept coming after it ("ignored unsubscribe").

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::error::AppError;
use crate::services::unsubscribe;
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::CurrentUser;
use crate::web::form::FormPairs;
use crate::web::layout::Layout;

pub struct SubscriptionRow {
    pub name: String,
    pub key: String,
    pub recent_emails: i64,
    pub status: String,
    pub is_warning: bool,
    pub detail: String,
    pub newest_email_id: String,
    pub subscription_id: String,
    pub is_ignored: bool,
    pub is_trash_when_ignored: bool,
    pub after_unsubscribe: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/subscriptions.html")]
pub struct SubscriptionsPage {
    layout: Layout,
    rows: Vec<SubscriptionRow>,
}

/// The word a status is shown with.
pub fn status_words(status: &str) -> String {
    match status {
        "subscribed" => "subscribed".into(),
        "succeeded" => "unsubscribed".into(),
        "pending" | "running" => "unsubscribe pending".into(),
        other => format!("unsubscribe {}", other.replace('_', " ")),
    }
}

pub async fn show(state: web::Data<AppState>, user: CurrentUser) -> Result<SubscriptionsPage, AppError> {
    let (user_id, now) = (user.0.user.id.clone(), state.now());
    let senders = state.db(move |conn| unsubscribe::bulk_senders(conn, &user_id, now)).await?;
    let rows = senders
        .into_iter()
        .map(|s| {
            let status = s.subscription.as_ref().map_or("subscribed", |v| v.status.as_str()).to_owned();
            let detail = s
                .subscription
                .as_ref()
                .and_then(|v| v.last_attempt.as_ref())
                .and_then(|a| a.reason.clone())
                .unwrap_or_default();
            SubscriptionRow {
                is_warning: matches!(status.as_str(), "failed" | "needs_manual" | "blocked"),
                status: status_words(&status),
                detail,
                subscription_id: s.subscription.as_ref().map(|v| v.id.clone()).unwrap_or_default(),
                is_ignored: s.subscription.as_ref().is_some_and(|v| v.is_ignored),
                is_trash_when_ignored: s.subscription.as_ref().is_some_and(|v| v.is_trash_when_ignored),
                after_unsubscribe: s.subscription.as_ref().map_or(0, |v| v.emails_after_unsubscribe),
                name: s.display_name,
                key: s.key,
                recent_emails: s.recent_emails,
                newest_email_id: s.newest_email_id,
            }
        })
        .collect();
    Ok(SubscriptionsPage { layout: Layout::signed_in(&user.0, user.is_admin(&state)), rows })
}

/// `POST /subscriptions/{id}/trash-when-ignored`: `on=1` sends later mail of an ignored
/// unsubscribe straight to Trash.
pub async fn set_trash_when_ignored(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<FormPairs>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, form.csrf())?;
    let (user_id, id, now, is_on) = (user.0.user.id.clone(), path.into_inner(), state.now(), form.value("on") == "1");
    state.db(move |conn| unsubscribe::set_trash_when_ignored(conn, &user_id, &id, is_on, now)).await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/subscriptions")).finish())
}
