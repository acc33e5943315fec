//! One email (headers, summary, where its category came from, its content in a locked-down frame)
//! and the bulk form every list posts to.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::db::emails::ListFilter;
use crate::error::AppError;
use crate::services::emails::{self, Selection};
use crate::services::unsubscribe::{self, AttemptView, SkipReason};
use crate::services::{bulk, sorting};
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::CurrentUser;
use crate::web::form::FormPairs;
use crate::web::layout::Layout;
use crate::web::pages::categories::{Choice, ListQuery, Notice, see_other};
use crate::web::pages::subscriptions::status_words;

#[derive(Template, WebTemplate)]
#[template(path = "pages/emails/show.html")]
pub struct EmailPage {
    layout: Layout,
    id: String,
    from: String,
    from_address: String,
    to: String,
    subject: String,
    date: String,
    account: String,
    summary: String,
    category: Option<Choice>,
    source: &'static str,
    confidence: String,
    is_html: bool,
    text: String,
    is_deleted: bool,
    list_id: String,
    unsubscribe_urls: Vec<String>,
    problems: String,
    moves: Vec<Choice>,
    back: String,
    attempts: Vec<AttemptRow>,
    /// The sender's subscription: "subscribed" (never tried), or how unsubscribing went.
    subscription_status: String,
    notice: Option<Notice>,
}

/// One unsubscribe attempt on the email page.
pub struct AttemptRow {
    pub status: String,
    pub is_final: bool,
    pub is_warning: bool,
    pub method: String,
    pub url: String,
    pub reason: String,
    pub steps: Vec<String>,
    pub screenshot_url: Option<String>,
    pub when: String,
}

