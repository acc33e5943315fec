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
        let categories: Vec<CategorySeed> = db::categories::list_for_user(conn, user_id)?
            .into_iter()
            .map(|c| CategorySeed { id: c.id, name: c.name, description: c.description })
            .collect();
        let mut model = load_model(conn, user_id, &categories)?;
        let emails: Vec<Email> = db::emails::list_owned(conn, user_id, email_ids)?
            .into_iter()
            .filter(|e| e.category_id.as_deref() != Some(category_id) && e.state != "discovered")
            .collect();
        let mut to_archive: BTreeMap<String, ()> = BTreeMap::new();
        let mut relabel: HashMap<String, (Vec<String>, Vec<String>)> = HashMap::new();
        let names: HashMap<String, String> =
            db::categories::list_for_user(conn, user_id)?.into_iter().map(|c| (c.id, c.name)).collect();
        for email in &emails {
            let text = text_of(email);
            match email.category_id.as_deref() {
                Some(previous) => model.correct(&text, previous, category_id),
                None => model.learn(&text, category_id),
            }
            if let Some(key) = sender_key(&text) {
                db::sender_memory::remember_user_choice(
                    conn,
                    user_id,
                    &key,
                    category_id,
                    sender_memory_threshold,
                    now,
                )?;
            }
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

/// After categories change: queues a sort of every mailbox of the user with waiting mail.
pub fn sort_waiting(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> Result<(), AppError> {
    for mailbox in db::mailboxes::list_for_user(conn, user_id)? {
        SortEmails::enqueue_for(conn, &mailbox.id, now)?;
    }
    Ok(())
}

fn text_of(email: &Email) -> EmailText {
    EmailText {
        from_name: email.from_name.clone().unwrap_or_default(),
        from_address: email.from_address.clone().unwrap_or_default(),
        list_id: email.list_id.clone(),
        subject: email.subject.clone(),
        body: email.text_body.clone().unwrap_or_else(|| email.snippet.clone()),
    }
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
