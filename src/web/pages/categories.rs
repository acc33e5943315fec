//! A category: its emails page by page with filters and bulk actions, and the forms that create,
//! edit and delete categories.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use std::collections::HashMap;

use crate::db::emails::{ListFilter, ListedEmail};
use crate::domain::unsubscribe::subscription_key;
use crate::error::AppError;
use crate::services::categories::{self, CategoryInput, EmailsGoTo};
use crate::services::emails::{self, DEFAULT_PAGE_SIZE};
use crate::services::sorting::describe_source;
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::CurrentUser;
use crate::web::form::FormPairs;
use crate::web::layout::Layout;
use crate::web::pages::subscriptions::status_words;

pub struct Choice {
    pub id: String,
    pub name: String,
    pub is_selected: bool,
}

pub struct EmailRow {
    pub id: String,
    pub from: String,
    pub subject: String,
    pub summary: String,
    pub date: String,
    pub account: String,
    pub source: &'static str,
    pub confidence: String,
    pub badges: Vec<Badge>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/categories/show.html")]
pub struct CategoryPage {
    layout: Layout,
    id: String,
    name: String,
    description: String,
    rows: Vec<EmailRow>,
    total: i64,
    accounts: Vec<Choice>,
    moves: Vec<Choice>,
    query: String,
    account: String,
    next_url: Option<String>,
    is_first_page: bool,
    back: String,
    notice: Option<Notice>,
}

/// What the last bulk action did, shown above the list (with Undo after a delete).
pub struct Notice {
    pub text: String,
    pub undo_deleted_at: Option<String>,
}

/// What an unsubscribe request started, in words.
pub fn unsubscribe_notice(started: usize, skipped: usize) -> String {
    let mut text = match started {
        0 => "No unsubscribe was started.".to_owned(),
        1 => "Unsubscribing from 1 sender; its status shows on the email and under Subscriptions.".to_owned(),
        n => format!("Unsubscribing from {n} senders; their status shows on the emails and under Subscriptions."),
    };
    if skipped > 0 {
        text.push_str(&format!(
            " {skipped} email(s) were left alone: unauthenticated or spam mail (unsubscribing could confirm your \
             address to a spammer; tick “even if unverified” to insist), or nothing to unsubscribe from."
        ));
    }
    text
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    count: String,
    #[serde(default)]
    at: String,
    #[serde(default)]
    skipped: String,
}

impl ListQuery {
    fn filter(&self) -> ListFilter {
        ListFilter {
            mailbox_id: Some(self.account.trim().to_owned()).filter(|a| !a.is_empty()),
            text: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
        }
    }

