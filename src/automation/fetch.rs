//! Guarded HTTP for the agent's own requests (the one-click POST): each hop is checked by the
//! guard and connected to exactly the checked address; redirects are followed by hand, re-checked,
//! at most five; no cookies; connect and total timeouts; the body is read up to a cap.

use std::time::Duration;

use url::Url;

use super::guard::{Blocked, NetworkGuard};

/// Redirects followed at most (OWASP: follow by hand, re-check each).
pub const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    pub body_cap: usize,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub final_url: Url,
    pub body: String,
    /// Every URL requested, in order (redirects included).
    pub hops: Vec<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("blocked: {0}")]
    Blocked(#[from] Blocked),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("a redirect without a usable Location")]
    BadRedirect,
    #[error("the request failed: {0}")]
    Network(String),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

/// How a request is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    Get,
    /// A form POST with this exact body; never re-sent to a redirect target.
    PostForm(&'a str),
}

/// Makes one request through the guard, following GET redirects by hand.
pub async fn fetch(
    guard: &NetworkGuard,
    settings: &FetchSettings,
    url: &Url,
    request: Request<'_>,
) -> Result<Fetched, FetchError> {
    let work = async {
        let mut url = url.clone();
        let mut hops = Vec::new();
        loop {
            hops.push(url.to_string());
            let address = guard.check_url(&url).await?;
            let client = client_for(&url, address, settings)?;
            let builder = match request {
                Request::Get => client.get(url.clone()),
                Request::PostForm(body) => client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body.to_owned()),
            };
            let response = builder.send().await.map_err(|e| FetchError::Network(describe(&e)))?;
            let status = response.status();
            let is_redirect = status.is_redirection() && response.headers().contains_key(reqwest::header::LOCATION);
            // RFC 8058: the one-click POST is answered where it was sent; a redirect is not followed.
            if is_redirect && request == Request::Get {
                if hops.len() > MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects);
                }
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(FetchError::BadRedirect)?;
                url = url.join(location).map_err(|_| FetchError::BadRedirect)?;
                continue;
            }
            let body = read_capped(response, settings.body_cap).await?;
            return Ok(Fetched { status: status.as_u16(), final_url: url, body, hops });
        }
    };
    tokio::time::timeout(settings.total_timeout, work)
        .await
        .map_err(|_| FetchError::TimedOut(settings.total_timeout))?
}

/// A client pinned to the checked address: reqwest connects there instead of resolving again.
fn client_for(
    url: &Url,
    address: std::net::SocketAddr,
    settings: &FetchSettings,
) -> Result<reqwest::Client, FetchError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.total_timeout)
        .no_proxy()
        .user_agent(concat!("EmailGator/", env!("CARGO_PKG_VERSION"), " (unsubscribe)"));
    if let Some(url::Host::Domain(name)) = url.host() {
        builder = builder.resolve(name, address);
    }
    builder.build().map_err(|e| FetchError::Network(e.to_string()))
}

async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<String, FetchError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| FetchError::Network(describe(&e)))? {
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= cap {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn describe(error: &reqwest::Error) -> String {
    use std::error::Error;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
