//! `AppState`: what request handlers and jobs share, built once by `startup`.

use std::sync::Arc;

use crate::clients::google::GoogleOAuth;
use crate::clients::mail::MailProviders;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{DbConn, DbPool};
use crate::encryption::Keyring;
use crate::error::AppError;
use crate::jobs::cron::Leadership;
use crate::web::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub leadership: Leadership,
    /// The address people use, for links and the Origin check.
    pub public_url: url::Url,
    /// `None` without a Google OAuth client: local sign-in only.
    pub google: Option<GoogleOAuth>,
    pub keyring: Keyring,
    pub mail: MailProviders,
}

impl AppState {
    /// Runs synchronous database work off the async threads with a pooled connection.
    pub async fn db<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await
        .map_err(AppError::internal)?
    }

    pub fn now(&self) -> chrono::NaiveDateTime {
        self.clock.now()
    }
}
