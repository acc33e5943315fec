//! The person's sorting decisions: assigning an email from *Needs review* or moving emails to another
//! category. Each is a confirmed decision: the email takes the category (source "you"), the local
//! sorter learns it (a move is a correction), sender memory follows at once, and the mailbox is
//! brought in line (archived with the new label) by a job.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;

use crate::db::emails::Email;
use crate::db::sorter_models::SorterModel;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::jobs::{self, ArchiveMessages, EnqueueOptions, SortEmails};
use crate::sorting::local::{CategorySeed, LocalModel};
use crate::sorting::pipeline::{Source, sender_key};
use crate::sorting::text::EmailText;

/// Assigns the user's emails among `email_ids` to `category_id`; returns how many changed.
pub fn assign(
    conn: &mut DbConn,
    user_id: &str,
    email_ids: &[String],
    category_id: &str,
    sender_memory_threshold: i64,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    db::transaction(conn, |conn| {
        let category =
            db::categories::find(conn, category_id)?.filter(|c| c.user_id == user_id).ok_or(AppError::NotFound)?;
        let mut model = load_user_model(conn, user_id)?;
        let emails: Vec<Email> = db::emails::list_owned(conn, user_id, email_ids)?
            .into_iter()
            .filter(|e| e.category_id.as_deref() != Some(category_id) && e.state != "discovered")
            .collect();
        let mut to_archive: BTreeMap<String, ()> = BTreeMap::new();
        let mut relabel: HashMap<String, (Vec<String>, Vec<String>)> = HashMap::new();
        let names: HashMap<String, String> =
            db::categories::list_for_user(conn, user_id)?.into_iter().map(|c| (c.id, c.name)).collect();
        for email in &emails {
            let text = email_text(email);
            match email.category_id.as_deref() {
                Some(previous) => model.correct(&text, previous, category_id),
                None => model.learn(&text, category_id),
            }
            remember_sender(conn, user_id, &text, category_id, sender_memory_threshold, now)?;
            // Archived mail keeps its place and changes its label; anything else is archived now.
            let state = if email.state == "archived" { "archived" } else { "sorted" };
            db::emails::record_user_decision(conn, &email.id, state, category_id, now)?;
            if email.state == "archived" {
                let (ids, previous) = relabel.entry(email.mailbox_id.clone()).or_default();
                ids.push(email.id.clone());
                if let Some(name) = email.category_id.as_ref().and_then(|id| names.get(id))
                    && !previous.contains(name)
                {
                    previous.push(name.clone());
                }
            } else {
                to_archive.insert(email.mailbox_id.clone(), ());
            }
        }
        save_model(conn, user_id, &model, now)?;
        for mailbox_id in to_archive.keys() {
            let options =
                EnqueueOptions { unique_key: Some(ArchiveMessages::unique_key(mailbox_id)), ..Default::default() };
            jobs::enqueue(
                conn,
                &ArchiveMessages { mailbox_id: mailbox_id.clone(), email_ids: Vec::new() },
                options,
                now,
            )?;
        }
        for (mailbox_id, (email_ids, previous_categories)) in relabel {
            let job =
                jobs::RelabelMessages { mailbox_id, email_ids, category: category.name.clone(), previous_categories };
            jobs::enqueue(conn, &job, EnqueueOptions::default(), now)?;
        }
        Ok(emails.len())
    })
}

/// Confirms the categories the user's emails among `email_ids` already have ("mark reviewed"): each
/// becomes the person's decision, and the local sorter and sender memory learn it; returns how many.
pub fn confirm(
    conn: &mut DbConn,
    user_id: &str,
    email_ids: &[String],
    sender_memory_threshold: i64,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    db::transaction(conn, |conn| {
        let mut model = load_user_model(conn, user_id)?;
        let emails: Vec<Email> = db::emails::list_owned(conn, user_id, email_ids)?
            .into_iter()
            .filter(|e| e.trashed_at.is_none() && e.sort_source.as_deref() != Some(Source::User.as_str()))
            .collect();
        let mut confirmed = 0;
        for email in &emails {
            let Some(category_id) = email.category_id.as_deref() else { continue };
            let text = email_text(email);
            model.learn(&text, category_id);
            remember_sender(conn, user_id, &text, category_id, sender_memory_threshold, now)?;
            db::emails::record_user_decision(conn, &email.id, &email.state, category_id, now)?;
            confirmed += 1;
        }
        save_model(conn, user_id, &model, now)?;
        Ok(confirmed)
    })
}

