//! Gmail answering one request in ten with 429 (Retry-After) or 5xx, at random: a 1,000-message sync
//! still ends with everything imported, sorted and archived exactly once.

use super::{
    ACCOUNT, as_overrides, assert_arrived_once, assert_no_job_stuck, chaos_seed, connected_with_categories, is_done,
    message, pipeline_settings, wait_for_retries,
};
use crate::support::fake_google::FakeGoogle;
use crate::support::{TestApp, wait_until};

const MESSAGES: usize = 1000;

#[tokio::test]
async fn gmail_failing_one_request_in_ten_at_random_still_delivers_everything_exactly_once() {
    let seed = chaos_seed("Gmail faults");
    let fake = FakeGoogle::start().await;
    let mut settings = pipeline_settings(&fake);
    // Retries keep the product's doubling backoff, from 200 ms instead of 15 s: a job unlucky
    // three times in a row would otherwise wait minutes. Nothing is killed here, so leases can be
    // long enough that a busy machine never lets one expire under a running job.
    for (key, value) in [("EMAILGATOR__JOBS__RETRY_BASE_MS", "200"), ("EMAILGATOR__JOBS__LEASE_SECS", "30")] {
        settings.push((key.to_owned(), value.to_owned()));
    }
    // The real runner and cron (poll every 2 s), in process.
    let mut app = TestApp::spawn_with(&as_overrides(&settings)).await;
    let mailbox = connected_with_categories(&fake, &app).await;
    let delivered: Vec<String> = (0..MESSAGES).map(|n| fake.deliver(ACCOUNT, &message(n))).collect();

    fake.fail_randomly(0.10, seed);
    let started = std::time::Instant::now();
    wait_until(240, "every message is imported, sorted and archived despite the faults", || async {
        is_done(&app, &mailbox.id, MESSAGES)
    })
    .await;
    let injected = fake.stop_failing_randomly();
    println!("{MESSAGES} messages with {injected} injected faults: done after {:?}", started.elapsed());
    assert!(injected >= 50, "the faults really happened: {injected}");
    wait_for_retries(&app).await;

    // Stopped as SIGTERM would, so no maintenance job is caught mid-run.
    app.stop().await;
    assert_no_job_stuck(&app);
    // Gmail refused every faulty call before acting on it, so nothing needs archiving twice.
    assert_arrived_once(&app, &fake, &mailbox, &delivered, 1);
}
