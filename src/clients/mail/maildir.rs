//! Maildir (cur/new/tmp, with Dovecot's Maildir++ folders `.Archive` and `.Trash`): the inbox is the
//! top folder; archiving moves a message into `.Archive`, trashing into `.Trash`. Moves are idempotent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::{FetchedMessage, MailError, MailProvider, NewMessages};

pub const ARCHIVE: &str = ".Archive";
pub const TRASH: &str = ".Trash";

#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    /// Inbox message paths by unique name, from the last listing: looking each message up by
    /// listing the folder again would make a batch import quadratic in the inbox size.
    inbox: Arc<Mutex<Option<HashMap<String, PathBuf>>>>,
}

/// The unique part of a Maildir file name: everything before the `:2,FLAGS` info suffix.
fn unique_name(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or(file_name)
}

fn storage(error: std::io::Error, what: &Path) -> MailError {
    MailError::Storage(format!("{}: {error}", what.display()))
}

impl Maildir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), inbox: Arc::default() }
    }

    fn folder(&self, name: Option<&str>) -> PathBuf {
        name.map_or_else(|| self.root.clone(), |n| self.root.join(n))
    }

    /// Every message file of a folder's `new` and `cur`, as (unique name, path), sorted by name.
    fn messages(&self, folder: Option<&str>) -> Result<Vec<(String, PathBuf)>, MailError> {
        let mut found = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.folder(folder).join(sub);
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound && folder.is_some() => continue,
                Err(error) => return Err(storage(error, &dir)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| storage(e, &dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                found.push((unique_name(&name).to_owned(), entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    fn find(&self, folder: Option<&str>, id: &str) -> Result<Option<PathBuf>, MailError> {
        if folder.is_some() {
            return Ok(self.messages(folder)?.into_iter().find(|(name, _)| name == id).map(|(_, path)| path));
        }
        // Newly delivered mail sits in new/ under its unique name: no listing needed.
        let delivered = self.root.join("new").join(id);
        if delivered.is_file() {
            return Ok(Some(delivered));
        }
        let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(path) = inbox.as_ref().and_then(|index| index.get(id)).filter(|path| path.is_file()) {
            return Ok(Some(path.clone()));
        }
        // Not known or moved since the last listing (a client marked it read): list once more.
        let index: HashMap<String, PathBuf> = self.messages(None)?.into_iter().collect();
        let found = index.get(id).cloned();
        *inbox = Some(index);
        Ok(found)
    }

    /// Moves messages from one folder's new/cur into another's cur, keeping file names. A message
    /// already in the target counts as moved. One in neither place is an error only when
    /// `is_missing_an_error`: a message gone from the inbox is as good as archived or trashed.
    fn relocate(
        &self,
        ids: &[String],
        from: Option<&str>,
        to: Option<&str>,
        is_missing_an_error: bool,
    ) -> Result<(), MailError> {
        let target = self.folder(to);
        for sub in ["cur", "new", "tmp"] {
            let dir = target.join(sub);
            std::fs::create_dir_all(&dir).map_err(|e| storage(e, &dir))?;
        }
        for id in ids {
            match self.find(from, id)? {
                Some(path) => {
                    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    // Files in new/ have no info suffix yet; in cur/ they must have one.
                    let file_name = if file_name.contains(':') { file_name } else { format!("{file_name}:2,S") };
                    let destination = target.join("cur").join(file_name);
                    std::fs::rename(&path, &destination).map_err(|e| storage(e, &destination))?;
                }
                None if !is_missing_an_error || self.find(to, id)?.is_some() => {}
                None => return Err(MailError::MessageGone(id.clone())),
            }
        }
        Ok(())
    }
}

impl MailProvider for Maildir {
    fn list_new<'a>(&'a self, _cursor: Option<&'a str>) -> BoxFuture<'a, Result<NewMessages, MailError>> {
        // Maildir keeps no history: every message still in the inbox is listed, and the database's
        // unique (mailbox, message id) makes the ones already seen no-ops.
        Box::pin(async move {
            let this = self.clone();
            let messages = tokio::task::spawn_blocking(move || this.messages(None))
                .await
                .map_err(|e| MailError::Storage(e.to_string()))??;
            Ok(NewMessages { ids: messages.into_iter().map(|(id, _)| id).collect(), cursor: None })
        })
    }

    fn fetch<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<FetchedMessage, MailError>> {
        Box::pin(async move {
            let (this, id) = (self.clone(), id.to_owned());
            tokio::task::spawn_blocking(move || {
                let path = this.find(None, &id)?.ok_or_else(|| MailError::MessageGone(id.clone()))?;
                let raw = std::fs::read(&path).map_err(|e| storage(e, &path))?;
                let received_at = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .map(|t| DateTime::<Utc>::from(t).naive_utc());
                Ok(FetchedMessage { raw, thread_id: None, labels: Vec::new(), received_at })
            })
            .await
            .map_err(|e| MailError::Storage(e.to_string()))?
        })
    }

    fn archive<'a>(
        &'a self,
        ids: &'a [String],
        _label: Option<&'a str>,
        is_leaving_inbox: bool,
    ) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async move {
            if !is_leaving_inbox {
                return Ok(());
            }
            self.relocate(ids, None, Some(ARCHIVE), false)
        })
    }

    fn trash<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Result<(), MailError>> {
        // From the inbox, or from the archive once it was sorted.
        Box::pin(async move {
            self.relocate(ids, None, Some(TRASH), false)?;
            self.relocate(ids, Some(ARCHIVE), Some(TRASH), false)
        })
    }

    fn untrash<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Result<(), MailError>> {
        // Like Gmail: out of the trash into the archive, since EmailGator keeps the inbox empty.
        Box::pin(async move { self.relocate(ids, Some(TRASH), Some(ARCHIVE), true) })
    }

    fn send<'a>(&'a self, _raw: &'a [u8]) -> BoxFuture<'a, Result<String, MailError>> {
        Box::pin(async { Err(MailError::Unsupported("a Maildir mailbox cannot send mail")) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maildir_with(messages: &[(&str, &str)]) -> (tempfile::TempDir, Maildir) {
        let dir = tempfile::tempdir().expect("dir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        for (name, body) in messages {
            let sub = if name.contains(':') { "cur" } else { "new" };
            std::fs::write(dir.path().join(sub).join(name), body).expect("write");
        }
        let maildir = Maildir::new(dir.path());
        (dir, maildir)
    }

    #[tokio::test]
    async fn lists_new_and_cur_by_unique_name() {
        let (_dir, maildir) = maildir_with(&[("1700.a.host", "Subject: a\r\n\r\na"), ("1600.b.host:2,S", "x")]);
        let new = maildir.list_new(None).await.expect("list");
        assert_eq!(new.ids, ["1600.b.host", "1700.a.host"]);
        assert_eq!(new.cursor, None);
        assert_eq!(maildir.fetch("1700.a.host").await.expect("fetch").raw, b"Subject: a\r\n\r\na");
    }

    #[tokio::test]
    async fn archive_trash_and_untrash_move_files_and_repeat_safely() {
        let (dir, maildir) = maildir_with(&[("1.a.host", "a"), ("2.b.host:2,", "b")]);
        let ids = ["1.a.host".to_owned(), "2.b.host".to_owned()];
        maildir.archive(&ids[..1], Some("EmailGator/News"), true).await.expect("archive");
        maildir.archive(&ids[..1], None, true).await.expect("archiving again is a no-op");
        assert!(dir.path().join(".Archive/cur/1.a.host:2,S").exists());
        maildir.trash(&ids[1..]).await.expect("trash");
        assert!(dir.path().join(".Trash/cur/2.b.host:2,").exists());
        assert_eq!(maildir.list_new(None).await.expect("list").ids, Vec::<String>::new());
        maildir.untrash(&ids[1..]).await.expect("untrash");
        assert!(dir.path().join(".Archive/cur/2.b.host:2,").exists(), "restored into the archive");
        maildir.trash(&ids[..1]).await.expect("trash an archived message");
        assert!(dir.path().join(".Trash/cur/1.a.host:2,S").exists());
        assert!(!dir.path().join(".Archive/cur/1.a.host:2,S").exists());
    }

    #[tokio::test]
    async fn a_message_a_mail_client_moved_to_cur_after_listing_is_still_found() {
        let (dir, maildir) = maildir_with(&[("9.c.host", "c"), ("8.d.host:2,", "d")]);
        assert_eq!(maildir.fetch("8.d.host").await.expect("fetch from cur").raw, b"d");
        std::fs::rename(dir.path().join("new/9.c.host"), dir.path().join("cur/9.c.host:2,S")).expect("mark read");
        assert_eq!(maildir.fetch("9.c.host").await.expect("fetch after the move").raw, b"c");
    }

    #[tokio::test]
    async fn a_missing_message_is_gone_for_fetch_and_untrash_and_done_for_trash() {
        let (_dir, maildir) = maildir_with(&[]);
        assert_eq!(maildir.fetch("nope").await, Err(MailError::MessageGone("nope".into())));
        assert_eq!(maildir.trash(&["nope".to_owned()]).await, Ok(()), "not in the inbox is as good as trashed");
        assert_eq!(maildir.untrash(&["nope".to_owned()]).await, Err(MailError::MessageGone("nope".into())));
        assert!(maildir.send(b"x").await.is_err());
    }

    #[tokio::test]
    async fn a_missing_inbox_is_a_storage_error() {
        let maildir = Maildir::new("/nonexistent/emailgator-maildir");
        assert!(matches!(maildir.list_new(None).await, Err(MailError::Storage(_))));
    }
}