/// Starts a server-side re-sort of the user's mail of the last `days` days (one at a time).
pub fn start_resort(conn: &mut DbConn, user_id: &str, days: i64, now: NaiveDateTime) -> Result<(), AppError> {
    if !(1..=365).contains(&days) {
        return Err(AppError::invalid("days", "choose between 1 and 365 days"));
    }
    let since = now - chrono::Duration::days(days);
    db::transaction(conn, |conn| {
        if db::jobs::is_pending_with_key(conn, &jobs::ResortEmails::unique_key(user_id))? {
            return Err(AppError::Conflict("A re-sort is already running; it shows its progress here.".into()));
        }
        let total = db::emails::count_resortable(conn, user_id, since)?;
        let resort = db::resorts::Resort {
            user_id: user_id.to_owned(),
            since,
            total,
            done: 0,
            changed: 0,
            started_at: now,
            finished_at: None,
        };
        db::resorts::start(conn, &resort)?;
        let job = jobs::ResortEmails { user_id: user_id.to_owned(), since };
        let options =
            EnqueueOptions { unique_key: Some(jobs::ResortEmails::unique_key(user_id)), ..Default::default() };
        jobs::enqueue(conn, &job, options, now)?;
        Ok(())
    })
}

/// After categories change: queues a sort of every mailbox of the user with waiting mail.
pub fn sort_waiting(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> Result<(), AppError> {
    for mailbox in db::mailboxes::list_for_user(conn, user_id)? {
        SortEmails::enqueue_for(conn, &mailbox.id, now)?;
    }
    Ok(())
}

/// What a sorter reads of a stored email.
pub fn email_text(email: &Email) -> EmailText {
    EmailText {
        from_name: email.from_name.clone().unwrap_or_default(),
        from_address: email.from_address.clone().unwrap_or_default(),
        list_id: email.list_id.clone(),
        subject: email.subject.clone(),
        body: email.text_body.clone().unwrap_or_else(|| email.snippet.clone()),
    }
}

/// The user's local model, in step with their categories now.
fn load_user_model(conn: &mut DbConn, user_id: &str) -> Result<LocalModel, AppError> {
    let categories: Vec<CategorySeed> = db::categories::list_for_user(conn, user_id)?
        .into_iter()
        .map(|c| CategorySeed { id: c.id, name: c.name, description: c.description })
        .collect();
    load_model(conn, user_id, &categories)
}

/// Sender memory follows a choice the person made, at once.
fn remember_sender(
    conn: &mut DbConn,
    user_id: &str,
    text: &EmailText,
    category_id: &str,
    threshold: i64,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    if let Some(key) = sender_key(text) {
        db::sender_memory::remember_user_choice(conn, user_id, &key, category_id, threshold, now)?;
    }
    Ok(())
}

fn load_model(conn: &mut DbConn, user_id: &str, categories: &[CategorySeed]) -> Result<LocalModel, AppError> {
    let mut model = match db::sorter_models::find(conn, user_id)? {
        Some(stored) => serde_json::from_str(&stored.model).unwrap_or_else(|_| LocalModel::seeded(categories)),
        None => LocalModel::seeded(categories),
    };
    model.sync_categories(categories);
    Ok(model)
}

fn save_model(conn: &mut DbConn, user_id: &str, model: &LocalModel, now: NaiveDateTime) -> Result<(), AppError> {
    let stored = SorterModel {
        user_id: user_id.to_owned(),
        model: serde_json::to_string(model).map_err(AppError::internal)?,
        examples: i64::try_from(model.examples()).unwrap_or(i64::MAX),
        updated_at: now,
    };
    Ok(db::sorter_models::save(conn, &stored)?)
}

/// What the source of a decision is called on pages.
pub fn describe_source(source: Option<&str>) -> &'static str {
    match source {
        Some(s) if s == Source::SenderMemory.as_str() => "sender memory",
        Some(s) if s == Source::Local.as_str() => "local sorter",
        Some(s) if s == Source::Ai.as_str() => "AI",
        Some(s) if s == Source::User.as_str() => "you",
        _ => "not sorted",
    }
}

