//! Google OAuth 2.0 / OpenID Connect against the configured endpoints: the authorization URL (PKCE
//! S256), the code exchange, refresh, revocation and userinfo. The endpoints come from configuration
//! so the test suite can point them at its fake Google.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::GoogleConfig;

/// The sign-in scopes.
pub const SIGN_IN_SCOPES: &[&str] = &["openid", "email", "profile"];
/// Reading, labelling, trashing and sending: what EmailGator needs of a connected Gmail account.
pub const GMAIL_MODIFY: &str = "https://www.googleapis.com/auth/gmail.modify";
/// The connect scopes: Gmail plus the address it belongs to.
pub const CONNECT_SCOPES: &[&str] = &["openid", "email", GMAIL_MODIFY];

/// What the authorization request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    SignIn,
    /// Offline access to Gmail, with a fresh refresh token every time.
    ConnectGmail,
}

/// A PKCE pair: the verifier stays with us, the S256 challenge goes to Google.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn generate() -> Pkce {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = Self::challenge_for(&verifier);
        Pkce { verifier, challenge }
    }

    pub fn challenge_for(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }
}

/// Tokens from the token endpoint.
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Space-separated granted scopes.
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    pub fn granted_scopes(&self) -> Vec<String> {
        self.scope.as_deref().unwrap_or_default().split_whitespace().map(str::to_owned).collect()
    }
}

/// The signed-in Google account.
#[derive(Debug, Clone, Deserialize)]
pub struct UserInfo {
    pub sub: String,
    pub email: String,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub name: Option<String>,
}

/// Why a call to Google failed, and so what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoogleError {
    /// The code or refresh token is no good (used, expired, revoked): the person must consent again.
    #[error("Google no longer accepts this grant ({0})")]
    InvalidGrant(String),
    /// Google refused the request itself (bad client settings, bad request).
    #[error("Google refused the request: {0}")]
    Rejected(String),
    /// Network trouble or a 5xx: try again later; never a revocation.
    #[error("Google could not be reached: {0}")]
    Unavailable(String),
    #[error("Google sign-in is not configured")]
    NotConfigured,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The OAuth client for one EmailGator installation.
#[derive(Clone)]
pub struct GoogleOAuth {
    http: reqwest::Client,
    client_id: String,
    client_secret: SecretString,
    redirect_url: Url,
    auth_url: Url,
    token_url: Url,
    revoke_url: Url,
    userinfo_url: Url,
}

impl GoogleOAuth {
    /// `None` when no OAuth client is configured (local sign-in only).
    pub fn from_config(config: &GoogleConfig, public_url: &Url) -> Option<GoogleOAuth> {
        let (client_id, client_secret) = (config.client_id.clone()?, config.client_secret.clone()?);
        let redirect_url = config.redirect_url.clone().unwrap_or_else(|| {
            let mut url = public_url.clone();
            url.set_path("/auth/google/callback");
            url
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .ok()?;
        Some(GoogleOAuth {
            http,
            client_id,
            client_secret,
            redirect_url,
            auth_url: config.auth_url.clone(),
            token_url: config.token_url.clone(),
            revoke_url: config.revoke_url.clone(),
            userinfo_url: config.userinfo_url.clone(),
        })
    }

    /// Where to send the browser to ask for consent.
    pub fn authorize_url(&self, consent: Consent, state: &str, pkce: &Pkce, login_hint: Option<&str>) -> Url {
        let mut url = self.auth_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", self.redirect_url.as_str())
                .append_pair("response_type", "code")
                .append_pair("state", state)
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256");
            match consent {
                Consent::SignIn => {
                    query.append_pair("scope", &SIGN_IN_SCOPES.join(" ")).append_pair("prompt", "select_account");
                }
                Consent::ConnectGmail => {
                    // `prompt=consent` makes Google issue a refresh token even on a reconnect.
                    query
                        .append_pair("scope", &CONNECT_SCOPES.join(" "))
                        .append_pair("access_type", "offline")
                        .append_pair("prompt", "consent");
                }
            }
            if let Some(hint) = login_hint {
                query.append_pair("login_hint", hint);
            }
        }
        url
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(&self, code: &str, verifier: &str) -> Result<TokenResponse, GoogleError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_url.as_str()),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// A new access token for a refresh token.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenResponse, GoogleError> {
        self.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose_secret())]).await
    }

    async fn token_request(&self, fields: &[(&str, &str)]) -> Result<TokenResponse, GoogleError> {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("client_id", &self.client_id));
        form.push(("client_secret", self.client_secret.expose_secret()));
        let response = self.http.post(self.token_url.clone()).form(&form).send().await.map_err(unavailable)?;
        let status = response.status();
        if status.is_success() {
            return response.json::<TokenResponse>().await.map_err(|e| GoogleError::Unavailable(e.to_string()));
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(GoogleError::Unavailable(format!("the token endpoint answered {status}")));
        }
        let body = response.json::<ErrorBody>().await.ok();
        match body {
            Some(body) if body.error == "invalid_grant" => {
                Err(GoogleError::InvalidGrant(body.error_description.unwrap_or(body.error)))
            }
            Some(body) => Err(GoogleError::Rejected(match body.error_description {
                Some(description) => format!("{}: {description}", body.error),
                None => body.error,
            })),
            None => Err(GoogleError::Rejected(format!("the token endpoint answered {status}"))),
        }
    }

    /// Revokes a grant (a refresh token revokes the whole grant). An already-invalid token counts as revoked.
    pub async fn revoke(&self, token: &SecretString) -> Result<(), GoogleError> {
        let response = self
            .http
            .post(self.revoke_url.clone())
            .form(&[("token", token.expose_secret())])
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        if status.is_success() || status.as_u16() == 400 {
            Ok(())
        } else if status.is_server_error() {
            Err(GoogleError::Unavailable(format!("the revocation endpoint answered {status}")))
        } else {
            Err(GoogleError::Rejected(format!("the revocation endpoint answered {status}")))
        }
    }

    /// The account behind an access token.
    pub async fn userinfo(&self, access_token: &SecretString) -> Result<UserInfo, GoogleError> {
        let response = self
            .http
            .get(self.userinfo_url.clone())
            .bearer_auth(access_token.expose_secret())
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        if status.is_success() {
            response.json::<UserInfo>().await.map_err(|e| GoogleError::Unavailable(e.to_string()))
        } else if status.is_server_error() {
            Err(GoogleError::Unavailable(format!("the userinfo endpoint answered {status}")))
        } else {
            Err(GoogleError::Rejected(format!("the userinfo endpoint answered {status}")))
        }
    }
}

fn unavailable(error: reqwest::Error) -> GoogleError {
    // Without the URL: it is ours, and the message stays short.
    GoogleError::Unavailable(error.without_url().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_rfc7636_s256() {
        // The example from RFC 7636, appendix B.
        let challenge = Pkce::challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let pkce = Pkce::generate();
        assert_eq!(pkce.verifier.len(), 43);
        assert_eq!(pkce.challenge, Pkce::challenge_for(&pkce.verifier));
    }
}
