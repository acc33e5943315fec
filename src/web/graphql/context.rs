//! The per-request context: who is asking, the application state, and what a request loads once
//! and shares between resolvers (the user's mailboxes, categories and category counts), so a list
//! of emails with their accounts and categories costs the same few queries at any length.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::NaiveDateTime;
use tokio::sync::Mutex;

use crate::db::DbConn;
use crate::db::categories::Category;
use crate::db::mailboxes::Mailbox;
use crate::db::users::User;
use crate::error::AppError;
use crate::services::dashboard;
use crate::state::AppState;

/// Emails one request may list in all, across every connection it selects (aliases included): the
/// complexity budget the depth and field limits cannot express.
pub const MAX_EMAILS_PER_REQUEST: i64 = 1_000;

/// Loaded at most once per request; concurrent resolvers wait for the first load.
type Loaded<T> = Mutex<Option<Arc<T>>>;

pub struct Context {
    pub state: AppState,
    pub user: User,
    pub is_admin: bool,
    /// One clock reading per request, so every resolver sees the same "now".
    pub now: NaiveDateTime,
    mailboxes: Loaded<Vec<Mailbox>>,
    categories: Loaded<Vec<Category>>,
    counts: Loaded<HashMap<String, (i64, i64)>>,
    emails_left: AtomicI64,
}

impl juniper::Context for Context {}

impl Context {
    pub fn new(state: AppState, user: User) -> Self {
        let now = state.now();
        let is_admin = user.is_admin || state.config.is_admin_email(&user.email);
        Self {
            state,
            user,
            is_admin,
            now,
            mailboxes: Mutex::default(),
            categories: Mutex::default(),
            counts: Mutex::default(),
            emails_left: AtomicI64::new(MAX_EMAILS_PER_REQUEST),
        }
    }

    pub fn user_id(&self) -> String {
        self.user.id.clone()
    }

    /// Runs database work for this user on the blocking pool.
    pub async fn db<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, &str) -> Result<T, AppError> + Send + 'static,
    {
        let user_id = self.user_id();
        self.state.db(move |conn| work(conn, &user_id)).await
    }

    /// The user's mailboxes, in dashboard order.
    pub async fn mailboxes(&self) -> Result<Arc<Vec<Mailbox>>, AppError> {
        load_once(&self.mailboxes, || self.db(|conn, user_id| Ok(crate::db::mailboxes::list_for_user(conn, user_id)?)))
            .await
    }

    /// The user's categories, in dashboard order.
    pub async fn categories(&self) -> Result<Arc<Vec<Category>>, AppError> {
        load_once(&self.categories, || {
            self.db(|conn, user_id| Ok(crate::db::categories::list_for_user(conn, user_id)?))
        })
        .await
    }

    /// Category id → (emails, new in the last 24 hours) for every category of the user.
    pub async fn category_counts(&self) -> Result<Arc<HashMap<String, (i64, i64)>>, AppError> {
        let categories = self.categories().await?;
        let now = self.now;
        load_once(&self.counts, || {
            let ids: Vec<String> = categories.iter().map(|c| c.id.clone()).collect();
            self.db(move |conn, _| dashboard::count_emails(conn, &ids, now))
        })
        .await
    }

    /// Drops what was loaded, after a mutation changed categories or mailboxes: a later field of
    /// the same request sees the change.
    pub async fn forget_loaded(&self) {
        *self.mailboxes.lock().await = None;
        *self.categories.lock().await = None;
        *self.counts.lock().await = None;
    }

    /// Takes `count` emails from the request's budget, or refuses the field.
    pub fn spend_emails(&self, count: i64) -> Result<(), AppError> {
        let before = self.emails_left.fetch_sub(count, Ordering::SeqCst);
        if before < count {
            return Err(AppError::invalid(
                "first",
                format!("one request may list at most {MAX_EMAILS_PER_REQUEST} emails; ask for fewer or page"),
            ));
        }
        Ok(())
    }
}

async fn load_once<T, F, Fut>(slot: &Loaded<T>, load: F) -> Result<Arc<T>, AppError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, AppError>>,
{
    let mut guard = slot.lock().await;
    if let Some(loaded) = guard.as_ref() {
        return Ok(loaded.clone());
    }
    let loaded = Arc::new(load().await?);
    *guard = Some(loaded.clone());
    Ok(loaded)
}
