//! `GET /`: the landing page for visitors, the dashboard for signed-in users.

use actix_web::{Either, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::error::AppError;
use crate::services::dashboard::{self, Activity, Pipeline};
use crate::state::AppState;
use crate::web::extract::MaybeUser;
use crate::web::layout::Layout;

#[derive(Template, WebTemplate)]
#[template(path = "pages/home/landing.html")]
pub struct Landing {
    layout: Layout,
    is_google_enabled: bool,
}

pub struct MailboxCard {
    pub id: String,
    pub address: String,
    pub is_gmail: bool,
    pub is_active: bool,
    pub kind: String,
    pub status: String,
    pub is_attention_needed: bool,
    pub last_synced: String,
    pub imported_today: i64,
    pub last_error: Option<String>,
}

fn describe(activity: &Activity) -> String {
    match activity {
        Activity::Syncing => "syncing".into(),
        Activity::Idle => "idle".into(),
        Activity::NeedsReconnect => "needs reconnect".into(),
        Activity::Disconnected => "disconnected".into(),
        Activity::Paused => "paused".into(),
        Activity::RateLimitedUntil(until) => format!("rate-limited until {} UTC", until.format("%H:%M")),
    }
}

pub struct CategoryCard {
    pub id: String,
    pub name: String,
    pub description: String,
    pub email_count: i64,
    pub new_count: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/home/dashboard.html")]
pub struct Dashboard {
    layout: Layout,
    name: String,
    is_google_enabled: bool,
    mailboxes: Vec<MailboxCard>,
    categories: Vec<CategoryCard>,
    needs_review: i64,
    /// "Importing 12 · sorting 3 · archiving 40", while mail is on its way.
    progress: Option<String>,
}

pub async fn show(state: web::Data<AppState>, user: MaybeUser) -> Result<Either<Landing, Dashboard>, AppError> {
    let Some(signed_in) = user.0 else {
        let page = Landing { layout: Layout::anonymous(), is_google_enabled: state.google.is_some() };
        return Ok(Either::Left(page));
    };
    let user_id = signed_in.user.id.clone();
    let now = state.now();
    let overview = state.db(move |conn| dashboard::overview(conn, &user_id, now)).await?;
    let is_admin = signed_in.user.is_admin || state.config.is_admin_email(&signed_in.user.email);
    let total = overview.mailboxes.iter().fold(Pipeline::default(), |sum, m| Pipeline {
        importing: sum.importing + m.pipeline.importing,
        sorting: sum.sorting + m.pipeline.sorting,
        archiving: sum.archiving + m.pipeline.archiving,
    });
    let is_checking = overview.mailboxes.iter().any(|m| m.activity == Activity::Syncing);
    let progress = if total.is_busy() {
        Some(format!("importing {} · sorting {} · archiving {}", total.importing, total.sorting, total.archiving))
    } else {
        is_checking.then(|| "checking for new mail".to_owned())
    };
    let page = Dashboard {
        layout: Layout::signed_in(&signed_in, is_admin),
        name: signed_in.user.name.clone(),
        is_google_enabled: state.google.is_some(),
        mailboxes: overview
            .mailboxes
            .into_iter()
            .map(|m| MailboxCard {
                id: m.mailbox.id,
                is_gmail: m.mailbox.kind == "gmail",
                is_active: m.mailbox.status == "active",
                status: describe(&m.activity),
                is_attention_needed: matches!(m.activity, Activity::NeedsReconnect | Activity::RateLimitedUntil(_)),
                imported_today: m.imported_today,
                address: m.mailbox.address,
                kind: m.mailbox.kind,
                last_synced: m
                    .mailbox
                    .last_synced_at
                    .map_or("never".into(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                last_error: m.mailbox.last_error,
            })
            .collect(),
        categories: overview
            .categories
            .into_iter()
            .map(|c| CategoryCard {
                id: c.category.id,
                name: c.category.name,
                description: c.category.description,
                email_count: c.total,
                new_count: c.new,
            })
            .collect(),
        needs_review: overview.needs_review,
        progress,
    };
    Ok(Either::Right(page))
}
