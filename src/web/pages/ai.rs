//! `/settings/ai`: how this person's mail is sorted (hybrid, AI only, local only), a daily AI budget
//! after which the local sorter takes over, and what the AI cost per day.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::config::SortingMode;
use crate::error::AppError;
use crate::sorting::settings::UserAiSettings;
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::CurrentUser;
use crate::web::layout::Layout;

pub struct UsageRow {
    pub day: String,
    pub calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/ai.html")]
pub struct AiPage {
    layout: Layout,
    mode: String,
    server_mode: String,
    is_ai_available: bool,
    budget: String,
    rows: Vec<UsageRow>,
    /// The last or running re-sort, in words.
    resort: Option<String>,
}

#[derive(Deserialize)]
pub struct ResortForm {
    csrf: String,
    days: String,
}

#[derive(Deserialize)]
pub struct AiForm {
    csrf: String,
    /// `default`, `hybrid`, `llm` or `local`.
    mode: String,
    /// Dollars per day; empty for no limit.
    #[serde(default)]
    budget: String,
}

fn dollars(microdollars: i64) -> String {
    format!("${:.4}", microdollars as f64 / 1_000_000.0)
}

pub async fn show(state: web::Data<AppState>, user: CurrentUser) -> Result<AiPage, AppError> {
    let user_id = user.0.user.id.clone();
    let (usage, resort) = state
        .db(move |conn| {
            Ok((crate::db::ai_usage::recent(conn, &user_id, 14)?, crate::db::resorts::find(conn, &user_id)?))
        })
        .await?;
    let resort = resort.map(|r| match r.finished_at {
        Some(at) => format!(
            "The last re-sort (mail since {}) finished at {} UTC: {} emails checked, {} moved.",
            r.since.format("%Y-%m-%d"),
            at.format("%Y-%m-%d %H:%M"),
            r.done,
            r.changed
        ),
        None => format!(
            "Re-sorting mail since {}: {} of {} checked, {} moved so far.",
            r.since.format("%Y-%m-%d"),
            r.done,
            r.total,
            r.changed
        ),
    });
    let settings = UserAiSettings::parse(&user.0.user.ai_settings);
    Ok(AiPage {
        layout: Layout::signed_in(&user.0, user.is_admin(&state)),
        mode: settings.mode().map_or("default", SortingMode::as_str).to_owned(),
        server_mode: state.config.sorting.mode.as_str().to_owned(),
        is_ai_available: state.config.openai.api_key.is_some(),
        budget: settings.daily_budget_usd.map(|b| b.to_string()).unwrap_or_default(),
        rows: usage
            .into_iter()
            .map(|u| UsageRow {
                cost: dollars(u.cost_microdollars),
                day: u.day,
                calls: u.calls,
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            })
            .collect(),
        resort,
    })
}

/// `POST /settings/ai/resort`: re-sorts the last N days on the server.
pub async fn resort(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<ResortForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, &form.csrf)?;
    let days: i64 = form.days.trim().parse().map_err(|_| AppError::invalid("days", "a number of days, like 30"))?;
    let (user_id, now) = (user.0.user.id.clone(), state.now());
    state.db(move |conn| crate::services::sorting::start_resort(conn, &user_id, days, now)).await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/settings/ai")).finish())
}

pub async fn save(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<AiForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, &form.csrf)?;
    let mode = match form.mode.as_str() {
        "default" => None,
        other => match SortingMode::parse(other) {
            Some(SortingMode::Local) => Some("local".to_owned()),
            Some(mode) if state.config.openai.api_key.is_some() => Some(mode.as_str().to_owned()),
            Some(_) => return Err(AppError::invalid("mode", "this server has no AI key; only the local sorter works")),
            None => return Err(AppError::invalid("mode", "choose hybrid, AI only or local only")),
        },
    };
    let budget = match form.budget.trim() {
        "" => None,
        text => match text.trim_start_matches('$').parse::<f64>() {
            Ok(value) if value.is_finite() && value >= 0.0 => Some(value),
            _ => return Err(AppError::invalid("budget", "a daily budget is a number of dollars, like 0.50")),
        },
    };
    let settings = UserAiSettings { mode, daily_budget_usd: budget };
    let json = serde_json::to_string(&settings).map_err(AppError::internal)?;
    let (user_id, now) = (user.0.user.id.clone(), state.now());
    state.db(move |conn| Ok(crate::db::users::set_ai_settings(conn, &user_id, &json, now)?)).await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/settings/ai")).finish())
}
