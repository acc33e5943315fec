//! `resort_emails`: after categories changed, sorts the user's mail of the last N days again on the
//! server, with progress in `resorts`. The person's own decisions are kept; sender memory is not
//! asked (it would repeat the old decisions); an email moves only when a sorter is sure. Archived
//! mail that moves gets its Gmail label swapped; mail waiting for review that is now placed is
//! archived.

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{ArchiveMessages, EnqueueOptions, Job, JobContext, JobError, RelabelMessages, enqueue};
use crate::db;
use crate::db::emails::Email;
use crate::services::sorting::email_text;
use crate::sorting::llm::LlmError;
use crate::sorting::local::{CategorySeed, LocalModel};
use crate::sorting::pipeline::{self, Candidate, Plan, SenderMemory};
use crate::sorting::settings::UserAiSettings;

const ROUND: i64 = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResortEmails {
    pub user_id: String,
    pub since: NaiveDateTime,
}

impl ResortEmails {
    pub fn unique_key(user_id: &str) -> String {
        format!("resort:{user_id}")
    }
}

struct Round {
    emails: Vec<Email>,
    categories: Vec<CategorySeed>,
    names: HashMap<String, String>,
    model: LocalModel,
    settings: UserAiSettings,
}

impl Job for ResortEmails {
    const KIND: &'static str = "resort_emails";
    const TIMEOUT: Option<Duration> = Some(Duration::from_secs(3600));

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (user_id, since) = (self.user_id.clone(), self.since);
        let total = ctx.db(move |conn| Ok(db::emails::count_resortable(conn, &user_id, since)?)).await?;
        let (mut done, mut changed, mut after) = (0i64, 0i64, String::new());
        loop {
            let Some(round) = self.load(ctx, &after).await? else { break };
            let count = round.emails.len();
            after = round.emails.last().map(|e| e.id.clone()).unwrap_or_default();
            let mode = round.settings.mode().unwrap_or(ctx.config.sorting.mode);
            let plan = Plan {
                mode,
                llm: ctx.llm.as_deref().filter(|_| mode != crate::config::SortingMode::Local),
                model: &round.model,
                memory: &SenderMemory::default(),
                categories: &round.categories,
            };
            let candidates: Vec<Candidate> = round.emails.iter().map(candidate).collect();
            let outcome = pipeline::sort(&plan, &candidates).await;
            changed += self.apply(ctx, round, outcome.decisions).await?;
            done += i64::try_from(count).unwrap_or(i64::MAX);
            let (user_id, total) = (self.user_id.clone(), total.max(done));
            ctx.db(move |conn| Ok(db::resorts::progress(conn, &user_id, total, done, changed)?)).await?;
            match outcome.stopped {
                Some(LlmError::RateLimited(wait)) => return Err(JobError::Snooze(wait)),
                Some(error) => return Err(JobError::Retry(error.to_string())),
                None if count < ROUND as usize => break,
                None => {}
            }
        }
        let (user_id, now) = (self.user_id.clone(), ctx.clock.now());
        ctx.db(move |conn| Ok(db::resorts::finish(conn, &user_id, now)?)).await?;
        tracing::info!(user_id = self.user_id, done, changed, "re-sort finished");
        Ok(())
    }
}

fn candidate(email: &Email) -> Candidate {
    Candidate { email_id: email.id.clone(), text: email_text(email) }
}

impl ResortEmails {
    async fn load(&self, ctx: &JobContext, after: &str) -> Result<Option<Round>, JobError> {
        let (user_id, since, after) = (self.user_id.clone(), self.since, after.to_owned());
        ctx.db(move |conn| {
            let Some(user) = db::users::find(conn, &user_id)? else { return Ok(None) };
            let stored = db::categories::list_for_user(conn, &user_id)?;
            if stored.is_empty() {
                return Ok(None);
            }
            let emails = db::emails::list_resortable(conn, &user_id, since, &after, ROUND)?;
            if emails.is_empty() {
                return Ok(None);
            }
            let names = stored.iter().map(|c| (c.id.clone(), c.name.clone())).collect();
            let categories: Vec<CategorySeed> = stored
                .into_iter()
                .map(|c| CategorySeed { id: c.id, name: c.name, description: c.description })
                .collect();
            let mut model = match db::sorter_models::find(conn, &user_id)? {
                Some(stored) => serde_json::from_str(&stored.model).unwrap_or_else(|_| LocalModel::seeded(&categories)),
                None => LocalModel::seeded(&categories),
            };
            model.sync_categories(&categories);
            Ok(Some(Round { emails, categories, names, model, settings: UserAiSettings::parse(&user.ai_settings) }))
        })
        .await
    }

    /// Stores the decisions that move an email; returns how many moved.
    async fn apply(&self, ctx: &JobContext, round: Round, decisions: Vec<pipeline::Decision>) -> Result<i64, JobError> {
        let (now, threshold) = (ctx.clock.now(), ctx.config.sorting.confidence_threshold);
        ctx.db(move |conn| {
            let Round { emails, names, .. } = round;
            let by_id: HashMap<&str, &Email> = emails.iter().map(|e| (e.id.as_str(), e)).collect();
            db::transaction(conn, |conn| {
                let mut changed = 0;
                let mut archive: Vec<String> = Vec::new();
                // (mailbox, new category) → emails and the categories they leave.
                let mut relabel: HashMap<(String, String), (Vec<String>, Vec<String>)> = HashMap::new();
                for decision in &decisions {
                    let (Some(category_id), Some(email)) =
                        (&decision.category_id, by_id.get(decision.email_id.as_str()))
                    else {
                        continue;
                    };
                    if decision.confidence < threshold || email.category_id.as_ref() == Some(category_id) {
                        continue;
                    }
                    let state = if email.state == "archived" { "archived" } else { "sorted" };
                    let source = decision.source.as_str();
                    db::emails::record_resort(conn, &email.id, state, category_id, source, decision.confidence, now)?;
                    changed += 1;
                    if email.state == "archived" {
                        let name = names.get(category_id).cloned().unwrap_or_default();
                        let (ids, previous) = relabel.entry((email.mailbox_id.clone(), name)).or_default();
                        ids.push(email.id.clone());
                        if let Some(old) = email.category_id.as_ref().and_then(|id| names.get(id))
                            && !previous.contains(old)
                        {
                            previous.push(old.clone());
                        }
                    } else if !archive.contains(&email.mailbox_id) {
                        archive.push(email.mailbox_id.clone());
                    }
                }
                for mailbox_id in archive {
                    let options = EnqueueOptions {
                        unique_key: Some(ArchiveMessages::unique_key(&mailbox_id)),
                        ..Default::default()
                    };
                    enqueue(conn, &ArchiveMessages { mailbox_id, email_ids: Vec::new() }, options, now)?;
                }
                for ((mailbox_id, category), (email_ids, previous_categories)) in relabel {
                    let job = RelabelMessages { mailbox_id, email_ids, category, previous_categories };
                    enqueue(conn, &job, EnqueueOptions::default(), now)?;
                }
                Ok::<_, JobError>(changed)
            })
        })
        .await
    }
}
