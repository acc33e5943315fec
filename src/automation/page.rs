//! Drives one unsubscribe page in the browser: dismiss a cookie banner, fill the account's own
//! address, untick lists or choose "from all", press unsubscribe / confirm / save, follow further
//! steps, and decide from what the page then says. A page that merely loaded is not a success. Where
//! the rules find nothing to press, a configured AI may choose a few steps (`page_ai`), checked first.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde::Deserialize;

use super::page_ai::{self, AiAction, PageAi};
use super::phrases::{self, Intent};
use super::proxy::{BLOCK_MARKER, Refusal};
use super::{Outcome, Recorder};
use crate::domain::unsubscribe::Status;

const DESCRIBE: &str = include_str!("describe_page.js");
/// The same control pressed this many times without progress ends the attempt.
const MAX_SAME_PRESS: usize = 2;

#[derive(Debug, Clone, Deserialize)]
struct Page {
    /// `fingerprint()` as the script saw the page before reading it.
    fingerprint: String,
    url: String,
    text: String,
    status: u16,
    captcha: bool,
    elements: Vec<Control>,
}

/// One visible control, as `describe_page.js` reports it.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Control {
    pub(super) id: String,
    pub(super) kind: String,
    #[serde(rename = "type")]
    pub(super) input_type: String,
    pub(super) label: String,
    pub(super) name: String,
    pub(super) autocomplete: String,
    pub(super) checked: bool,
    pub(super) filled: bool,
    pub(super) disabled: bool,
    pub(super) in_banner: bool,
    pub(super) href: String,
}

impl Control {
    fn describe(&self) -> String {
        if self.label.is_empty() { format!("{} {}", self.kind, self.name) } else { format!("\"{}\"", self.label) }
    }
}

/// How long to wait for things in the page.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub step_cap: usize,
    /// After a press, how long the page may take to change; also how long to wait for controls
    /// that scripts add late.
    pub step_timeout: Duration,
}

