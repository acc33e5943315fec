//! Mailboxes: adding a Maildir mailbox (operators only, from the command line: users must never
//! name server paths) and changing a mailbox's status.

use std::path::Path;

use chrono::NaiveDateTime;

use crate::db::mailboxes::Mailbox;
use crate::db::users::User;
use crate::db::{self, DbConn};
use crate::domain::EmailAddress;
use crate::error::AppError;

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
