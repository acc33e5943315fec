//! *Needs review*: emails no sorter was sure about. They stay in the mailbox's inbox until the person
//! assigns a category here; that decision archives them and teaches the sorter.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::db::emails::Bodies;
use crate::error::AppError;
use crate::services::emails::{self, DEFAULT_PAGE_SIZE};
use crate::services::sorting;
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::CurrentUser;
use crate::web::form::FormPairs;
use crate::web::layout::Layout;

pub struct ReviewRow {
    pub id: String,
    pub from: String,
    pub subject: String,
    pub summary: String,
}

pub struct CategoryOption {
    pub id: String,
    pub name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/review.html")]
pub struct ReviewPage {
    layout: Layout,
    rows: Vec<ReviewRow>,
    categories: Vec<CategoryOption>,
    /// How many emails wait for review in all (the page shows at most one page of them).
    total: i64,
    is_first_page: bool,
    next_url: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct ReviewQuery {
    #[serde(default)]
    after: Option<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<ReviewQuery>,
) -> Result<ReviewPage, AppError> {
    let (user_id, after) = (user.0.user.id.clone(), query.into_inner().after);
    let is_first_page = after.as_deref().is_none_or(str::is_empty);
    let (page, categories) = state
        .db(move |conn| {
            let page = emails::list_needing_review(conn, &user_id, after.as_deref(), DEFAULT_PAGE_SIZE, Bodies::Left)?;
            Ok((page, crate::db::categories::list_for_user(conn, &user_id)?))
        })
        .await?;
    let next_url = page.next_cursor.map(|cursor| format!("/review?after={cursor}"));
    let total = page.total;
    let rows = page
        .emails
        .into_iter()
        .map(|e| ReviewRow {
            from: e.from_name.clone().filter(|n| !n.is_empty()).or(e.from_address.clone()).unwrap_or_default(),
            subject: if e.subject.is_empty() { "(no subject)".into() } else { e.subject.clone() },
            summary: e.summary.clone().unwrap_or_default(),
            id: e.id,
        })
        .collect();
    let categories = categories.into_iter().map(|c| CategoryOption { id: c.id, name: c.name }).collect();
    Ok(ReviewPage {
        layout: Layout::signed_in(&user.0, user.is_admin(&state)),
        rows,
        categories,
        total,
        is_first_page,
        next_url,
    })
}

/// `POST /emails/assign`: puts the selected emails in a category (also used to move sorted ones).
pub async fn assign(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<FormPairs>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, form.csrf())?;
    let (user_id, ids, category_id) =
        (user.0.user.id.clone(), form.values("ids"), form.value("category_id").to_owned());
    if ids.is_empty() {
        return Err(AppError::invalid("ids", "select at least one email"));
    }
    let (threshold, now) = (state.config.sorting.sender_memory_threshold, state.now());
    state.db(move |conn| sorting::assign(conn, &user_id, &ids, &category_id, threshold, now)).await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, form.back_or("/review"))).finish())
}