/// Opens `url` and works through the page; `refusals` reports what the guard refused so far.
pub async fn drive(
    client: &fantoccini::Client,
    url: &str,
    own_address: &str,
    limits: PageLimits,
    refusals: &(dyn Fn() -> Vec<Refusal> + Sync),
    ai: Option<&PageAi>,
    log: &mut Recorder,
) -> Outcome {
    log.step("open", url);
    if let Err(error) = client.goto(url).await {
        if let Some(refusal) = refusals().into_iter().next() {
            return blocked(log, &refusal);
        }
        return Outcome::new(Status::Failed, format!("the page could not be opened: {}", short(&error.to_string())));
    }
    let mut pressed: Vec<String> = Vec::new();
    let mut dismissed_banner = false;
    let mut changed_choices = false;
    let mut filled: HashSet<String> = HashSet::new();
    let mut ai_steps = 0;
    // The page state last waited on: after an AI fill nothing visible changes, and waiting again
    // for scripts would only delay the next step.
    let mut waited_on = String::new();
    for _ in 0..limits.step_cap {
        let page = match describe(client).await {
            Ok(page) => page,
            Err(reason) => return Outcome::new(Status::NeedsManual, format!("the page could not be read: {reason}")),
        };
        if let Some(refusal) = refused_page(&page, &refusals()) {
            return blocked(log, &refusal);
        }
        if page.status >= 400 {
            return Outcome::new(Status::Failed, format!("the page answered HTTP {}", page.status));
        }
        let actions: Vec<&Control> = page
            .elements
            .iter()
            .filter(|c| {
                c.kind == "button"
                    && !c.in_banner
                    && !c.disabled
                    && phrases::intent(&c.label).is_some_and(|i| i >= Intent::Confirm)
            })
            .collect();
        if let Some(sentence) = phrases::confirmation(&page.text).filter(|_| actions.is_empty()) {
            log.step("confirmed", &sentence);
            return Outcome::new(Status::Succeeded, format!("the page said: {sentence}"));
        }
        if let Some(sentence) = phrases::saved(&page.text).filter(|_| changed_choices && actions.is_empty()) {
            log.step("confirmed", &sentence);
            return Outcome::new(Status::Succeeded, format!("the lists were unticked and the page said: {sentence}"));
        }
        if page.captcha {
            return Outcome::new(Status::NeedsManual, "the page asks to solve a CAPTCHA".into());
        }
        if page.elements.iter().any(|c| c.kind == "password") || phrases::asks_to_sign_in(&page.text) {
            return Outcome::new(Status::NeedsManual, "the page asks to sign in".into());
        }
        // A cookie banner may cover the controls; it is closed first, once.
        if !dismissed_banner
            && let Some(button) = page
                .elements
                .iter()
                .filter(|c| c.in_banner && matches!(c.kind.as_str(), "button" | "link"))
                .filter_map(|c| phrases::banner_choice_rank(&c.label).map(|rank| (rank, c)))
                .min_by_key(|(rank, _)| *rank)
                .map(|(_, c)| c)
        {
            dismissed_banner = true;
            log.step("close cookie banner", &button.describe());
            let before = fingerprint(client).await;
            let _ = click(client, &button.id).await;
            wait_for_change(client, &before, limits.step_timeout / 3).await;
            continue;
        }
        for field in page.elements.iter().filter(|c| c.kind == "field" && !c.in_banner && !c.disabled) {
            let name = format!("{} {}", field.name, field.label);
            if phrases::is_secret_field(&name, &field.input_type, &field.autocomplete)
                || !phrases::is_email_field(&name, &field.input_type)
                || filled.contains(&name)
            {
                continue;
            }
            filled.insert(name);
            if field.filled && field.input_type != "email" {
                continue;
            }
            log.step("fill", &format!("{} with the account's address", field.describe()));
            if let Err(error) = fill(client, &field.id, own_address).await {
                log.step("fill failed", &short(&error));
            }
        }
        let toggles: Vec<&Control> = page
            .elements
            .iter()
            .filter(|c| matches!(c.kind.as_str(), "checkbox" | "radio") && !c.in_banner && !c.disabled)
            .collect();
        if let Some(all) = toggles.iter().find(|c| phrases::is_from_all(&c.label)) {
            if !all.checked {
                log.step("choose", &all.describe());
                let _ = click(client, &all.id).await;
                changed_choices = true;
            }
        } else {
            for toggle in toggles.iter().filter(|c| c.kind == "checkbox" && c.checked) {
                log.step("untick", &toggle.describe());
                let _ = click(client, &toggle.id).await;
                changed_choices = true;
            }
        }
        let best = page
            .elements
            .iter()
            .filter(|c| !c.in_banner && !c.disabled && matches!(c.kind.as_str(), "button" | "link"))
            .filter(|c| c.kind == "button" || (!c.href.starts_with("mailto:") && c.href != page.url))
            .filter_map(|c| phrases::intent(&c.label).map(|i| (i, c)))
            .filter(|(i, c)| c.kind == "button" || *i == Intent::Unsubscribe)
            .filter(|(i, _)| *i != Intent::Save || changed_choices || !filled.is_empty())
            .max_by_key(|(i, _)| *i)
            .map(|(_, c)| c.clone());
        let Some(button) = best else {
            // Scripts may add the button late: wait once for the page to change before giving up.
            // The fingerprint was taken before the page was read, so a control a script adds while
            // it is read still counts as a change (on a busy machine the read can straddle the timer).
            if waited_on != page.fingerprint {
                if wait_for_change(client, &page.fingerprint, limits.step_timeout).await {
                    continue;
                }
                waited_on.clone_from(&page.fingerprint);
            }
            if let Some(ai) = ai.filter(|ai| ai_steps < ai.max_steps()) {
                ai_steps += 1;
                match ask_ai(client, ai, &page, own_address, limits, log).await {
                    Ok(AiAction::Untick(_)) => changed_choices = true,
                    Ok(AiAction::FillEmail(_)) => {
                        filled.insert("chosen by the AI".into());
                    }
                    Ok(_) => {}
                    Err(outcome) => return outcome,
                }
                continue;
            }
            let reason = match pressed.last() {
                Some(last) => format!("after pressing {last} the page did not confirm the unsubscribe"),
                None => "the page neither offers an unsubscribe control nor says the address was removed".to_owned(),
            };
            return Outcome::new(Status::NeedsManual, reason);
        };
        let label = button.describe();
        if pressed.iter().filter(|p| **p == label).count() >= MAX_SAME_PRESS {
            return Outcome::new(
                Status::NeedsManual,
                format!("pressing {label} again changed nothing the agent could read"),
            );
        }
        log.step("press", &label);
        pressed.push(label);
        let before = fingerprint(client).await;
        if let Err(error) = click(client, &button.id).await {
            log.step("press failed", &short(&error));
        }
        wait_for_change(client, &before, limits.step_timeout).await;
    }
    Outcome::new(Status::NeedsManual, format!("the page still asked for more after {} steps", limits.step_cap))
}

