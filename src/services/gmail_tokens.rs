//! Access tokens for Gmail mailboxes: read sealed from the database, refreshed against the configured
//! token endpoint a few minutes before they expire, one refresh in flight per mailbox. A refused
//! grant (`invalid_grant`) marks the mailbox *needs reconnect*; network trouble and 5xx never do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};

use crate::clients::google::{GoogleError, GoogleOAuth};
use crate::clients::mail::MailError;
use crate::clients::mail::gmail::AccessTokens;
use crate::clock::Clock;
use crate::db::{self, DbPool};
use crate::encryption::Keyring;
use crate::error::AppError;
use crate::services::mailboxes::{self, Tokens};

/// Tokens are refreshed this long before they expire.
const REFRESH_AHEAD: chrono::Duration = chrono::Duration::minutes(5);

pub struct GmailTokens {
    pool: DbPool,
    keyring: Keyring,
    oauth: GoogleOAuth,
    clock: Arc<dyn Clock>,
    /// One refresh at a time per mailbox: callers that waited find the fresh token stored.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl GmailTokens {
    pub fn new(pool: DbPool, keyring: Keyring, oauth: GoogleOAuth, clock: Arc<dyn Clock>) -> GmailTokens {
        GmailTokens { pool, keyring, oauth, clock, locks: Mutex::default() }
    }

    fn lock_for(&self, mailbox_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(mailbox_id.to_owned()).or_default().clone()
    }

    async fn db<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut db::DbConn) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, MailError> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(AppError::from)?;
            work(&mut conn)
        })
        .await
        .map_err(|e| MailError::Storage(e.to_string()))?
        .map_err(|e| MailError::Storage(e.to_string()))
    }

    async fn token(&self, mailbox_id: &str, rejected: Option<&SecretString>) -> Result<SecretString, MailError> {
        let lock = self.lock_for(mailbox_id);
        let _one_at_a_time = lock.lock().await;
        let (keyring, id) = (self.keyring.clone(), mailbox_id.to_owned());
        let (status, tokens) = self
            .db(move |conn| {
                let mailbox = db::mailboxes::find(conn, &id)?.ok_or(AppError::NotFound)?;
                let tokens = mailboxes::load_tokens(&keyring, &mailbox)?;
                Ok((mailbox.status, tokens))
            })
            .await?;
        if status == "needs_reconnect" {
            return Err(MailError::TokenRevoked);
        }
        let Some(refresh_token) = tokens.refresh.clone() else { return Err(MailError::TokenRevoked) };
        let now = self.clock.now();
        let is_valid = tokens.expires_at.is_some_and(|at| at > now + REFRESH_AHEAD);
        // After a 401, a token other than the rejected one was refreshed by another caller meanwhile.
        let is_rejected = |access: &SecretString| rejected.is_some_and(|r| r.expose_secret() == access.expose_secret());
        if let Some(access) = tokens.access.clone()
            && (is_valid || rejected.is_some())
            && !is_rejected(&access)
        {
            return Ok(access);
        }
        match self.oauth.refresh(&refresh_token).await {
            Ok(response) => {
                let expires_at = now + chrono::Duration::seconds(response.expires_in.unwrap_or(3600));
                let fresh = Tokens {
                    access: Some(response.access_token.clone()),
                    // Google may rotate the refresh token; keep the old one otherwise.
                    refresh: Some(response.refresh_token.clone().unwrap_or(refresh_token)),
                    expires_at: Some(expires_at),
                };
                self.store(mailbox_id, fresh, now).await?;
                Ok(response.access_token)
            }
            Err(GoogleError::InvalidGrant(why)) => {
                tracing::warn!(mailbox_id, why, "Google refused the refresh token; the mailbox needs a reconnect");
                let id = mailbox_id.to_owned();
                self.db(move |conn| {
                    db::mailboxes::set_status(conn, &id, "needs_reconnect", now)?;
                    db::mailboxes::record_error(
                        conn,
                        &id,
                        "Google no longer lets EmailGator read this mailbox (access was removed or expired). \
                         Reconnect it to continue.",
                        now,
                    )?;
                    Ok(())
                })
                .await?;
                Err(MailError::TokenRevoked)
            }
            Err(GoogleError::Unavailable(why)) => Err(MailError::Unreachable(why)),
            Err(error) => Err(MailError::Rejected { status: 400, reason: error.to_string() }),
        }
    }

    async fn store(&self, mailbox_id: &str, tokens: Tokens, now: NaiveDateTime) -> Result<(), MailError> {
        let (keyring, id) = (self.keyring.clone(), mailbox_id.to_owned());
        self.db(move |conn| db::transaction(conn, |conn| mailboxes::store_tokens(conn, &keyring, &id, &tokens, now)))
            .await
    }
}

impl AccessTokens for GmailTokens {
    fn access_token<'a>(
        &'a self,
        mailbox_id: &'a str,
        rejected: Option<&'a SecretString>,
    ) -> BoxFuture<'a, Result<SecretString, MailError>> {
        Box::pin(self.token(mailbox_id, rejected))
    }
}
