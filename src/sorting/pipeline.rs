//! The sorting pipeline for a batch of emails: sender memory first (no model call), then the LLM in
//! batches (each rejected answer retried alone), then the local sorter for whatever is left, as the
//! mode allows. It decides; the `sort_emails` job loads and stores.

use std::collections::HashMap;

use super::llm::{LlmError, LlmSorter, Usage};
use super::local::{CategorySeed, LocalModel};
use super::summary::summarize;
use super::text::EmailText;
use crate::config::SortingMode;

/// Characters of an extractive summary.
const SUMMARY_CHARS: usize = 240;
/// How sure sender memory is: it only speaks after several agreeing, uncorrected decisions.
const SENDER_MEMORY_CONFIDENCE: f64 = 0.95;

/// Where a decision came from, as stored in `emails.sort_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    SenderMemory,
    Local,
    Ai,
    User,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::SenderMemory => "sender_memory",
            Source::Local => "local",
            Source::Ai => "ai",
            Source::User => "you",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Candidate {
    pub email_id: String,
    pub text: EmailText,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub email_id: String,
    /// `None`: nothing fits; the email waits for review.
    pub category_id: Option<String>,
    pub confidence: f64,
    pub summary: String,
    pub source: Source,
}

/// The key sender memory files an email under: its list, else its sender's address.
pub fn sender_key(text: &EmailText) -> Option<String> {
    match &text.list_id {
        Some(list) if !list.trim().is_empty() => Some(format!("list:{}", list.trim().to_ascii_lowercase())),
        _ if !text.from_address.trim().is_empty() => {
            Some(format!("from:{}", text.from_address.trim().to_ascii_lowercase()))
        }
        _ => None,
    }
}

/// What sender memory knows: key → (category id, agreeing decisions in a row).
#[derive(Debug, Clone, Default)]
pub struct SenderMemory {
    pub entries: HashMap<String, (String, i64)>,
    pub threshold: i64,
}

impl SenderMemory {
    fn category_for(&self, text: &EmailText) -> Option<&str> {
        let key = sender_key(text)?;
        let (category, count) = self.entries.get(&key)?;
        // A List-Id names one publication, so its mail is alike sooner than an address's, which
        // may send receipts and offers alike: lists need one agreeing decision fewer.
        let needed = if key.starts_with("list:") { (self.threshold - 1).max(2) } else { self.threshold };
        (*count >= needed).then_some(category.as_str())
    }
}

/// Everything one run needs.
pub struct Plan<'a> {
    pub mode: SortingMode,
    /// `None` when no AI is configured or the user's budget for today is spent.
    pub llm: Option<&'a LlmSorter>,
    pub model: &'a LocalModel,
    pub memory: &'a SenderMemory,
    pub categories: &'a [CategorySeed],
}

/// The run's decisions, what the AI cost, and why it stopped early (a 429, or the AI being down in
/// LLM-only mode); emails without a decision stay where they were.
#[derive(Debug, Default)]
pub struct Outcome {
    pub decisions: Vec<Decision>,
    pub usage: Usage,
    pub stopped: Option<LlmError>,
}

pub async fn sort(plan: &Plan<'_>, candidates: &[Candidate]) -> Outcome {
    let mut outcome = Outcome::default();
    let mut rest = Vec::new();
    for candidate in candidates {
        let remembered =
            plan.memory.category_for(&candidate.text).filter(|id| plan.categories.iter().any(|c| c.id == *id));
        match remembered {
            Some(category_id) => outcome.decisions.push(Decision {
                email_id: candidate.email_id.clone(),
                category_id: Some(category_id.to_owned()),
                confidence: SENDER_MEMORY_CONFIDENCE,
                summary: summarize(&candidate.text.subject, &candidate.text.body, SUMMARY_CHARS),
                source: Source::SenderMemory,
            }),
            None => rest.push(candidate),
        }
    }
    let mut left_for_local: Vec<&Candidate> = Vec::new();
    match (plan.mode, plan.llm) {
        (SortingMode::Local, _) | (SortingMode::Hybrid, None) => left_for_local = rest,
        (SortingMode::Llm, None) => {} // nothing may decide them: they wait
        (mode, Some(llm)) => {
            let batches = batches(&rest, llm.settings().batch_size.max(1));
            for (index, batch) in batches.iter().enumerate() {
                match ask(llm, batch, plan.categories, &mut outcome.usage).await {
                    Ok((decisions, failed)) => {
                        outcome.decisions.extend(decisions);
                        match mode {
                            SortingMode::Hybrid => left_for_local.extend(failed),
                            _ => outcome.decisions.extend(failed.into_iter().map(for_review)),
                        }
                    }
                    Err(error @ LlmError::RateLimited(_)) => {
                        outcome.stopped = Some(error);
                        break;
                    }
                    Err(error) if mode == SortingMode::Hybrid => {
                        // Sorting never blocks on the AI: the local sorter takes this batch and the rest.
                        tracing::warn!(%error, "the AI failed; the local sorter takes over for this run");
                        left_for_local.extend(batches[index..].iter().flatten().copied());
                        break;
                    }
                    Err(error) => {
                        outcome.stopped = Some(error);
                        break;
                    }
                }
            }
        }
    }
    for candidate in left_for_local {
        outcome.decisions.push(local_decision(plan.model, candidate));
    }
    outcome
}

