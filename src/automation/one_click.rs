//! RFC 8058 one-click: POST exactly `List-Unsubscribe=One-Click`, form-encoded, to the https URL,
//! with no cookies or credentials and no redirect followed. A 2xx is the evidence.

use url::Url;

use super::fetch::{self, FetchError, FetchSettings, Request};
use super::guard::NetworkGuard;
use super::{Outcome, Recorder};
use crate::domain::unsubscribe::Status;

/// The one body RFC 8058 allows.
pub const BODY: &str = "List-Unsubscribe=One-Click";

pub async fn post(guard: &NetworkGuard, settings: &FetchSettings, url: &str, log: &mut Recorder) -> Outcome {
    let Ok(url) = Url::parse(url) else {
        return Outcome::new(Status::Failed, format!("{url} is not a URL"));
    };
    // RFC 8058 requires https. Plain http is accepted only for the loopback pairs tests allow.
    if url.scheme() != "https" && !guard.is_test_destination(&url) {
        return Outcome::new(Status::Failed, "one-click needs an https URL".into());
    }
    log.step("one-click POST", url.as_str());
    match fetch::fetch(guard, settings, &url, Request::PostForm(BODY)).await {
        Ok(answer) if (200..300).contains(&answer.status) => {
            log.step("answer", &format!("HTTP {}", answer.status));
            Outcome::new(
                Status::Succeeded,
                format!("the sender accepted the one-click request (HTTP {})", answer.status),
            )
        }
        Ok(answer) => {
            log.step("answer", &format!("HTTP {}", answer.status));
            Outcome::new(Status::Failed, format!("the one-click request was answered with HTTP {}", answer.status))
        }
        Err(FetchError::Blocked(blocked)) => {
            log.step("blocked", &blocked.to_string());
            Outcome::new(Status::Blocked, format!("the network guard refused it: {blocked}"))
        }
        Err(error) => {
            log.step("error", &error.to_string());
            Outcome::new(Status::Failed, format!("the one-click request failed: {error}"))
        }
    }
}
