//! `sort_emails`: sorts a mailbox's imported emails (sender memory, the LLM, the local sorter, as the
//! user's mode allows), stores each decision with its source, confidence and summary, learns from
//! the confident ones, records the AI's usage, and queues one archive run for what was sorted.
//! Emails below the confidence threshold wait in *Needs review*, still in the inbox. With no
//! categories yet, emails simply wait.

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{ArchiveMessages, EnqueueOptions, Job, JobContext, JobError, enqueue};
use crate::config::SortingMode;
use crate::db;
use crate::db::ai_usage::AiUsage;
use crate::db::emails::Email;
use crate::db::sorter_models::SorterModel;
use crate::services::sorting::email_text;
use crate::sorting::llm::{LlmError, Usage};
use crate::sorting::local::{CategorySeed, LocalModel};
use crate::sorting::pipeline::{self, Candidate, Decision, Plan, SenderMemory, Source, sender_key};
use crate::sorting::settings::UserAiSettings;
use crate::sorting::text::EmailText;

/// Emails sorted per round; a run keeps going until none are left.
const ROUND: i64 = 100;
/// AI decisions at least this sure teach the local sorter.
const LEARN_FROM_AI_ABOVE: f64 = 0.8;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SortEmails {
    pub mailbox_id: String,
}

impl SortEmails {
    pub fn unique_key(mailbox_id: &str) -> String {
        format!("sort:{mailbox_id}")
    }

    /// Queues a sort unless one is waiting or running (a running one picks new emails up itself).
    pub fn enqueue_for(conn: &mut db::DbConn, mailbox_id: &str, now: NaiveDateTime) -> db::QueryResult<()> {
        let options = EnqueueOptions { unique_key: Some(Self::unique_key(mailbox_id)), ..Default::default() };
        enqueue(conn, &SortEmails { mailbox_id: mailbox_id.to_owned() }, options, now).map(drop)
    }
}

/// What a round loaded from the database.
struct Loaded {
    user_id: String,
    settings: UserAiSettings,
    categories: Vec<CategorySeed>,
    emails: Vec<Email>,
    model: LocalModel,
    memory: SenderMemory,
    spent_today: i64,
}

impl Job for SortEmails {
    const KIND: &'static str = "sort_emails";
    const TIMEOUT: Option<Duration> = Some(Duration::from_secs(900));

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        loop {
            let Some(loaded) = self.load(ctx).await? else { return Ok(()) };
            let count = loaded.emails.len();
            let mode = loaded.settings.mode().unwrap_or(ctx.config.sorting.mode);
            let within_budget =
                loaded.settings.daily_budget_microdollars().is_none_or(|budget| loaded.spent_today < budget);
            let llm = ctx.llm.as_deref().filter(|_| mode != SortingMode::Local && within_budget);
            let candidates: Vec<Candidate> = loaded.emails.iter().map(candidate).collect();
            let plan = Plan { mode, llm, model: &loaded.model, memory: &loaded.memory, categories: &loaded.categories };
            let outcome = pipeline::sort(&plan, &candidates).await;
            let stopped = outcome.stopped.clone();
            self.store(ctx, loaded, outcome.decisions, outcome.usage).await?;
            match stopped {
                Some(LlmError::RateLimited(wait)) => return Err(JobError::Snooze(wait)),
                Some(error) => return Err(JobError::Retry(error.to_string())),
                None if count < ROUND as usize => return Ok(()),
                None => {}
            }
        }
    }
}

fn candidate(email: &Email) -> Candidate {
    Candidate { email_id: email.id.clone(), text: email_text(email) }
}

impl SortEmails {
    async fn load(&self, ctx: &JobContext) -> Result<Option<Loaded>, JobError> {
        let (mailbox_id, now) = (self.mailbox_id.clone(), ctx.clock.now());
        let threshold = ctx.config.sorting.sender_memory_threshold;
        ctx.db(move |conn| {
            let Some(mailbox) = db::mailboxes::find(conn, &mailbox_id)? else { return Ok(None) };
            let categories: Vec<CategorySeed> = db::categories::list_for_user(conn, &mailbox.user_id)?
                .into_iter()
                .map(|c| CategorySeed { id: c.id, name: c.name, description: c.description })
                .collect();
            if categories.is_empty() {
                return Ok(None);
            }
            let emails = db::emails::list_in_state(conn, &mailbox_id, "imported", ROUND)?;
            if emails.is_empty() {
                return Ok(None);
            }
            let user = db::users::find(conn, &mailbox.user_id)?.ok_or_else(|| JobError::Permanent("no user".into()))?;
            let mut model = match db::sorter_models::find(conn, &user.id)? {
                Some(stored) => serde_json::from_str(&stored.model).unwrap_or_else(|error| {
                    tracing::warn!(user_id = user.id, %error, "the stored local sorter is unreadable; starting again");
                    LocalModel::seeded(&categories)
                }),
                None => LocalModel::seeded(&categories),
            };
            model.sync_categories(&categories);
            let keys: Vec<String> = emails.iter().filter_map(|e| sender_key(&candidate(e).text)).collect();
            let entries: HashMap<String, (String, i64)> = db::sender_memory::find_many(conn, &user.id, &keys)?
                .into_iter()
                .map(|m| (m.sender_key, (m.category_id, m.count)))
                .collect();
            let spent_today = db::ai_usage::find(conn, &user.id, &day(now))?.map_or(0, |u| u.cost_microdollars);
            Ok(Some(Loaded {
                settings: UserAiSettings::parse(&user.ai_settings),
                user_id: user.id,
                categories,
                emails,
                model,
                memory: SenderMemory { entries, threshold },
                spent_today,
            }))
        })
        .await
    }