/// Requests to make: an email that looks like it tries to instruct the model goes alone, so whatever
/// it makes the model do can only touch its own answer; the others go `batch_size` at a time.
fn batches<'c>(candidates: &[&'c Candidate], batch_size: usize) -> Vec<Vec<&'c Candidate>> {
    let (suspicious, plain): (Vec<&Candidate>, Vec<&Candidate>) =
        candidates.iter().partition(|c| looks_like_instructions(&c.text));
    let mut batches: Vec<Vec<&Candidate>> = suspicious.into_iter().map(|c| vec![c]).collect();
    batches.extend(plain.chunks(batch_size).map(<[&Candidate]>::to_vec));
    batches
}

/// Phrases that address a language model rather than a person.
const INSTRUCTION_MARKERS: &[&str] = &[
    "ignore all previous",
    "ignore previous instructions",
    "ignore the above",
    "disregard previous",
    "disregard all previous",
    "system prompt",
    "you are now",
    "<<<",
    "respond only with",
    "as an ai",
];

fn looks_like_instructions(text: &EmailText) -> bool {
    let haystack = format!("{} {}", text.subject, text.body).to_lowercase();
    INSTRUCTION_MARKERS.iter().any(|marker| haystack.contains(marker))
}

/// One batch, then each rejected email alone; returns decisions and the emails still without one.
async fn ask<'c>(
    llm: &LlmSorter,
    batch: &[&'c Candidate],
    categories: &[CategorySeed],
    usage: &mut Usage,
) -> Result<(Vec<Decision>, Vec<&'c Candidate>), LlmError> {
    let emails: Vec<(String, EmailText)> = batch.iter().map(|c| (c.email_id.clone(), c.text.clone())).collect();
    let answer = llm.sort_batch(&emails, categories).await?;
    usage.add(answer.usage);
    let mut decisions: Vec<Decision> = answer.decisions.into_iter().map(ai_decision).collect();
    let mut failed = Vec::new();
    for id in &answer.rejected {
        let Some(candidate) = batch.iter().find(|c| &c.email_id == id) else { continue };
        if batch.len() == 1 {
            failed.push(*candidate);
            continue;
        }
        let alone = [(candidate.email_id.clone(), candidate.text.clone())];
        let retried = llm.sort_batch(&alone, categories).await?;
        usage.add(retried.usage);
        match retried.decisions.into_iter().next() {
            Some(decision) => decisions.push(ai_decision(decision)),
            None => failed.push(*candidate),
        }
    }
    Ok((decisions, failed))
}

fn ai_decision(decision: super::llm::LlmDecision) -> Decision {
    Decision {
        email_id: decision.email_id,
        category_id: decision.category_id,
        confidence: decision.confidence,
        summary: decision.summary,
        source: Source::Ai,
    }
}

fn local_decision(model: &LocalModel, candidate: &Candidate) -> Decision {
    let prediction = model.classify(&candidate.text);
    Decision {
        email_id: candidate.email_id.clone(),
        category_id: prediction.as_ref().map(|p| p.category_id.clone()),
        confidence: prediction.map_or(0.0, |p| p.confidence),
        summary: summarize(&candidate.text.subject, &candidate.text.body, SUMMARY_CHARS),
        source: Source::Local,
    }
}

/// No sorter could place it (LLM-only mode): it waits for the person, with a summary.
fn for_review(candidate: &Candidate) -> Decision {
    Decision {
        email_id: candidate.email_id.clone(),
        category_id: None,
        confidence: 0.0,
        summary: summarize(&candidate.text.subject, &candidate.text.body, SUMMARY_CHARS),
        source: Source::Ai,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(from: &str, list: Option<&str>) -> EmailText {
        EmailText { from_address: from.into(), list_id: list.map(str::to_owned), ..EmailText::default() }
    }

    #[test]
    fn sender_memory_speaks_after_the_threshold_and_lists_one_decision_sooner() {
        let mut memory = SenderMemory { entries: HashMap::new(), threshold: 3 };
        memory.entries.insert("from:shop@example.com".into(), ("receipts".into(), 2));
        memory.entries.insert("list:news.example.com".into(), ("news".into(), 2));
        assert_eq!(memory.category_for(&text("shop@example.com", None)), None, "an address needs three");
        assert_eq!(memory.category_for(&text("x@example.com", Some("News.Example.com"))), Some("news"));
        memory.entries.insert("from:shop@example.com".into(), ("receipts".into(), 3));
        assert_eq!(memory.category_for(&text("Shop@Example.com", None)), Some("receipts"));
        assert_eq!(sender_key(&text("", None)), None);
    }
}
