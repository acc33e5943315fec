//! Mailboxes: adding a Maildir mailbox (operators only, from the command line: users must never
//! name server paths) and changing a mailbox's status.

use std::path::Path;

use chrono::NaiveDateTime;
use secrecy::SecretString;

use crate::db::mailboxes::Mailbox;
use crate::db::users::User;
use crate::db::{self, DbConn};
use crate::domain::EmailAddress;
use crate::encryption::{Keyring, Sealed, context};
use crate::error::AppError;
use crate::jobs::{self, EnqueueOptions, SyncAgain, SyncMailbox};

/// Adds the Maildir at `path` to the user with `email` (created if new); adding the same folder
/// again returns the existing mailbox.
pub fn add_maildir(
    conn: &mut DbConn,
    email: &EmailAddress,
    path: &Path,
    now: NaiveDateTime,
) -> Result<Mailbox, AppError> {
    let folder = path.canonicalize().map_err(|e| AppError::invalid("path", format!("{}: {e}", path.display())))?;
    if !["cur", "new"].iter().all(|sub| folder.join(sub).is_dir()) {
        return Err(AppError::invalid("path", format!("{} is not a Maildir (no cur/ and new/)", folder.display())));
    }
    let folder_text = folder.to_string_lossy().into_owned();
    let address = format!("maildir:{folder_text}");
    db::transaction(conn, |conn| {
        let user = match db::users::find_by_email(conn, email.as_str())? {
            Some(user) => user,
            None => {
                let user = User {
                    id: db::new_id(),
                    email: email.as_str().to_owned(),
                    name: email.as_str().split('@').next().unwrap_or_default().to_owned(),
                    is_admin: false,
                    ai_settings: "{}".into(),
                    created_at: now,
                    updated_at: now,
                    google_subject: None,
                    is_keeping_inbox: false,
                    is_labelling: true,
                };
                db::users::insert(conn, &user)?;
                user
            }
        };
        if let Some(existing) = db::mailboxes::find_by_address(conn, &user.id, &address)? {
            return Ok(existing);
        }
        let mailbox = Mailbox {
            id: db::new_id(),
            user_id: user.id,
            kind: "maildir".into(),
            address,
            encrypted_access_token: None,
            encrypted_refresh_token: None,
            token_key_id: None,
            token_expires_at: None,
            granted_scopes: String::new(),
            sync_cursor: None,
            status: "active".into(),
            rate_limited_until: None,
            last_synced_at: None,
            last_error: None,
            backfill_days: 7,
            created_at: now,
            updated_at: now,
            maildir_path: Some(folder_text),
        };
        db::mailboxes::insert(conn, &mailbox)?;
        Ok(mailbox)
    })
}

/// A mailbox's OAuth tokens, in the clear: only ever held in memory.
pub struct Tokens {
    pub access: Option<SecretString>,
    pub refresh: Option<SecretString>,
    pub expires_at: Option<NaiveDateTime>,
}

/// Seals and stores a mailbox's tokens with the newest key.
pub fn store_tokens(
    conn: &mut DbConn,
    keyring: &Keyring,
    mailbox_id: &str,
    tokens: &Tokens,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let seal = |secret: &Option<SecretString>, column: &str| -> Result<Option<Sealed>, AppError> {
        secret
            .as_ref()
            .map(|s| keyring.seal(s, &context("mailboxes", mailbox_id, column)))
            .transpose()
            .map_err(AppError::internal)
    };
    let access = seal(&tokens.access, "access_token")?;
    let refresh = seal(&tokens.refresh, "refresh_token")?;
    let key_id = keyring.newest_id().ok_or_else(|| AppError::internal(anyhow::anyhow!("no encryption key")))?;
    db::mailboxes::set_tokens(
        conn,
        mailbox_id,
        access.as_ref().map(|s| s.text.as_str()),
        refresh.as_ref().map(|s| s.text.as_str()),
        key_id,
        tokens.expires_at,
        now,
    )?;
    Ok(())
}

