//! `bench unsubscribe`: the agent on the fixture pages with real chromium — attempts per minute with
//! N concurrent browsers, p50 time per one-click and per browser attempt, memory per browser session,
//! chromium/chromedriver processes left afterwards, success rate and false successes; then the simple
//! confirm page alone, the measure issue 6 sets a target for.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::fixture_pages::{CASES, FixturePages, READER};
use crate::automation::agent::{AgentSettings, InProcessAgent};
use crate::automation::{AttemptRequest, Unsubscriber};
use crate::config::Config;
use crate::domain::unsubscribe::{Method, Status, Target};

/// Attempts on the simple confirm page after the mixed run.
const SIMPLE_ATTEMPTS: usize = 10;

pub async fn run(config: Config, attempts: usize, browsers: usize) -> anyhow::Result<()> {
    crate::startup::install_tls_provider();
    let fixtures = FixturePages::start()?;
    let scratch = std::env::temp_dir().join(format!("emailgator-bench-browser-{}", uuid::Uuid::new_v4().simple()));
    let mut settings = AgentSettings::from_config(&config);
    // The benchmark's own fixture server on loopback is let through, as in the tests.
    settings.guard.test_loopback = vec![format!("127.0.0.1:{}", fixtures.port).parse()?];
    settings.concurrency = browsers;
    settings.scratch_dir = scratch.clone();
    // The rules alone are measured: an AI would add its own latency and the fixtures' truth assumes none.
    settings.ai = None;
    let agent = InProcessAgent::new(settings);
    anyhow::ensure!(
        agent.is_browser_installed(),
        "chromium and chromedriver are needed: apt-get install -y chromium chromium-driver"
    );

    // One-click: sequential, 20 times.
    let mut one_click_ms = Vec::new();
    for _ in 0..20 {
        let request = AttemptRequest {
            email_address: READER.into(),
            targets: vec![Target { method: Method::OneClick, url: fixtures.url("/one-click") }],
            is_ai_allowed: true,
        };
        let started = Instant::now();
        let report = agent.attempt(&request).await?;
        anyhow::ensure!(report.status == Status::Succeeded, "one-click failed: {}", report.reason);
        one_click_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    // Browser attempts over every fixture, `browsers` at a time, while memory is sampled.
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (sampling, marker) = (sampling.clone(), scratch.display().to_string());
        tokio::task::spawn_blocking(move || {
            let mut per_session = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                let sessions = browser_memory(&marker);
                per_session.extend(sessions.values().map(|kib| *kib as f64 / 1024.0));
                std::thread::sleep(Duration::from_millis(200));
            }
            per_session
        })
    };
    let load_before = load_average();
    let started = Instant::now();
    let results: Vec<(&'static str, &'static str, Status, f64)> =
        futures_util::stream::iter((0..attempts).map(|n| &CASES[n % CASES.len()]))
            .map(|case| {
                let (agent, fixtures) = (&agent, &fixtures);
                async move {
                    let (status, ms) = timed_attempt(agent, fixtures.url(case.path)).await;
                    (case.path, case.expected, status, ms)
                }
            })
            .buffer_unordered(browsers.max(1))
            .collect()
            .await;
    let elapsed = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let mut memory = sampler.await?;
    // The measure: the simple confirm page alone, `browsers` at a time, as a queue of them
    // would run (the mixed run above has only a few of them, the first one cold).
    let simple: Vec<(Status, f64)> = futures_util::stream::iter(0..SIMPLE_ATTEMPTS)
        .map(|_| timed_attempt(&agent, fixtures.url("/confirm")))
        .buffer_unordered(browsers.max(1))
        .collect()
        .await;
    let driver_pid = agent.chromedriver_pid().await;
    agent.shut_down().await;
    drop(agent);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let leftover_chromium = browser_memory(&scratch.display().to_string()).len();
    let leftover_driver = driver_pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
    let leftover_profiles = std::fs::read_dir(&scratch).map(|d| d.count()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&scratch);

    // Truth from the fixture server: successes reported beyond what it recorded are false.
    let mut reported: BTreeMap<&str, usize> = BTreeMap::new();
    let mut matches = 0;
    for (path, expected, status, _) in &results {
        if status.as_str() == *expected {
            matches += 1;
        }
        if *status == Status::Succeeded {
            *reported.entry(path).or_default() += 1;
        }
    }
    *reported.entry("/confirm").or_default() += simple.iter().filter(|(s, _)| *s == Status::Succeeded).count();
    let false_successes: usize = reported
        .iter()
        .map(|(path, n)| {
            let name = path.trim_start_matches('/').split('/').next().unwrap_or_default();
            n.saturating_sub(fixtures.records_of(name).len())
        })
        .sum();
    let should_succeed = results.iter().filter(|(_, e, ..)| *e == "succeeded").count();
    let did_succeed = results.iter().filter(|(_, e, s, _)| *e == "succeeded" && *s == Status::Succeeded).count();
    let simple_ms: Vec<f64> = simple.iter().map(|r| r.1).collect();
    let simple_max = simple_ms.iter().copied().fold(0.0, f64::max);
    let all_ms: Vec<f64> = results.iter().map(|r| r.3).collect();
    memory.sort_by(f64::total_cmp);
    println!(
        "bench unsubscribe: {attempts} browser attempts on {} fixtures with {browsers} browsers in {:.1}s = {:.1} attempts/min",
        CASES.len(),
        elapsed.as_secs_f64(),
        attempts as f64 / elapsed.as_secs_f64() * 60.0
    );
    println!(
        "  one-click p50 {:.0} ms; browser attempt p50 {:.0} ms (all fixtures), max {:.0} ms",
        p50(one_click_ms),
        p50(all_ms.clone()),
        all_ms.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "  simple confirm page alone: p50 {:.0} ms, max {simple_max:.0} ms over {SIMPLE_ATTEMPTS} attempts, {browsers} at a time",
        p50(simple_ms)
    );
    println!(
        "  load average (1 min) before / after the browser attempts: {load_before} / {} on {} cores",
        load_average(),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    println!(
        "  memory per browser session: median {:.0} MiB, max {:.0} MiB (chromium processes of one profile, RSS summed)",
        memory.get(memory.len() / 2).copied().unwrap_or(0.0),
        memory.last().copied().unwrap_or(0.0)
    );
    println!(
        "  outcome as expected {matches}/{attempts}; success rate on pages that can succeed {did_succeed}/{should_succeed}; \
         false successes {false_successes}"
    );
    println!(
        "  left after the run: chromium processes {leftover_chromium}, chromedriver {}, profile directories {leftover_profiles}; \
         forbidden-service connections {}",
        if leftover_driver { "still running" } else { "gone" },
        fixtures.forbidden_connections()
    );
    Ok(())
}

/// The one-minute load average, to say how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split(' ').next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// One browser attempt on `url`: its outcome and how long the caller waited for it, in ms.
async fn timed_attempt(agent: &InProcessAgent, url: String) -> (Status, f64) {
    let request = AttemptRequest {
        email_address: READER.into(),
        targets: vec![Target { method: Method::Page, url }],
        is_ai_allowed: true,
    };
    let began = Instant::now();
    let status = agent.attempt(&request).await.map_or(Status::Failed, |r| r.status);
    (status, began.elapsed().as_secs_f64() * 1000.0)
}

fn p50(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Resident memory (KiB) of the chromium processes of each profile under `marker`, by profile.
fn browser_memory(marker: &str) -> BTreeMap<String, u64> {
    let mut by_profile: BTreeMap<String, u64> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return by_profile };
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let Some(at) = cmdline.find(marker) else { continue };
        let profile = cmdline[at..].split(' ').next().unwrap_or_default().to_owned();
        let rss = super::resident_kib(pid).unwrap_or(0);
        *by_profile.entry(profile).or_default() += rss;
    }
    by_profile
}
