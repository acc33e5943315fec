//! `unsubscribe`: runs one attempt for one subscription — one-click through the agent, then mailto
//! from the user's own mailbox, then the pages in the agent's browser — and records the outcome,
//! the steps and the screenshot. A second delivery finds the attempt no longer pending and stops.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::{Job, JobContext, JobError};
use crate::automation::{AttemptReport, AttemptRequest, Recorder, UnsubscriberError};
use crate::domain::EmailAddress;
use crate::domain::mailto::Mailto;
use crate::domain::unsubscribe::{Method, Status, Target};
use crate::services::unsubscribe::{self as service, AttemptResult, PreparedAttempt};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnsubscribeSubscription {
    pub attempt_id: String,
}

impl UnsubscribeSubscription {
    /// One attempt per subscription waits or runs at a time.
    pub fn unique_key(subscription_id: &str) -> String {
        format!("unsubscribe:{subscription_id}")
    }
}

impl Job for UnsubscribeSubscription {
    const KIND: &'static str = "unsubscribe";
    const QUEUE: &'static str = "unsubscribe";
    // Attempts are not repeated blindly: a half-done browser flow must not be driven twice.
    const MAX_ATTEMPTS: i64 = 3;
    const TIMEOUT: Option<Duration> = Some(Duration::from_secs(900));

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (attempt_id, now) = (self.attempt_id.clone(), ctx.clock.now());
        let prepared = ctx.db(move |conn| service::prepare(conn, &attempt_id, now).map_err(app_error)).await?;
        let Some(prepared) = prepared else { return Ok(()) };
        let (user_id, server_mode) = (prepared.user_id.clone(), ctx.config.sorting.mode);
        let is_ai_allowed =
            ctx.db(move |conn| service::is_ai_allowed(conn, &user_id, server_mode, now).map_err(app_error)).await?;
        let report = match attempt(ctx, &prepared, is_ai_allowed).await {
            Ok(report) => report,
            Err(UnsubscriberError::Unavailable(reason)) => {
                // Put back to pending so the retry runs it; nothing was done yet.
                let id = prepared.attempt_id.clone();
                ctx.db(move |conn| {
                    crate::db::unsubscribe_attempts::reset_to_pending(conn, &id).map(drop).map_err(Into::into)
                })
                .await?;
                return Err(JobError::Retry(reason));
            }
            Err(UnsubscriberError::Rejected(reason)) => {
                failed_report(format!("the unsubscribe agent refused the request: {reason}"))
            }
        };
        let screenshot_path = save_screenshot(ctx, &prepared.attempt_id, report.screenshot_png_base64.as_deref()).await;
        let result = AttemptResult {
            status: report.status,
            method: report.method,
            url: report.url,
            reason: report.reason,
            steps_json: serde_json::to_string(&report.steps).unwrap_or_else(|_| "[]".into()),
            screenshot_path,
        };
        let (id, now) = (prepared.attempt_id.clone(), ctx.clock.now());
        tracing::info!(attempt_id = id, status = result.status.as_str(), method = ?result.method, "unsubscribe attempt finished");
        let (user_id, usage) = (prepared.user_id.clone(), report.ai_usage);
        let prices = (ctx.config.openai.price_input_per_million, ctx.config.openai.price_output_per_million);
        ctx.db(move |conn| {
            crate::db::transaction(conn, |conn| {
                // The page agent's AI calls count into the person's AI budget like the sorter's.
                if usage.calls > 0 {
                    crate::db::ai_usage::add(conn, &super::sort_emails::usage_row(&user_id, now, usage, prices))?;
                }
                service::record_result(conn, &id, &result, now).map_err(app_error)
            })
        })
        .await
    }
}

