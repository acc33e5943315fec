//! The built-in demo: a sample Maildir mailbox (`corpus`) written into the data directory and added
//! to a user with starter categories, so a newcomer sees mail flow through without any account.

pub mod corpus;

use std::path::Path;

use chrono::NaiveDateTime;

use crate::db::categories::Category;
use crate::db::mailboxes::Mailbox;
use crate::db::{self, DbConn};
use crate::domain::EmailAddress;
use crate::error::AppError;
use crate::jobs::{self, EnqueueOptions, SyncMailbox};
use crate::services::mailboxes;

/// The folder under the data directory that holds the demo mailbox.
pub const FOLDER: &str = "demo-mailbox";

#[derive(Debug, Clone)]
pub struct Installed {
    pub mailbox: Mailbox,
    /// Messages written into the inbox now (0 when the folder existed already).
    pub written: usize,
    /// Starter categories added now (0 when the user had categories).
    pub categories_added: usize,
}

/// Writes the sample mailbox (once) and gives it to the user with `email`, with the starter
/// categories when they have none; a sync starts right away. Running it again changes nothing.
pub fn install(
    conn: &mut DbConn,
    data_dir: &Path,
    email: &EmailAddress,
    now: NaiveDateTime,
) -> Result<Installed, AppError> {
    let folder = data_dir.join(FOLDER);
    let written =
        write_maildir(&folder).map_err(|e| AppError::internal(anyhow::anyhow!("{}: {e}", folder.display())))?;
    let mailbox = mailboxes::add_maildir(conn, email, &folder, now)?;
    db::transaction(conn, |conn| {
        let mut categories_added = 0;
        if db::categories::list_for_user(conn, &mailbox.user_id)?.is_empty() {
            for (position, (name, description)) in corpus::STARTER_CATEGORIES.iter().enumerate() {
                db::categories::insert(
                    conn,
                    &Category {
                        id: db::new_id(),
                        user_id: mailbox.user_id.clone(),
                        name: (*name).to_owned(),
                        name_key: name.to_lowercase(),
                        description: (*description).to_owned(),
                        position: i64::try_from(position).unwrap_or(i64::MAX),
                        gmail_label_ids: "{}".into(),
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                categories_added += 1;
            }
        }
        let sync = SyncMailbox { mailbox_id: mailbox.id.clone() };
        let options = EnqueueOptions { unique_key: Some(SyncMailbox::unique_key(&mailbox.id)), ..Default::default() };
        jobs::enqueue(conn, &sync, options, now)?;
        Ok(Installed { mailbox: mailbox.clone(), written, categories_added })
    })
}

/// Creates the Maildir with every sample message in `new/`, unless the folder exists already (its
/// messages may have been archived or deleted since, and must not come back).
fn write_maildir(folder: &Path) -> std::io::Result<usize> {
    if folder.join("new").is_dir() {
        return Ok(0);
    }
    for sub in ["tmp", "cur"] {
        std::fs::create_dir_all(folder.join(sub))?;
    }
    // Written to a staging new/ and renamed at the end, so a half-written demo is never taken for a whole one.
    let staging = folder.join("tmp").join("new");
    std::fs::create_dir_all(&staging)?;
    for (index, (name, raw)) in corpus::MESSAGES.iter().enumerate() {
        let stem = name.trim_end_matches(".eml");
        std::fs::write(staging.join(format!("{:03}.{stem}.emailgator-demo", index + 1)), raw)?;
    }
    std::fs::rename(&staging, folder.join("new"))?;
    Ok(corpus::MESSAGES.len())
}