/// One AI-chosen step: the model's answer is checked against the page's controls, then carried out.
/// A refused answer, a "stop" or an unreachable AI ends the attempt as needing a person.
async fn ask_ai(
    client: &fantoccini::Client,
    ai: &PageAi,
    page: &Page,
    own_address: &str,
    limits: PageLimits,
    log: &mut Recorder,
) -> Result<AiAction, Outcome> {
    let listed: Vec<Control> = page.elements.iter().filter(|c| !c.in_banner).cloned().collect();
    log.step("ask the AI", &format!("{} controls listed", listed.len()));
    let answer = match ai.ask(&page.url, &page.text, &listed, &mut log.ai_usage).await {
        Ok(answer) => answer,
        Err(reason) => {
            log.step("AI unavailable", &reason);
            return Err(Outcome::new(
                Status::NeedsManual,
                "the page offers no control the agent recognises, and the AI could not be asked".into(),
            ));
        }
    };
    let action = match page_ai::read_answer(&answer, &listed, own_address) {
        Ok(action) => action,
        Err(reason) => {
            log.step("AI answer refused", &reason);
            return Err(Outcome::new(Status::NeedsManual, format!("the AI's suggestion was refused: {reason}")));
        }
    };
    match action {
        AiAction::Stop => {
            log.step("AI stopped", "the AI found nothing that unsubscribes");
            return Err(Outcome::new(
                Status::NeedsManual,
                "neither the agent nor the AI found a control that unsubscribes".into(),
            ));
        }
        AiAction::Click(n) => {
            log.step("AI press", &listed[n].describe());
            let before = fingerprint(client).await;
            if let Err(error) = click(client, &listed[n].id).await {
                log.step("press failed", &short(&error));
            }
            wait_for_change(client, &before, limits.step_timeout).await;
        }
        AiAction::FillEmail(n) => {
            log.step("AI fill", &format!("{} with the account's address", listed[n].describe()));
            if let Err(error) = fill(client, &listed[n].id, own_address).await {
                log.step("fill failed", &short(&error));
            }
        }
        AiAction::Untick(n) => {
            log.step("AI untick", &listed[n].describe());
            let _ = click(client, &listed[n].id).await;
        }
    }
    Ok(action)
}

fn blocked(log: &mut Recorder, refusal: &Refusal) -> Outcome {
    log.step("blocked", &format!("{}: {}", refusal.target, refusal.reason));
    Outcome::new(Status::Blocked, format!("the network guard refused {}: {}", refusal.target, refusal.reason))
}

/// The refusal that produced the page now shown, if it is the proxy's refusal page.
fn refused_page(page: &Page, refusals: &[Refusal]) -> Option<Refusal> {
    let url = url::Url::parse(&page.url).ok()?;
    let target = format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0));
    let is_error_page = page.text.contains(BLOCK_MARKER) || page.url.starts_with("chrome-error:");
    refusals
        .iter()
        .find(|r| {
            r.target == target
                || r.target.trim_start_matches('[').starts_with(url.host_str().unwrap_or("-").trim_start_matches('['))
        })
        .filter(|_| is_error_page || page.status == 403)
        .cloned()
        .or_else(|| if is_error_page { refusals.last().cloned() } else { None })
}

async fn describe(client: &fantoccini::Client) -> Result<Page, String> {
    let mut last_error = String::new();
    let script = format!("const fingerprint = {FINGERPRINT};\n{DESCRIBE}");
    // During a navigation the script can fail; the next page is read a moment later.
    for _ in 0..20 {
        match client.execute(&script, vec![]).await {
            Ok(value) => return serde_json::from_value(value).map_err(|e| e.to_string()),
            Err(error) => last_error = error.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    Err(short(&last_error))
}

async fn click(client: &fantoccini::Client, id: &str) -> Result<(), String> {
    let element = client.find(Locator::Css(&format!("[data-eg=\"{id}\"]"))).await.map_err(|e| e.to_string())?;
    match element.click().await {
        Ok(_) => Ok(()),
        // A hidden input behind a styled label: clicking the label is what a person does.
        Err(error) if error.to_string().contains("not interactable") => client
            .execute(
                "const el = document.querySelector(arguments[0]); (el.closest('label') || el).click();",
                vec![serde_json::Value::String(format!("[data-eg=\"{id}\"]"))],
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

async fn fill(client: &fantoccini::Client, id: &str, text: &str) -> Result<(), String> {
    let element = client.find(Locator::Css(&format!("[data-eg=\"{id}\"]"))).await.map_err(|e| e.to_string())?;
    element.clear().await.map_err(|e| e.to_string())?;
    element.send_keys(text).await.map_err(|e| e.to_string())
}

/// A cheap summary of the page that changes when it navigates or its content changes; the same
/// expression starts `describe_page.js`.
const FINGERPRINT: &str = "location.href + '|' + document.readyState + '|' + (document.body ? document.body.innerText.length + ':' + document.body.getElementsByTagName('*').length : '')";

async fn fingerprint(client: &fantoccini::Client) -> String {
    let script = format!("return {FINGERPRINT};");
    client.execute(&script, vec![]).await.map(|v| v.as_str().unwrap_or_default().to_owned()).unwrap_or_default()
}

/// Waits until the page differs from `before` and has loaded; `false` when nothing changed.
async fn wait_for_change(client: &fantoccini::Client, before: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        // Each check is a WebDriver round trip of its own; a shorter pause would mostly add load.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = fingerprint(client).await;
        if !now.is_empty() && now != before && now.contains("|complete|") {
            // Let a script that rewrites the page finish its work.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return true;
        }
    }
    false
}

fn short(text: &str) -> String {
    text.lines().next().unwrap_or_default().chars().take(200).collect()
}