impl From<AttemptView> for AttemptRow {
    fn from(a: AttemptView) -> Self {
        let status = a.status.as_str();
        AttemptRow {
            status: status_words(status),
            is_final: !matches!(status, "pending" | "running"),
            is_warning: matches!(status, "failed" | "needs_manual" | "blocked"),
            method: a.method.map(|m| m.as_str().replace('_', " ")).unwrap_or_default(),
            url: a.url.unwrap_or_default(),
            reason: a.reason.unwrap_or_default(),
            steps: a.steps.iter().map(|s| format!("{:>6} ms  {}: {}", s.at_ms, s.action, s.detail)).collect(),
            screenshot_url: a.screenshot_path.map(|_| format!("/unsubscribe/attempts/{}/screenshot", a.id)),
            when: a.finished_at.unwrap_or(a.created_at).format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<EmailPage, AppError> {
    let (user_id, id) = (user.0.user.id.clone(), path.into_inner());
    let ((email, mailbox), categories, attempts, subscription_status) = state
        .db(move |conn| {
            let found = emails::find_owned(conn, &user_id, &id)?;
            let attempts = unsubscribe::attempts_for_email(conn, &user_id, &id)?;
            let key = crate::domain::unsubscribe::subscription_key(
                found.0.list_id.as_deref(),
                found.0.from_address.as_deref(),
            );
            let status = match key {
                Some(key) => crate::db::subscriptions::find_by_key(conn, &user_id, &key)?.map(|s| s.status),
                None => None,
            };
            let categories = crate::db::categories::list_for_user(conn, &user_id)?;
            Ok((found, categories, attempts, status.unwrap_or_else(|| "subscribed".to_owned())))
        })
        .await?;
    let category = email.category_id.as_ref().and_then(|id| categories.iter().find(|c| &c.id == id)).map(|c| Choice {
        id: c.id.clone(),
        name: c.name.clone(),
        is_selected: true,
    });
    let back = category.as_ref().map_or_else(|| "/review".to_owned(), |c| format!("/categories/{}", c.id));
    Ok(EmailPage {
        layout: Layout::signed_in(&user.0, user.is_admin(&state)),
        from: emails::sender(email.from_name.as_deref(), email.from_address.as_deref()),
        from_address: email.from_address.clone().unwrap_or_default(),
        to: email.to_addresses.clone(),
        subject: emails::subject(&email.subject),
        date: email.listed_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        account: mailbox.address,
        summary: email.summary.clone().unwrap_or_default(),
        source: sorting::describe_source(email.sort_source.as_deref()),
        confidence: email.confidence.map(|c| format!("{:.0}%", c * 100.0)).unwrap_or_default(),
        is_html: email.sanitized_html.as_deref().is_some_and(|h| !h.trim().is_empty()),
        text: email.text_body.clone().unwrap_or_else(|| email.snippet.clone()),
        is_deleted: email.trashed_at.is_some(),
        list_id: email.list_id.clone().unwrap_or_default(),
        unsubscribe_urls: serde_json::from_str(&email.list_unsubscribe_urls).unwrap_or_default(),
        problems: email.parse_problems.clone().unwrap_or_default(),
        moves: categories
            .into_iter()
            .filter(|c| Some(&c.id) != email.category_id.as_ref())
            .map(|c| Choice { id: c.id, name: c.name, is_selected: false })
            .collect(),
        category,
        back,
        attempts: attempts.into_iter().map(AttemptRow::from).collect(),
        subscription_status,
        notice: query.notice(),
        id: email.id,
    })
}

#[derive(Deserialize)]
pub struct ContentQuery {
    #[serde(default)]
    images: Option<String>,
}

/// `GET /emails/{id}/content`: the sanitized HTML, for the sandboxed frame on the email page. The
/// policy allows no script and no request at all; remote images only after "Load images".
pub async fn content(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<ContentQuery>,
) -> Result<HttpResponse, AppError> {
    let (user_id, id) = (user.0.user.id.clone(), path.into_inner());
    let (email, _) = state.db(move |conn| emails::find_owned(conn, &user_id, &id)).await?;
    let html = email.sanitized_html.unwrap_or_default();
    // Cleaning parked every remote image URL in `data-remote-src` (attribute values have their
    // quotes escaped, so only cleaning wrote that attribute); "Load images" puts them back.
    let (html, images) = if query.images.is_some() {
        (html.replace(" data-remote-src=\"", " src=\""), "img-src data: https: http:")
    } else {
        (html, "img-src data:")
    };
    let policy = format!(
        "default-src 'none'; {images}; style-src 'unsafe-inline'; font-src data:; form-action 'none'; \
         base-uri 'none'; frame-ancestors 'self'; sandbox"
    );
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><base target=\"_blank\"></head><body>{html}</body></html>"
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", policy))
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(body))
}

/// `POST /emails/bulk`: `action` = delete | move | reviewed, on the ticked `ids` or, with `all=1`,
/// on every email of `category_id` matching `q` and `account`.
pub async fn bulk(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<FormPairs>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, form.csrf())?;
    let selection = selection(&form);
    let (user_id, now, threshold) = (user.0.user.id.clone(), state.now(), state.config.sorting.sender_memory_threshold);
    let back = form.back_or("/");
    let separator = if back.contains('?') { '&' } else { '?' };
    if form.value("action") == "unsubscribe" {
        let insist = form.value("insist") == "1";
        let (started, skipped) = state
            .db(move |conn| {
                let ids = emails::resolve(conn, &user_id, &selection)?;
                if ids.is_empty() {
                    return Err(AppError::invalid("ids", "select at least one email"));
                }
                let (mut started, mut skipped) = (0, 0);
                for chunk in ids.chunks(emails::ACTION_CHUNK) {
                    let summary = unsubscribe::request(conn, &user_id, chunk, insist, now)?;
                    started += summary.started.len();
                    // Emails of a subscription already started (by this request too) are not news.
                    skipped += summary.skipped.iter().filter(|(_, why)| *why != SkipReason::AlreadyInProgress).count();
                }
                Ok((started, skipped))
            })
            .await?;
        return Ok(see_other(&format!("{back}{separator}done=unsubscribe&count={started}&skipped={skipped}")));
    }
    let action = form.value("action").to_owned();
    let target = form.value("target").to_owned();
    let outcome = state
        .db(move |conn| match action.as_str() {
            "delete" => bulk::delete(conn, &user_id, &selection, now),
            "move" => bulk::move_to(conn, &user_id, &selection, &target, threshold, now),
            "reviewed" => bulk::mark_reviewed(conn, &user_id, &selection, threshold, now),
            _ => Err(AppError::invalid("action", "choose Delete, Unsubscribe, Move or Mark reviewed")),
        })
        .await?;
    let done = match form.value("action") {
        "delete" => format!("done=deleted&at={}", now.and_utc().timestamp_micros()),
        "move" => "done=moved".to_owned(),
        _ => "done=reviewed".to_owned(),
    };
    Ok(see_other(&format!("{back}{separator}{done}&count={}", outcome.changed)))
}

fn selection(form: &FormPairs) -> Selection {
    if form.value("all") == "1" && !form.value("category_id").is_empty() {
        let filter = ListFilter {
            mailbox_id: Some(form.value("account").to_owned()).filter(|a| !a.is_empty()),
            text: Some(form.value("q").to_owned()).filter(|q| !q.trim().is_empty()),
        };
        Selection::AllInCategory { category_id: form.value("category_id").to_owned(), filter }
    } else {
        Selection::Ids(form.values("ids"))
    }
}

/// `GET /unsubscribe/attempts/{id}/screenshot`: the final page of one of the user's attempts. Only
/// files inside the screenshot folder are served.
pub async fn screenshot(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (user_id, id) = (user.0.user.id.clone(), path.into_inner());
    let attempt = state
        .db(move |conn| Ok(crate::db::unsubscribe_attempts::find(conn, &id)?.filter(|a| a.user_id == user_id)))
        .await?
        .ok_or(AppError::NotFound)?;
    let folder = &state.config.unsubscribe.screenshot_dir;
    let file = attempt.screenshot_path.map(std::path::PathBuf::from).ok_or(AppError::NotFound)?;
    let is_inside = match (file.canonicalize(), folder.canonicalize()) {
        (Ok(file), Ok(folder)) => file.starts_with(folder),
        _ => false,
    };
    if !is_inside {
        return Err(AppError::NotFound);
    }
    let bytes = tokio::fs::read(&file).await.map_err(|_| AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header(("Cache-Control", "private, max-age=3600"))
        .body(bytes))
}
