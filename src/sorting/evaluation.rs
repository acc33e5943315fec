//! `emailgator bench sorting`: the labelled evaluation set (`evaluation/`, written for EmailGator)
//! run through the local sorter (zero-shot and after learning 20 %), its speed, and the hybrid
//! pipeline against the fake OpenAI-compatible server compared with one email per call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::fake_llm::{FakeLlm, FencedCategory, FencedEmail, Oracle};
use super::llm::{LlmSettings, LlmSorter};
use super::local::{self, CategorySeed, LocalModel};
use super::pipeline::{self, Candidate, Plan, SenderMemory, Source, sender_key};
use super::text::EmailText;
use crate::config::SortingMode;

const CATEGORIES: &str = include_str!("evaluation/categories.json");
const EMAILS: &str = include_str!("evaluation/emails.jsonl");

#[derive(Deserialize)]
struct CategoryRow {
    key: String,
    name: String,
    description: String,
}

#[derive(Deserialize)]
struct EmailRow {
    id: String,
    label: String,
    from_name: String,
    from_address: String,
    list_id: Option<String>,
    subject: String,
    body: String,
}

/// The evaluation set: categories (id = key) and labelled emails with their ids.
pub struct Dataset {
    pub categories: Vec<CategorySeed>,
    pub emails: Vec<(String, EmailText, String)>,
}

pub fn dataset() -> anyhow::Result<Dataset> {
    let categories: Vec<CategoryRow> = serde_json::from_str(CATEGORIES)?;
    let mut emails = Vec::new();
    for line in EMAILS.lines().filter(|l| !l.trim().is_empty()) {
        let row: EmailRow = serde_json::from_str(line)?;
        let text = EmailText {
            from_name: row.from_name,
            from_address: row.from_address,
            list_id: row.list_id,
            subject: row.subject,
            body: row.body,
        };
        emails.push((row.id, text, row.label));
    }
    let categories =
        categories.into_iter().map(|c| CategorySeed { id: c.key, name: c.name, description: c.description }).collect();
    Ok(Dataset { categories, emails })
}

/// Runs everything and prints the report.
pub async fn run() -> anyhow::Result<()> {
    let data = dataset()?;
    let labelled: Vec<(EmailText, String)> = data.emails.iter().map(|(_, t, l)| (t.clone(), l.clone())).collect();
    println!("bench sorting: {} emails, {} categories", data.emails.len(), data.categories.len());

    let evaluation = local::evaluate(&data.categories, &labelled);
    println!("local sorter: {evaluation:?}");

    let speed = classification_speed(&data);
    println!("local sorter speed: {speed:.0} emails/s (one core)");

    for threshold in [3, 2] {
        let hybrid = hybrid_against_fake(&data, threshold).await?;
        report_hybrid(threshold, &hybrid);
    }
    Ok(())
}

fn report_hybrid(threshold: i64, hybrid: &HybridReport) {
    println!("hybrid with sender memory after {threshold} agreeing decisions:");
    println!(
        "  vs one email per call: prompt tokens per email {:.1} vs {:.1} ({:.0} % of the baseline); \
         calls {} vs {}; cost per email ${:.6} vs ${:.6}",
        hybrid.prompt_per_email,
        hybrid.baseline_prompt_per_email,
        100.0 * hybrid.prompt_per_email / hybrid.baseline_prompt_per_email.max(f64::MIN_POSITIVE),
        hybrid.calls,
        hybrid.baseline_calls,
        hybrid.cost_per_email,
        hybrid.baseline_cost_per_email,
    );
    println!(
        "  accuracy {:.1} %; sorted without a model call: {:.1} % overall, {:.1} % of the second half \
         (sender memory warm); by source {:?}",
        100.0 * hybrid.accuracy,
        100.0 * hybrid.without_model_call,
        100.0 * hybrid.without_model_call_warm,
        hybrid.by_source,
    );
}

fn classification_speed(data: &Dataset) -> f64 {
    let mut model = LocalModel::seeded(&data.categories);
    for (_, text, label) in data.emails.iter().step_by(5) {
        model.learn(text, label);
    }
    let started = Instant::now();
    let mut classified = 0usize;
    while started.elapsed() < Duration::from_secs(2) {
        for (_, text, _) in &data.emails {
            std::hint::black_box(model.classify(text));
            classified += 1;
        }
    }
    classified as f64 / started.elapsed().as_secs_f64()
}

#[derive(Debug, Default)]
pub struct HybridReport {
    pub prompt_per_email: f64,
    pub baseline_prompt_per_email: f64,
    pub calls: usize,
    pub baseline_calls: usize,
    pub cost_per_email: f64,
    pub baseline_cost_per_email: f64,
    pub accuracy: f64,
    pub without_model_call: f64,
    pub without_model_call_warm: f64,
    pub by_source: HashMap<&'static str, usize>,
}