    pub fn notice(&self) -> Option<Notice> {
        let count: usize = self.count.parse().ok()?;
        let emails = if count == 1 { "1 email".to_owned() } else { format!("{count} emails") };
        let (text, undo) = match self.done.as_str() {
            "deleted" => (format!("{emails} moved to Trash."), Some(self.at.clone()).filter(|a| !a.is_empty())),
            "moved" => (format!("{emails} moved."), None),
            "reviewed" => (format!("{emails} marked reviewed; the sorter learned from them."), None),
            "unsubscribe" => (unsubscribe_notice(count, self.skipped.parse().unwrap_or(0)), None),
            _ => return None,
        };
        Some(Notice { text, undo_deleted_at: undo })
    }
}

/// A row's badge: its words, and whether it asks for attention (shown in the warning colour).
pub struct Badge {
    pub text: String,
    pub is_warning: bool,
}

/// The badges of a row: what unsubscribing from its sender did, and whether it is still in the inbox.
/// `YYYY-MM-DD HH:MM`, written directly: chrono's `format` reads its pattern again for every row.
fn list_date(at: chrono::NaiveDateTime) -> String {
    use chrono::{Datelike as _, Timelike as _};
    format!("{:04}-{:02}-{:02} {:02}:{:02}", at.year(), at.month(), at.day(), at.hour(), at.minute())
}

fn row_subscription_key(email: &ListedEmail) -> Option<String> {
    subscription_key(email.list_id.as_deref(), email.from_address.as_deref())
}

fn badges(email: &ListedEmail, statuses: &HashMap<String, String>) -> Vec<Badge> {
    let mut badges: Vec<Badge> = row_subscription_key(email)
        .and_then(|k| statuses.get(&k))
        .filter(|s| s.as_str() != "subscribed")
        .map(|s| Badge {
            text: status_words(s),
            is_warning: matches!(s.as_str(), "failed" | "needs_manual" | "blocked"),
        })
        .into_iter()
        .collect();
    if email.is_after_unsubscribe {
        badges.push(Badge { text: "arrived after unsubscribe".into(), is_warning: true });
    }
    if !email.is_archived {
        badges.push(Badge { text: "still in inbox".into(), is_warning: false });
    }
    badges
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<CategoryPage, AppError> {
    let (user_id, category_id, filter) = (user.0.user.id.clone(), path.into_inner(), query.filter());
    let after = query.after.clone();
    let (page, all_categories, statuses) = state
        .db(move |conn| {
            let listing = emails::Listing {
                user_id: &user_id,
                category_id: &category_id,
                filter: &filter,
                cursor: Some(&after),
                page_size: DEFAULT_PAGE_SIZE,
            };
            let page = emails::list_category_rows(conn, listing)?;
            // One query for the page's unsubscribe badges, not one per email.
            let mut keys: Vec<String> = page.emails.iter().filter_map(row_subscription_key).collect();
            keys.sort_unstable();
            keys.dedup();
            let statuses: HashMap<String, String> =
                crate::db::subscriptions::statuses(conn, &user_id, &keys)?.into_iter().collect();
            Ok((page, crate::db::categories::list_for_user(conn, &user_id)?, statuses))
        })
        .await?;
    let base = format!("/categories/{}?q={}&account={}", page.category.id, encode(&query.q), encode(&query.account));
    let accounts: HashMap<&str, &str> = page.mailboxes.iter().map(|m| (m.id.as_str(), m.address.as_str())).collect();
    let rows = page
        .emails
        .into_iter()
        .map(|e| EmailRow {
            from: emails::sender(e.from_name.as_deref(), e.from_address.as_deref()),
            subject: emails::subject(&e.subject),
            date: list_date(e.listed_at),
            account: accounts.get(e.mailbox_id.as_str()).map(|a| (*a).to_owned()).unwrap_or_default(),
            source: describe_source(e.sort_source.as_deref()),
            confidence: e.confidence.map(|c| format!("{:.0}%", c * 100.0)).unwrap_or_default(),
            badges: badges(&e, &statuses),
            summary: e.summary.unwrap_or_default(),
            id: e.id,
        })
        .collect();
    Ok(CategoryPage {
        layout: Layout::signed_in(&user.0, user.is_admin(&state)),
        rows,
        total: page.total,
        accounts: page
            .mailboxes
            .into_iter()
            .map(|m| Choice { is_selected: m.id == query.account, id: m.id, name: m.address })
            .collect(),
        moves: all_categories
            .into_iter()
            .filter(|c| c.id != page.category.id)
            .map(|c| Choice { id: c.id, name: c.name, is_selected: false })
            .collect(),
        next_url: page.next_cursor.map(|c| format!("{base}&after={c}")),
        is_first_page: query.after.is_empty(),
        back: base,
        query: query.q.clone(),
        account: query.account.clone(),
        notice: query.notice(),
        id: page.category.id,
        name: page.category.name,
        description: page.category.description,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/categories/form.html")]
pub struct CategoryForm {
    layout: Layout,
    /// `None` for a new category.
    id: Option<String>,
    name: String,
    description: String,
    errors: Vec<(&'static str, String)>,
    /// Where a deleted category's emails may go.
    others: Vec<Choice>,
    email_count: i64,
}

impl CategoryForm {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }
}

pub async fn new_form(state: web::Data<AppState>, user: CurrentUser) -> CategoryForm {
    CategoryForm {
        layout: Layout::signed_in(&user.0, user.is_admin(&state)),
        id: None,
        name: String::new(),
        description: String::new(),
        errors: Vec::new(),
        others: Vec::new(),
        email_count: 0,
    }
}

pub async fn edit_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<CategoryForm, AppError> {
    let (user_id, id) = (user.0.user.id.clone(), path.into_inner());
    let (category, others, email_count) = state
        .db(move |conn| {
            let category = categories::find_owned(conn, &user_id, &id)?;
            let others = crate::db::categories::list_for_user(conn, &user_id)?;
            let count = crate::services::emails::count_in_category(conn, &id, &ListFilter::default())?;
            Ok((category, others, count))
        })
        .await?;
    Ok(CategoryForm {
        layout: Layout::signed_in(&user.0, user.is_admin(&state)),
        others: others
            .into_iter()
            .filter(|c| c.id != category.id)
            .map(|c| Choice { id: c.id, name: c.name, is_selected: false })
            .collect(),
        id: Some(category.id),
        name: category.name,
        description: category.description,
        errors: Vec::new(),
        email_count,
    })
}

/// `POST /categories` (new) and `POST /categories/{id}` (edit).
pub async fn save(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: Option<web::Path<String>>,
    form: web::Form<FormPairs>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, form.csrf())?;
    let input =
        CategoryInput { name: form.value("name").to_owned(), description: form.value("description").to_owned() };
    let (user_id, now, id) = (user.0.user.id.clone(), state.now(), path.map(web::Path::into_inner));
    let saved = {
        let (input, id) = (input.clone(), id.clone());
        state
            .db(move |conn| match id {
                Some(id) => categories::update(conn, &user_id, &id, &input, now),
                None => categories::create(conn, &user_id, &input, now),
            })
            .await
    };
    match saved {
        Ok(category) => Ok(see_other(&format!("/categories/{}", category.id))),
        Err(AppError::Invalid(problems)) => {
            let page = CategoryForm {
                layout: Layout::signed_in(&user.0, user.is_admin(&state)),
                id,
                name: input.name,
                description: input.description,
                errors: problems.into_iter().map(|p| (p.field, p.message)).collect(),
                others: Vec::new(),
                email_count: 0,
            };
            let body = page.render().map_err(AppError::internal)?;
            Ok(HttpResponse::build(StatusCode::UNPROCESSABLE_ENTITY)
                .content_type("text/html; charset=utf-8")
                .body(body))
        }
        Err(other) => Err(other),
    }
}

/// `POST /categories/{id}/delete`: `emails` is `review` or the id of the category they move to.
pub async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<FormPairs>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, form.csrf())?;
    let go_to = match form.value("emails") {
        "review" => EmailsGoTo::NeedsReview,
        "" => return Err(AppError::invalid("emails", "choose where this category's emails go")),
        id => EmailsGoTo::Category(id.to_owned()),
    };
    let (user_id, now, id) = (user.0.user.id.clone(), state.now(), path.into_inner());
    state.db(move |conn| categories::delete(conn, &user_id, &id, &go_to, now)).await?;
    Ok(see_other("/"))
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_owned())).finish()
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
