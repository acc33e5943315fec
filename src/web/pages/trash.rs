//! Deleting emails and undoing it: `POST /emails/delete`, `POST /emails/restore`, and `GET /trash`
//! listing what can still be restored (30 days).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::error::AppError;
use crate::services::{emails, trash};
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::CurrentUser;
use crate::web::form::FormPairs;
use crate::web::layout::Layout;

pub struct TrashedRow {
    pub id: String,
    pub from: String,
    pub subject: String,
    pub deleted: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/trash.html")]
pub struct TrashPage {
    layout: Layout,
    rows: Vec<TrashedRow>,
}

pub async fn show(state: web::Data<AppState>, user: CurrentUser) -> Result<TrashPage, AppError> {
    let (user_id, now) = (user.0.user.id.clone(), state.now());
    let emails = state.db(move |conn| trash::list_undoable(conn, &user_id, now)).await?;
    let rows = emails
        .into_iter()
        .map(|e| TrashedRow {
            from: e.from_name.clone().filter(|n| !n.is_empty()).or(e.from_address.clone()).unwrap_or_default(),
            subject: if e.subject.is_empty() { "(no subject)".into() } else { e.subject.clone() },
            deleted: e.trashed_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default(),
            id: e.id,
        })
        .collect();
    let is_admin = user.is_admin(&state);
    Ok(TrashPage { layout: Layout::signed_in(&user.0, is_admin), rows })
}

pub async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<FormPairs>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, form.csrf())?;
    let (user_id, ids, now) = (user.0.user.id.clone(), form.values("ids"), state.now());
    state
        .db(move |conn| {
            // Another user's id answers as one that does not exist, as in the bulk form and the API.
            emails::ensure_all_owned(conn, &user_id, &ids)?;
            trash::trash(conn, &user_id, &ids, now)
        })
        .await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, form.back_or("/trash"))).finish())
}

pub async fn restore(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<FormPairs>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, form.csrf())?;
    let (user_id, ids, now) = (user.0.user.id.clone(), form.values("ids"), state.now());
    let batch = match form.value("deleted_at") {
        "" => None,
        micros => Some(
            micros
                .parse::<i64>()
                .ok()
                .and_then(chrono::DateTime::from_timestamp_micros)
                .ok_or_else(|| AppError::invalid("deleted_at", "this undo link is not valid"))?
                .naive_utc(),
        ),
    };
    state
        .db(move |conn| match batch {
            Some(at) => trash::restore_batch(conn, &user_id, at, now),
            None => {
                emails::ensure_all_owned(conn, &user_id, &ids)?;
                trash::restore(conn, &user_id, &ids, now)
            }
        })
        .await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, form.back_or("/trash"))).finish())
}
