//! The remote `Unsubscriber`: the HTTP client of `emailgator sidecar`, which runs the same agent
//! in another process (so ops can scale browsers apart from the app).

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{AttemptReport, AttemptRequest, Unsubscriber, UnsubscriberError};
use crate::config::UnsubscribeConfig;

/// The sidecar's endpoint for one attempt.
pub const ATTEMPT_PATH: &str = "/v1/attempts";

pub struct RemoteUnsubscriber {
    endpoint: Url,
    token: SecretString,
    client: reqwest::Client,
}

impl RemoteUnsubscriber {
    pub fn new(base: Url, token: SecretString, settings: &UnsubscribeConfig) -> RemoteUnsubscriber {
        crate::startup::install_tls_provider();
        let endpoint = base.join(ATTEMPT_PATH).unwrap_or(base);
        // The sidecar may queue an attempt behind others: allow for its whole run and some waiting.
        let timeout = settings.attempt_timeout * 3;
        let client = reqwest::Client::builder().timeout(timeout).build().unwrap_or_default();
        RemoteUnsubscriber { endpoint, token, client }
    }
}

impl Unsubscriber for RemoteUnsubscriber {
    fn attempt<'a>(&'a self, request: &'a AttemptRequest) -> BoxFuture<'a, Result<AttemptReport, UnsubscriberError>> {
        Box::pin(async move {
            let response = self
                .client
                .post(self.endpoint.clone())
                .bearer_auth(self.token.expose_secret())
                .json(request)
                .send()
                .await
                .map_err(|e| UnsubscriberError::Unavailable(e.to_string()))?;
            let status = response.status();
            if status.is_success() {
                return response
                    .json::<AttemptReport>()
                    .await
                    .map_err(|e| UnsubscriberError::Unavailable(e.to_string()));
            }
            let text = response.text().await.unwrap_or_default().chars().take(200).collect::<String>();
            if status.is_server_error() || status.as_u16() == 429 {
                Err(UnsubscriberError::Unavailable(format!("HTTP {status}: {text}")))
            } else {
                Err(UnsubscriberError::Rejected(format!("HTTP {status}: {text}")))
            }
        })
    }
}
