//! The person's account: how their sorted mail is filed, and ending things: disconnecting a mailbox
//! (revoke the Google grant, drop the tokens, keep or remove the emails) and removing a person's
//! account with all their data. Those talk to Google as well as the database, so they take the
//! application state.

use chrono::NaiveDateTime;

use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::services::mailboxes;
use crate::state::AppState;

/// Whether the user's sorted mail stays in the inbox, and whether it gets category labels; for mail
/// sorted from now on.
pub fn set_mail_filing(
    conn: &mut DbConn,
    user_id: &str,
    is_keeping_inbox: bool,
    is_labelling: bool,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    db::users::set_mail_filing(conn, user_id, is_keeping_inbox, is_labelling, now)?;
    Ok(())
}

/// Disconnects the user's mailbox. A failed revocation does not stop it: it is logged and shown on
/// the mailbox so the person can remove the grant in their Google account by hand.
pub async fn disconnect_mailbox(
    state: &AppState,
    user_id: &str,
    mailbox_id: &str,
    is_removing_emails: bool,
) -> Result<(), AppError> {
    let (keyring, owner, id) = (state.keyring.clone(), user_id.to_owned(), mailbox_id.to_owned());
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
    let (owner, id, now) = (user_id.to_owned(), mailbox_id.to_owned(), state.now());
    state
        .db(move |conn| {
            mailboxes::finish_disconnect(conn, &owner, &id, is_removing_emails, revoke_problem.as_deref(), now)
        })
        .await?;
    tracing::info!(mailbox_id, is_removing_emails, "mailbox disconnected");
    Ok(())
}

/// Removes the person and everything of theirs: every Gmail grant is revoked first, then one delete
/// takes the user row and, through the foreign keys, sessions, tokens, mailboxes, emails,
/// categories, what the sorter learned, AI usage and unsubscribe history. Gmail keeps the mail.
pub async fn delete_account(state: &AppState, user_id: &str) -> Result<(), AppError> {
    let owner = user_id.to_owned();
    let mailbox_ids: Vec<String> = state
        .db(move |conn| Ok(crate::db::mailboxes::list_for_user(conn, &owner)?.into_iter().map(|m| m.id).collect()))
        .await?;
    for mailbox_id in mailbox_ids {
        disconnect_mailbox(state, user_id, &mailbox_id, true).await?;
    }
    let owner = user_id.to_owned();
    state.db(move |conn| Ok(crate::db::users::delete(conn, &owner)?)).await?;
    tracing::info!(user_id, "account deleted with all its data");
    Ok(())
}