/// What a new or edited category would do to the user's recent mail.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// Emails that would land in the category: (subject, sender, the category they are in now).
    pub landing: Vec<PreviewEmail>,
    pub examined: usize,
    /// Dollars an AI re-sort of the examined emails would cost; `None` without an AI.
    pub estimated_ai_cost: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct PreviewEmail {
    pub subject: String,
    pub from: String,
    /// `None`: unsorted or waiting for review; `Some(name)`: it would leave that category.
    pub leaving: Option<String>,
}

/// How many recent emails a preview looks at.
pub const PREVIEW_EMAILS: i64 = 200;
const PREVIEW_ID: &str = "__preview__";

/// Runs a new (`editing` = None) or edited category against the last 200 emails with the local
/// sorter (no AI call, no change saved).
pub fn preview(
    conn: &mut DbConn,
    user_id: &str,
    name: &str,
    description: &str,
    editing: Option<&str>,
    llm: Option<&crate::sorting::llm::LlmSettings>,
) -> Result<Preview, AppError> {
    let existing = db::categories::list_for_user(conn, user_id)?;
    if let Some(id) = editing
        && !existing.iter().any(|c| c.id == id)
    {
        return Err(AppError::NotFound);
    }
    let target = editing.unwrap_or(PREVIEW_ID).to_owned();
    let mut categories: Vec<CategorySeed> = existing
        .iter()
        .filter(|c| Some(c.id.as_str()) != editing)
        .map(|c| CategorySeed { id: c.id.clone(), name: c.name.clone(), description: c.description.clone() })
        .collect();
    categories.push(CategorySeed { id: target.clone(), name: name.to_owned(), description: description.to_owned() });
    let model = load_model(conn, user_id, &categories)?;
    let names: HashMap<String, String> = existing.into_iter().map(|c| (c.id, c.name)).collect();
    let emails = db::emails::list_recent_for_user(conn, user_id, PREVIEW_EMAILS)?;
    let mut preview = Preview { examined: emails.len(), ..Preview::default() };
    let mut texts = Vec::new();
    for email in &emails {
        let text = email_text(email);
        if model.classify(&text).is_some_and(|p| p.category_id == target) {
            let leaving = email.category_id.as_ref().filter(|id| **id != target).and_then(|id| names.get(id)).cloned();
            preview.landing.push(PreviewEmail {
                subject: email.subject.clone(),
                from: email.from_address.clone().unwrap_or_default(),
                leaving,
            });
        }
        texts.push((email.id.clone(), text));
    }
    preview.estimated_ai_cost = llm.map(|settings| estimate_cost(&texts, &categories, settings));
    Ok(preview)
}

/// What sorting these emails with the AI would cost, from the prompts it would send.
fn estimate_cost(
    emails: &[(String, EmailText)],
    categories: &[CategorySeed],
    settings: &crate::sorting::llm::LlmSettings,
) -> f64 {
    use crate::sorting::llm::{Prompt, estimate_tokens};
    let mut prompt_tokens = 0;
    for batch in emails.chunks(settings.batch_size.max(1)) {
        let prompt = Prompt::new(batch, categories, settings.max_body_chars);
        prompt_tokens += estimate_tokens(&prompt.system) + estimate_tokens(&prompt.user);
    }
    // About 40 answer tokens per email (id, category, confidence, a short summary).
    let completion_tokens = 40 * emails.len() as u64;
    (prompt_tokens as f64 * settings.price_input_per_million
        + completion_tokens as f64 * settings.price_output_per_million)
        / 1_000_000.0
}