/// The fake model answers with the true label (an ideal model), so what is measured is the cost of
/// asking, and how often sender memory makes asking unnecessary.
fn label_oracle(data: &Dataset) -> Oracle {
    let labels: HashMap<(String, String), String> =
        data.emails.iter().map(|(_, t, l)| ((t.from_address.clone(), t.subject.clone()), l.clone())).collect();
    let names: HashMap<String, String> = data.categories.iter().map(|c| (c.name.clone(), c.id.clone())).collect();
    Arc::new(move |email: &FencedEmail, categories: &[FencedCategory]| {
        let address = email.from.rsplit('<').next().unwrap_or_default().trim_end_matches('>').trim().to_owned();
        let label = labels.get(&(address, email.subject.clone()))?;
        let category = categories.iter().find(|c| names.get(&c.name) == Some(label))?;
        Some((category.key.clone(), 0.9))
    })
}

pub async fn hybrid_against_fake(data: &Dataset, threshold: i64) -> anyhow::Result<HybridReport> {
    let fake = FakeLlm::start(label_oracle(data));
    let settings = |batch_size| LlmSettings {
        base_url: fake.base_url(),
        api_key: "bench".into(),
        model: "fake-small".into(),
        batch_size,
        max_body_chars: 2000,
        timeout: Duration::from_secs(30),
        price_input_per_million: 0.15,
        price_output_per_million: 0.60,
    };
    let count = data.emails.len().max(1) as f64;
    let cost = |(prompt, completion): (u64, u64)| (prompt as f64 * 0.15 + completion as f64 * 0.60) / 1e6;

    // The baseline: every email on its own call, same prompt format and cap.
    let single = LlmSorter::new(settings(1));
    for (id, text, _) in &data.emails {
        single.sort_batch(&[(id.clone(), text.clone())], &data.categories).await?;
    }
    let baseline_tokens = fake.tokens();
    let baseline_calls = fake.calls();

    // Hybrid: mail arrives ten at a time; sender memory and the local model learn as it goes.
    let llm = LlmSorter::new(settings(10));
    let mut model = LocalModel::seeded(&data.categories);
    let mut memory = SenderMemory { entries: HashMap::new(), threshold };
    let labels: HashMap<&str, &str> = data.emails.iter().map(|(id, _, l)| (id.as_str(), l.as_str())).collect();
    let texts: HashMap<&str, &EmailText> = data.emails.iter().map(|(id, t, _)| (id.as_str(), t)).collect();
    let (mut correct, mut without_call, mut without_call_warm) = (0usize, 0usize, 0usize);
    let mut by_source: HashMap<&'static str, usize> = HashMap::new();
    let half = data.emails.len() / 2;
    for (round, chunk) in data.emails.chunks(10).enumerate() {
        let candidates: Vec<Candidate> =
            chunk.iter().map(|(id, text, _)| Candidate { email_id: id.clone(), text: text.clone() }).collect();
        let plan = Plan {
            mode: SortingMode::Hybrid,
            llm: Some(&llm),
            model: &model,
            memory: &memory,
            categories: &data.categories,
        };
        let outcome = pipeline::sort(&plan, &candidates).await;
        anyhow::ensure!(outcome.stopped.is_none(), "the fake stopped the run: {:?}", outcome.stopped);
        for decision in outcome.decisions {
            *by_source.entry(decision.source.as_str()).or_default() += 1;
            let position = round * 10;
            if decision.source == Source::SenderMemory {
                without_call += 1;
                if position >= half {
                    without_call_warm += 1;
                }
            }
            let Some(category) = decision.category_id else { continue };
            if labels.get(decision.email_id.as_str()) == Some(&category.as_str()) {
                correct += 1;
            }
            let Some(text) = texts.get(decision.email_id.as_str()) else { continue };
            if let Some(key) = sender_key(text) {
                let entry = memory.entries.entry(key).or_insert_with(|| (category.clone(), 0));
                if entry.0 == category {
                    entry.1 += 1;
                } else {
                    *entry = (category.clone(), 1);
                }
            }
            if decision.source == Source::Ai && decision.confidence >= 0.8 {
                model.learn(text, &category);
            }
        }
    }
    let (total_prompt, total_completion) = fake.tokens();
    let hybrid_tokens = (total_prompt - baseline_tokens.0, total_completion - baseline_tokens.1);
    let second_half = (data.emails.len() - half).max(1) as f64;
    Ok(HybridReport {
        prompt_per_email: hybrid_tokens.0 as f64 / count,
        baseline_prompt_per_email: baseline_tokens.0 as f64 / count,
        calls: fake.calls() - baseline_calls,
        baseline_calls,
        cost_per_email: cost(hybrid_tokens) / count,
        baseline_cost_per_email: cost(baseline_tokens) / count,
        accuracy: correct as f64 / count,
        without_model_call: without_call as f64 / count,
        without_model_call_warm: without_call_warm as f64 / second_half,
        by_source,
    })
}
