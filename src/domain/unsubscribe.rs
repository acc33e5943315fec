//! Unsubscribe rules with no I/O: which subscription an email belongs to, whether it is safe to act
//! on, the order of methods to try, and the words an attempt's outcome is stored and shown with.

use serde::{Deserialize, Serialize};

/// How long after a successful unsubscribe more mail is still expected (lists flush their queues).
pub const GRACE_PERIOD: chrono::Duration = chrono::Duration::days(3);

/// The subscription an email belongs to: its List-Id, else its sender's address (lower-cased).
pub fn subscription_key(list_id: Option<&str>, from_address: Option<&str>) -> Option<String> {
    let list_id = list_id.map(str::trim).filter(|id| !id.is_empty());
    match list_id {
        Some(id) => Some(format!("list:{}", id.to_ascii_lowercase())),
        None => {
            from_address.map(str::trim).filter(|a| !a.is_empty()).map(|a| format!("from:{}", a.to_ascii_lowercase()))
        }
    }
}

/// Whether Authentication-Results report a DKIM pass. Unsubscribing from unauthenticated mail
/// confirms the address to whoever forged it, so without a pass we do not act unless asked to.
pub fn has_dkim_pass(auth_results: Option<&str>) -> bool {
    let Some(text) = auth_results else { return false };
    let lower = text.to_ascii_lowercase();
    lower.match_indices("dkim=").any(|(at, _)| lower[at + 5..].trim_start().starts_with("pass"))
}

/// One way of leaving a list, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// RFC 8058: POST `List-Unsubscribe=One-Click` to the https URL.
    OneClick,
    /// RFC 6068: send the message the mailto URL describes from the user's own account.
    Mailto,
    /// The https page from List-Unsubscribe, in the browser.
    Page,
    /// An unsubscribe link found in the body, in the browser.
    BodyLink,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::OneClick => "one_click",
            Method::Mailto => "mailto",
            Method::Page => "page",
            Method::BodyLink => "body_link",
        }
    }

    pub fn parse(text: &str) -> Option<Method> {
        [Method::OneClick, Method::Mailto, Method::Page, Method::BodyLink].into_iter().find(|m| m.as_str() == text)
    }
}

/// Where an attempt stands; stored in `unsubscribe_attempts.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Running,
    Succeeded,
    Failed,
    NeedsManual,
    Blocked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::NeedsManual => "needs_manual",
            Status::Blocked => "blocked",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [Status::Pending, Status::Running, Status::Succeeded, Status::Failed, Status::NeedsManual, Status::Blocked]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, Status::Pending | Status::Running)
    }
}

/// One URL to try and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub method: Method,
    pub url: String,
}

/// The methods to try for one email, in order: one-click (when the sender asks for it), mailto,
/// the List-Unsubscribe pages, then links from the body. Each URL appears once.
pub fn plan(list_unsubscribe: &[String], is_one_click: bool, body_links: &[String]) -> Vec<Target> {
    let is_web = |url: &str| has_scheme(url, "https") || has_scheme(url, "http");
    let mut targets: Vec<Target> = Vec::new();
    let push = |targets: &mut Vec<Target>, method: Method, url: &str| {
        if !targets.iter().any(|t| t.method == method && t.url == url) {
            targets.push(Target { method, url: url.to_owned() });
        }
    };
    if is_one_click {
        // RFC 8058 names https; senders often list mailto first, so the https URL is looked for.
        let one_click = list_unsubscribe
            .iter()
            .find(|u| has_scheme(u, "https"))
            .or_else(|| list_unsubscribe.iter().find(|u| is_web(u)));
        if let Some(url) = one_click {
            push(&mut targets, Method::OneClick, url);
        }
    }
    for url in list_unsubscribe.iter().filter(|u| has_scheme(u, "mailto")) {
        push(&mut targets, Method::Mailto, url);
    }
    for url in list_unsubscribe.iter().filter(|u| is_web(u)) {
        push(&mut targets, Method::Page, url);
    }
    for url in body_links.iter().filter(|u| is_web(u)) {
        if !list_unsubscribe.contains(url) {
            push(&mut targets, Method::BodyLink, url);
        }
    }
    targets
}

fn has_scheme(url: &str, scheme: &str) -> bool {
    url.len() > scheme.len()
        && url.as_bytes()[scheme.len()] == b':'
        && url.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_id_names_the_subscription_else_the_sender() {
        assert_eq!(
            subscription_key(Some("News.Shop.example"), Some("a@b.c")).as_deref(),
            Some("list:news.shop.example")
        );
        assert_eq!(subscription_key(Some("  "), Some("A@B.C")).as_deref(), Some("from:a@b.c"));
        assert_eq!(subscription_key(None, None), None);
    }

    #[test]
    fn only_a_dkim_pass_counts() {
        assert!(has_dkim_pass(Some("mx.google.com; dkim=pass header.i=@shop.example; spf=pass")));
        assert!(has_dkim_pass(Some("mx; spf=fail; DKIM= pass")));
        assert!(!has_dkim_pass(Some("mx.google.com; dkim=fail; spf=pass")));
        assert!(!has_dkim_pass(Some("mx.google.com; dkim=none")));
        assert!(!has_dkim_pass(None));
    }

    #[test]
    fn one_click_comes_first_even_when_mailto_is_listed_first() {
        let urls = vec!["mailto:u@list.example?subject=unsubscribe".to_owned(), "https://list.example/u/1".to_owned()];
        let body = vec!["https://list.example/prefs".to_owned(), "https://list.example/u/1".to_owned()];
        let methods: Vec<(Method, String)> = plan(&urls, true, &body).into_iter().map(|t| (t.method, t.url)).collect();
        let expected = [
            (Method::OneClick, "https://list.example/u/1"),
            (Method::Mailto, "mailto:u@list.example?subject=unsubscribe"),
            (Method::Page, "https://list.example/u/1"),
            (Method::BodyLink, "https://list.example/prefs"),
        ];
        assert_eq!(methods, expected.map(|(m, u)| (m, u.to_owned())));
    }

    #[test]
    fn without_the_post_header_there_is_no_one_click() {
        let urls = vec!["https://list.example/u/1".to_owned()];
        assert_eq!(plan(&urls, false, &[]), vec![Target { method: Method::Page, url: urls[0].clone() }]);
    }
}
