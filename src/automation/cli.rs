//! `emailgator unsubscribe <URL | FILE.eml> --email ADDRESS [--json]`: one attempt from the
//! terminal, for ops and for debugging a sender. A mailto link is shown, not sent: there is no
//! mailbox to send it from here.

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;

use super::{AttemptRequest, Step};
use crate::config::Config;
use crate::domain::unsubscribe::{self as rules, Method, Status, Target};
use crate::domain::{EmailAddress, mime, unsubscribe_links};

#[derive(Debug, Serialize)]
struct Printed {
    status: Status,
    method: Option<Method>,
    url: Option<String>,
    reason: String,
    steps: Vec<Step>,
    screenshot: Option<String>,
    /// mailto links found, not sent from the command line.
    mailto: Vec<String>,
}

pub async fn run(mut config: Config, target: &str, email: &str, is_json: bool) -> anyhow::Result<()> {
    let email = EmailAddress::parse(email)?;
    let targets = targets_for(target)?;
    let mailto: Vec<String> = targets.iter().filter(|t| t.method == Method::Mailto).map(|t| t.url.clone()).collect();
    let request = AttemptRequest {
        email_address: email.as_str().to_owned(),
        targets: targets.into_iter().filter(|t| t.method != Method::Mailto).collect(),
        is_ai_allowed: true,
    };
    // One attempt and exit: a browser started for a next attempt would be wasted.
    config.unsubscribe.warm_sessions = 0;
    let unsubscriber = super::from_config(&config);
    let report = unsubscriber.attempt(&request).await;
    // The used browser closes in the background; it must be gone before the process is.
    unsubscriber.shut_down().await;
    let report = report?;
    let screenshot = match report.screenshot_png_base64.as_deref().map(|b| BASE64.decode(b)) {
        Some(Ok(png)) => {
            std::fs::create_dir_all(&config.unsubscribe.screenshot_dir)?;
            let path = config.unsubscribe.screenshot_dir.join(format!("cli-{}.png", uuid::Uuid::new_v4().simple()));
            std::fs::write(&path, png).with_context(|| format!("cannot write {}", path.display()))?;
            Some(path.display().to_string())
        }
        _ => None,
    };
    let printed = Printed {
        status: report.status,
        method: report.method,
        url: report.url,
        reason: report.reason,
        steps: report.steps,
        screenshot,
        mailto,
    };
    let mut out = String::new();
    if is_json {
        out = serde_json::to_string_pretty(&printed)?;
    } else {
        out.push_str(&format!("outcome: {}\n", printed.status.as_str()));
        if let (Some(method), Some(url)) = (printed.method, &printed.url) {
            out.push_str(&format!("method:  {} {url}\n", method.as_str()));
        }
        out.push_str(&format!("reason:  {}\n", printed.reason));
        for step in &printed.steps {
            out.push_str(&format!("  {:>6} ms  {:<20} {}\n", step.at_ms, step.action, step.detail));
        }
        if let Some(path) = &printed.screenshot {
            out.push_str(&format!("screenshot: {path}\n"));
        }
        for url in &printed.mailto {
            out.push_str(&format!("mailto (not sent from the command line): {url}\n"));
        }
    }
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{}", out.trim_end());
    Ok(())
}

/// A URL is one page (or one mailto); a file is read as an email and planned like the job does.
fn targets_for(target: &str) -> anyhow::Result<Vec<Target>> {
    let lower = target.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(vec![Target { method: Method::Page, url: target.to_owned() }]);
    }
    if lower.starts_with("mailto:") {
        return Ok(vec![Target { method: Method::Mailto, url: target.to_owned() }]);
    }
    let raw =
        std::fs::read(Path::new(target)).with_context(|| format!("{target} is neither a URL nor a readable file"))?;
    let parsed = mime::parse(&raw);
    let links = unsubscribe_links::extract(parsed.sanitized_html.as_deref(), parsed.text_body.as_deref());
    let targets = rules::plan(&parsed.list_unsubscribe, parsed.is_one_click, &links);
    anyhow::ensure!(!targets.is_empty(), "{target} has no List-Unsubscribe header and no unsubscribe link");
    Ok(targets)
}