/// Opens a mailbox's stored tokens.
pub fn load_tokens(keyring: &Keyring, mailbox: &Mailbox) -> Result<Tokens, AppError> {
    let open = |text: &Option<String>, column: &str| -> Result<Option<SecretString>, AppError> {
        match (text, &mailbox.token_key_id) {
            (Some(text), Some(key_id)) => keyring
                .open(
                    &Sealed { key_id: key_id.clone(), text: text.clone() },
                    &context("mailboxes", &mailbox.id, column),
                )
                .map(Some)
                .map_err(AppError::internal),
            _ => Ok(None),
        }
    };
    Ok(Tokens {
        access: open(&mailbox.encrypted_access_token, "access_token")?,
        refresh: open(&mailbox.encrypted_refresh_token, "refresh_token")?,
        expires_at: mailbox.token_expires_at,
    })
}

/// Seals every mailbox's tokens again with the newest key; returns how many mailboxes changed.
pub fn reencrypt_tokens(conn: &mut DbConn, keyring: &Keyring, now: NaiveDateTime) -> Result<usize, AppError> {
    let Some(newest) = keyring.newest_id() else { return Ok(0) };
    let outdated = db::mailboxes::list_with_outdated_key(conn, newest)?;
    let count = outdated.len();
    for mailbox in outdated {
        let tokens = load_tokens(keyring, &mailbox)?;
        db::transaction(conn, |conn| store_tokens(conn, keyring, &mailbox.id, &tokens, now))?;
    }
    Ok(count)
}

/// The user's own mailbox; someone else's is "not found".
pub fn find_owned(conn: &mut DbConn, user_id: &str, mailbox_id: &str) -> Result<Mailbox, AppError> {
    db::mailboxes::find(conn, mailbox_id)?.filter(|m| m.user_id == user_id).ok_or(AppError::NotFound)
}

/// "Sync now": queues a sync unless one is already waiting; while one runs, queues one more to
/// follow it (the running one may have asked the provider before the awaited mail arrived).
pub fn request_sync(conn: &mut DbConn, user_id: &str, mailbox_id: &str, now: NaiveDateTime) -> Result<(), AppError> {
    let mailbox = find_owned(conn, user_id, mailbox_id)?;
    if mailbox.status != "active" {
        return Err(AppError::Conflict("This mailbox is not connected; reconnect it first.".into()));
    }
    let sync = SyncMailbox { mailbox_id: mailbox.id.clone() };
    let options = EnqueueOptions { unique_key: Some(SyncMailbox::unique_key(&mailbox.id)), ..Default::default() };
    if jobs::enqueue(conn, &sync, options, now)?.is_none()
        && db::jobs::is_running_with_key(conn, &SyncMailbox::unique_key(&mailbox.id))?
    {
        let again = SyncAgain { mailbox_id: mailbox.id.clone() };
        let options = EnqueueOptions { unique_key: Some(SyncAgain::unique_key(&mailbox.id)), ..Default::default() };
        jobs::enqueue(conn, &again, options, now)?;
    }
    Ok(())
}

/// Ends a connection after the grant was revoked (or revoking failed, `revoke_problem`): the tokens
/// are deleted; the emails stay (the mailbox shows as disconnected) or go with the mailbox.
pub fn finish_disconnect(
    conn: &mut DbConn,
    user_id: &str,
    mailbox_id: &str,
    is_removing_emails: bool,
    revoke_problem: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    db::transaction(conn, |conn| {
        let mailbox = find_owned(conn, user_id, mailbox_id)?;
        if is_removing_emails {
            db::mailboxes::delete(conn, &mailbox.id)?;
            return Ok(());
        }
        db::mailboxes::disconnect(conn, &mailbox.id, now)?;
        if let Some(problem) = revoke_problem {
            let note = format!(
                "Disconnected, but Google could not be told ({problem}); remove EmailGator under \"Third-party \
                 apps\" in your Google account."
            );
            db::mailboxes::record_error(conn, &mailbox.id, &note, now)?;
        }
        Ok(())
    })
}

/// The mailbox's backfill window: how many days of mail a first (or restarted) sync brings in.
pub fn set_backfill_days(
    conn: &mut DbConn,
    user_id: &str,
    mailbox_id: &str,
    days: i64,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let max = crate::clients::mail::gmail::MAX_BACKFILL_DAYS;
    if !(1..=max).contains(&days) {
        return Err(AppError::invalid("backfill_days", format!("choose between 1 and {max} days")));
    }
    let mailbox = find_owned(conn, user_id, mailbox_id)?;
    db::mailboxes::set_backfill_days(conn, &mailbox.id, days, now)?;
    Ok(())
}