    async fn store(
        &self,
        ctx: &JobContext,
        loaded: Loaded,
        decisions: Vec<Decision>,
        usage: Usage,
    ) -> Result<(), JobError> {
        let (mailbox_id, now) = (self.mailbox_id.clone(), ctx.clock.now());
        let threshold = ctx.config.sorting.confidence_threshold;
        let archive_at = now + chrono::Duration::from_std(ctx.config.sorting.archive_delay).unwrap_or_default();
        let prices = (ctx.config.openai.price_input_per_million, ctx.config.openai.price_output_per_million);
        ctx.db(move |conn| {
            let Loaded { user_id, emails, mut model, .. } = loaded;
            let texts: HashMap<&str, EmailText> = emails.iter().map(|e| (e.id.as_str(), email_text(e))).collect();
            db::transaction(conn, |conn| {
                let mut sorted = 0;
                for decision in &decisions {
                    let is_sure = decision.category_id.is_some() && decision.confidence >= threshold;
                    let state = if is_sure { "sorted" } else { "needs_review" };
                    let category = decision.category_id.as_deref().filter(|_| is_sure);
                    let written = db::emails::record_decision(
                        conn,
                        &decision.email_id,
                        "imported",
                        state,
                        category,
                        decision.source.as_str(),
                        decision.confidence,
                        &decision.summary,
                        now,
                    )?;
                    let (Some(category_id), true, Some(text)) =
                        (category, written, texts.get(decision.email_id.as_str()))
                    else {
                        continue;
                    };
                    sorted += 1;
                    if let Some(key) = sender_key(text) {
                        db::sender_memory::record(conn, &user_id, &key, category_id, now)?;
                    }
                    if decision.source == Source::Ai && decision.confidence >= LEARN_FROM_AI_ABOVE {
                        model.learn(text, category_id);
                    }
                }
                let stored = SorterModel {
                    user_id: user_id.clone(),
                    model: serde_json::to_string(&model).map_err(|e| JobError::Permanent(e.to_string()))?,
                    examples: i64::try_from(model.examples()).unwrap_or(i64::MAX),
                    updated_at: now,
                };
                db::sorter_models::save(conn, &stored)?;
                if usage.calls > 0 {
                    db::ai_usage::add(conn, &usage_row(&user_id, now, usage, prices))?;
                }
                if sorted > 0 {
                    let options = EnqueueOptions {
                        unique_key: Some(ArchiveMessages::unique_key(&mailbox_id)),
                        run_at: Some(archive_at),
                        ..Default::default()
                    };
                    enqueue(
                        conn,
                        &ArchiveMessages { mailbox_id: mailbox_id.clone(), email_ids: Vec::new() },
                        options,
                        now,
                    )?;
                }
                Ok::<_, JobError>(())
            })
        })
        .await
    }
}

/// The usage panel's day: UTC.
pub fn day(now: NaiveDateTime) -> String {
    now.format("%Y-%m-%d").to_string()
}

pub(crate) fn usage_row(user_id: &str, now: NaiveDateTime, usage: Usage, (input, output): (f64, f64)) -> AiUsage {
    // Prices are dollars per million tokens, which is microdollars per token.
    let cost = usage.prompt_tokens as f64 * input + usage.completion_tokens as f64 * output;
    AiUsage {
        user_id: user_id.to_owned(),
        day: day(now),
        calls: i64::try_from(usage.calls).unwrap_or(i64::MAX),
        prompt_tokens: i64::try_from(usage.prompt_tokens).unwrap_or(i64::MAX),
        completion_tokens: i64::try_from(usage.completion_tokens).unwrap_or(i64::MAX),
        cost_microdollars: cost.round() as i64,
    }
}
