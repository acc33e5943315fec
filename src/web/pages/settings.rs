//! `GET /settings`: the person's settings in one place: each mail account's backfill window, how
//! sorted mail is archived and labelled (their choice), links to the AI settings, and removing the account.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::error::AppError;
use crate::services::{accounts, mailboxes};
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::{CurrentUser, removal_cookie};
use crate::web::form::FormPairs;
use crate::web::layout::Layout;

pub struct MailboxRow {
    pub id: String,
    pub address: String,
    pub backfill_days: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/settings.html")]
pub struct SettingsPage {
    layout: Layout,
    email: String,
    mailboxes: Vec<MailboxRow>,
    server_backfill_days: u32,
    archive_delay_secs: u64,
    is_keeping_inbox: bool,
    is_labelling: bool,
    is_server_labelling: bool,
}

pub async fn show(state: web::Data<AppState>, user: CurrentUser) -> Result<SettingsPage, AppError> {
    let user_id = user.0.user.id.clone();
    let list = state.db(move |conn| Ok(crate::db::mailboxes::list_for_user(conn, &user_id)?)).await?;
    let gmail = &state.config.google.gmail;
    Ok(SettingsPage {
        layout: Layout::signed_in(&user.0, user.is_admin(&state)),
        email: user.0.user.email.clone(),
        mailboxes: list
            .into_iter()
            .map(|m| MailboxRow {
                backfill_days: if m.backfill_days > 0 { m.backfill_days } else { i64::from(gmail.backfill_days) },
                id: m.id,
                address: m.address,
            })
            .collect(),
        server_backfill_days: gmail.backfill_days,
        archive_delay_secs: state.config.sorting.archive_delay.as_secs(),
        is_keeping_inbox: user.0.user.is_keeping_inbox,
        is_labelling: user.0.user.is_labelling,
        is_server_labelling: gmail.is_category_labels_enabled,
    })
}

/// `POST /settings/mailboxes/{id}/backfill`
pub async fn save_backfill(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<FormPairs>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, form.csrf())?;
    let days: i64 = form
        .value("backfill_days")
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("backfill_days", "a number of days, like 7"))?;
    let (user_id, mailbox_id, now) = (user.0.user.id.clone(), path.into_inner(), state.now());
    state.db(move |conn| mailboxes::set_backfill_days(conn, &user_id, &mailbox_id, days, now)).await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/settings")).finish())
}

/// `POST /settings/filing`: how the person's sorted mail is filed (out of the inbox or kept there;
/// with or without category labels).
pub async fn save_filing(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<FormPairs>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, form.csrf())?;
    let is_keeping_inbox = match form.value("inbox") {
        "leave" => false,
        "keep" => true,
        _ => return Err(AppError::invalid("inbox", "choose whether sorted mail leaves the inbox or stays")),
    };
    let is_labelling = form.value("labels") == "on";
    let (user_id, now) = (user.0.user.id.clone(), state.now());
    state.db(move |conn| accounts::set_mail_filing(conn, &user_id, is_keeping_inbox, is_labelling, now)).await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/settings#archiving")).finish())
}

/// `POST /settings/account/delete`: removes the account and all its data, after the person typed
/// their address to confirm. The browser is signed out.
pub async fn delete_account(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<FormPairs>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, form.csrf())?;
    if !form.value("confirm").trim().eq_ignore_ascii_case(&user.0.user.email) {
        return Err(AppError::invalid("confirm", "type your email address to confirm"));
    }
    accounts::delete_account(&state, &user.0.user.id).await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, "/")).cookie(removal_cookie(&state)).finish())
}