/// One-click, then mailto, then the browser; the first success ends it.
async fn attempt(
    ctx: &JobContext,
    prepared: &PreparedAttempt,
    is_ai_allowed: bool,
) -> Result<AttemptReport, UnsubscriberError> {
    let pick =
        |method: Method| -> Vec<Target> { prepared.targets.iter().filter(|t| t.method == method).cloned().collect() };
    let request =
        |targets: Vec<Target>| AttemptRequest { email_address: prepared.own_address.clone(), targets, is_ai_allowed };
    let mut reports: Vec<AttemptReport> = Vec::new();
    let one_click = pick(Method::OneClick);
    if !one_click.is_empty() {
        let report = ctx.unsubscriber.attempt(&request(one_click)).await?;
        if report.status == Status::Succeeded {
            return Ok(report);
        }
        reports.push(report);
    }
    if let Some(target) = pick(Method::Mailto).into_iter().next() {
        let report = send_mailto(ctx, prepared, &target.url).await;
        if report.status == Status::Succeeded {
            return Ok(merge(reports, report));
        }
        reports.push(report);
    }
    let pages: Vec<Target> =
        prepared.targets.iter().filter(|t| matches!(t.method, Method::Page | Method::BodyLink)).cloned().collect();
    if !pages.is_empty() {
        let report = ctx.unsubscriber.attempt(&request(pages)).await?;
        return Ok(merge(reports, report));
    }
    match reports.pop() {
        Some(last) => Ok(merge(reports, last)),
        None => Ok(AttemptReport {
            status: Status::NeedsManual,
            method: None,
            url: None,
            reason: "the email has no unsubscribe link or address".into(),
            steps: Vec::new(),
            screenshot_png_base64: None,
            ai_usage: Default::default(),
        }),
    }
}

/// The deciding report, with the steps of the methods tried before it first.
fn merge(earlier: Vec<AttemptReport>, mut last: AttemptReport) -> AttemptReport {
    let mut steps: Vec<_> = earlier.into_iter().flat_map(|r| r.steps).collect();
    steps.append(&mut last.steps);
    last.steps = steps;
    last
}

async fn send_mailto(ctx: &JobContext, prepared: &PreparedAttempt, url: &str) -> AttemptReport {
    let mut log = Recorder::default();
    let report = |status: Status, reason: String, log: Recorder| AttemptReport {
        status,
        method: Some(Method::Mailto),
        url: Some(url.to_owned()),
        reason,
        steps: log.steps,
        screenshot_png_base64: None,
        ai_usage: Default::default(),
    };
    let mailto = match Mailto::parse(url) {
        Ok(mailto) => mailto,
        Err(error) => return report(Status::Failed, format!("the mailto link cannot be used: {error}"), log),
    };
    let Ok(from) = EmailAddress::parse(&prepared.own_address) else {
        return report(Status::Failed, "the mailbox address is not an email address".into(), log);
    };
    let domain = from.as_str().rsplit_once('@').map_or("emailgator.invalid", |(_, d)| d).to_owned();
    let raw = mailto.message(&from, chrono::Utc::now(), &format!("unsubscribe-{}@{domain}", prepared.attempt_id));
    let to = mailto.to.iter().map(EmailAddress::as_str).collect::<Vec<_>>().join(", ");
    log.step("send mail", &format!("to {to}, subject {:?}", mailto.subject.as_deref().unwrap_or("unsubscribe")));
    let provider = match ctx.mail.open(prepared.mailbox.as_ref()) {
        Ok(provider) => provider,
        Err(error) => return report(Status::Failed, format!("the mailbox cannot send mail: {error}"), log),
    };
    match provider.send(&raw).await {
        Ok(id) => {
            log.step("sent", &format!("message id {id}"));
            report(Status::Succeeded, format!("the unsubscribe email to {to} was sent (message id {id})"), log)
        }
        Err(error) => {
            log.step("send failed", &error.to_string());
            report(Status::Failed, format!("the unsubscribe email could not be sent: {error}"), log)
        }
    }
}

fn failed_report(reason: String) -> AttemptReport {
    AttemptReport {
        status: Status::Failed,
        method: None,
        url: None,
        reason,
        steps: Vec::new(),
        screenshot_png_base64: None,
        ai_usage: Default::default(),
    }
}

/// Stores the final page's screenshot under the screenshot directory; its path, if stored.
async fn save_screenshot(ctx: &JobContext, attempt_id: &str, png_base64: Option<&str>) -> Option<String> {
    let png = BASE64.decode(png_base64?).ok()?;
    if png.len() > ctx.config.unsubscribe.screenshot_max_bytes {
        return None;
    }
    let dir = ctx.config.unsubscribe.screenshot_dir.clone();
    let path = dir.join(format!("{attempt_id}.png"));
    let written = tokio::task::spawn_blocking({
        let path = path.clone();
        move || std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, png))
    })
    .await;
    match written {
        Ok(Ok(())) => Some(path.display().to_string()),
        _ => {
            tracing::warn!(attempt_id, "the screenshot could not be stored");
            None
        }
    }
}

fn app_error(error: crate::error::AppError) -> JobError {
    JobError::Retry(error.to_string())
}
