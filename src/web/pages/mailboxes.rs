//! Mailbox actions from the dashboard: "Sync now", "Disconnect" and the demo mailbox (connecting
//! Gmail is in `google`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::demo;
use crate::domain::EmailAddress;
use crate::error::AppError;
use crate::services::mailboxes;
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::CurrentUser;

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

#[derive(Deserialize)]
pub struct DisconnectForm {
    csrf: String,
    /// `keep` or `remove`.
    emails: String,
}

fn back_home() -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, "/")).finish()
}

/// `POST /mailboxes/{id}/sync`
pub async fn sync_now(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, &form.csrf)?;
    let (user_id, mailbox_id, now) = (user.0.user.id.clone(), path.into_inner(), state.now());
    state.db(move |conn| mailboxes::request_sync(conn, &user_id, &mailbox_id, now)).await?;
    Ok(back_home())
}

/// `POST /mailboxes/{id}/disconnect`: revokes the grant at Google, deletes the tokens, and keeps or
/// removes the imported emails.
pub async fn disconnect(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<DisconnectForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, &form.csrf)?;
    let is_removing_emails = match form.emails.as_str() {
        "keep" => false,
        "remove" => true,
        _ => return Err(AppError::invalid("emails", "choose whether to keep or remove the emails")),
    };
    disconnect_account(&state, user.0.user.id.clone(), path.into_inner(), is_removing_emails).await?;
    Ok(back_home())
}

/// Disconnects the user's mailbox: revokes the grant at Google (a failure is noted on the mailbox,
/// not fatal), deletes the tokens, and keeps or removes the emails. The one recipe behind the
/// dashboard's Disconnect and the API's `disconnectAccount`.
pub async fn disconnect_account(
    state: &AppState,
    user_id: String,
    mailbox_id: String,
    is_removing_emails: bool,
) -> Result<(), AppError> {
    let now = state.now();
    let (keyring, owner, id) = (state.keyring.clone(), user_id.clone(), mailbox_id.clone());
    let (mailbox, tokens) = state
        .db(move |conn| {
            let mailbox = mailboxes::find_owned(conn, &owner, &id)?;
            let tokens = mailboxes::load_tokens(&keyring, &mailbox)?;
            Ok((mailbox, tokens))
        })
        .await?;
    let mut revoke_problem = None;
    if let (Some(google), Some(token)) = (&state.google, tokens.refresh.or(tokens.access))
        && let Err(error) = google.revoke(&token).await
    {
        tracing::warn!(mailbox_id = mailbox.id, %error, "could not revoke the Google grant");
        revoke_problem = Some(error.to_string());
    }
    if let Some(gmail) = state.mail.gmail() {
        gmail.forget(&mailbox.id);
    }
    state
        .db(move |conn| {
            mailboxes::finish_disconnect(
                conn,
                &user_id,
                &mailbox_id,
                is_removing_emails,
                revoke_problem.as_deref(),
                now,
            )
        })
        .await?;
    tracing::info!(mailbox_id = mailbox.id, is_removing_emails, "mailbox disconnected");
    Ok(())
}

/// `POST /demo`: the sample mailbox for the signed-in user, offered on an empty dashboard in local
/// mode (no Google sign-in: the server's owner is the only user).
pub async fn load_demo(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, &form.csrf)?;
    if state.google.is_some() {
        return Err(AppError::Forbidden("the demo is for local mode"));
    }
    let email = EmailAddress::parse(&user.0.user.email).map_err(|_| AppError::invalid("email", "not an address"))?;
    let (data_dir, now) = (state.config.data_dir.clone(), state.now());
    let installed = state.db(move |conn| demo::install(conn, &data_dir, &email, now)).await?;
    tracing::info!(mailbox_id = installed.mailbox.id, written = installed.written, "demo mailbox loaded");
    Ok(back_home())
}
