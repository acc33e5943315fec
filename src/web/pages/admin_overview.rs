//! `/admin`: users and mailboxes at a glance, for admins (the job dashboard is `/admin/jobs`).

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use crate::error::AppError;
use crate::state::AppState;
use crate::web::extract::Admin;
use crate::web::layout::Layout;

pub struct UserRow {
    pub email: String,
    pub is_admin: bool,
    pub joined: String,
    pub mailboxes: i64,
    pub emails: i64,
}

pub struct MailboxRow {
    pub address: String,
    pub owner: String,
    pub kind: String,
    pub status: String,
    pub last_sync: String,
    pub last_error: String,
    pub states: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/admin/overview.html")]
pub struct OverviewPage {
    layout: Layout,
    users: Vec<UserRow>,
    mailboxes: Vec<MailboxRow>,
}

/// Rows shown per table; the page is for a glance, not for paging through thousands.
const LIMIT: i64 = 500;

pub async fn show(state: web::Data<AppState>, admin: Admin) -> Result<OverviewPage, AppError> {
    let overview = state.db(|conn| Ok(crate::services::admin::overview(conn, LIMIT)?)).await?;
    let at =
        |t: Option<chrono::NaiveDateTime>| t.map_or("never".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string());
    Ok(OverviewPage {
        layout: Layout::signed_in(&admin.0, true),
        users: overview
            .users
            .into_iter()
            .map(|u| UserRow {
                is_admin: u.user.is_admin || state.config.is_admin_email(&u.user.email),
                email: u.user.email,
                joined: u.user.created_at.format("%Y-%m-%d").to_string(),
                mailboxes: u.mailboxes,
                emails: u.emails,
            })
            .collect(),
        mailboxes: overview
            .mailboxes
            .into_iter()
            .map(|m| MailboxRow {
                last_sync: at(m.mailbox.last_synced_at),
                last_error: m.mailbox.last_error.unwrap_or_default(),
                states: m.states.iter().map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(" · "),
                address: m.mailbox.address,
                owner: m.owner,
                kind: m.mailbox.kind,
                status: m.mailbox.status,
            })
            .collect(),
    })
}
