//! `GET /categories/try`: tries a new or edited category description on the last 200 emails
//! before it is saved, showing which emails would land in it and which would leave another
//! category, with what an AI re-sort of them would cost. Nothing is changed.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::error::AppError;
use crate::services::sorting::{self, PREVIEW_EMAILS, PreviewEmail};
use crate::sorting::llm::LlmSettings;
use crate::state::AppState;
use crate::web::extract::CurrentUser;
use crate::web::layout::Layout;

#[derive(Deserialize)]
pub struct TryQuery {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    /// The category being edited; empty for a new one.
    #[serde(default)]
    category_id: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/try_category.html")]
pub struct TryPage {
    layout: Layout,
    name: String,
    description: String,
    category_id: String,
    has_result: bool,
    examined: usize,
    window: i64,
    landing: Vec<PreviewEmail>,
    leaving: usize,
    cost: Option<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<TryQuery>,
) -> Result<TryPage, AppError> {
    let TryQuery { name, description, category_id } = query.into_inner();
    let layout = Layout::signed_in(&user.0, user.is_admin(&state));
    let mut page = TryPage {
        layout,
        has_result: false,
        examined: 0,
        window: PREVIEW_EMAILS,
        landing: Vec::new(),
        leaving: 0,
        cost: None,
        name: name.trim().to_owned(),
        description: description.trim().to_owned(),
        category_id: category_id.trim().to_owned(),
    };
    if page.name.is_empty() || page.description.is_empty() {
        return Ok(page);
    }
    let (user_id, llm) = (user.0.user.id.clone(), LlmSettings::from_config(&state.config.openai));
    let (name, description, editing) = (page.name.clone(), page.description.clone(), page.category_id.clone());
    let preview = state
        .db(move |conn| {
            let editing = Some(editing.as_str()).filter(|id| !id.is_empty());
            sorting::preview(conn, &user_id, &name, &description, editing, llm.as_ref())
        })
        .await?;
    page.has_result = true;
    page.examined = preview.examined;
    page.leaving = preview.landing.iter().filter(|e| e.leaving.is_some()).count();
    page.landing = preview.landing;
    page.cost = preview.estimated_ai_cost.map(|c| format!("${c:.4}"));
    Ok(page)
}
