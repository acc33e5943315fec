//! PostgreSQL restarted under load: while 1,000 messages go through the pipeline and signed-in pages
//! are asked for from a few tasks, the test's own server is stopped (`immediate`, then `fast`) and
//! started again. Pages fail with an error page while it is down and answer again within seconds
//! without help; every message ends stored, sorted and archived once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emailgator::db;
use tokio_util::sync::CancellationToken;

use super::{
    ACCOUNT, as_overrides, assert_arrived_once, assert_no_job_stuck, connected_with_categories, is_done, message,
    pipeline_settings, states, wait_for_retries,
};
use crate::support::fake_google::FakeGoogle;
use crate::support::private_postgres::{PrivatePostgres, StopMode};
use crate::support::{TestApp, TestDb, wait_until};

const MESSAGES: usize = 1000;
/// How long the server stays down each time.
const DOWN_FOR: Duration = Duration::from_millis(2500);
/// A request that takes longer than this counts as hanging.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How soon after the server is back the pages must answer again.
const RECOVERY_LIMIT: Duration = Duration::from_secs(15);

/// What the load asks for: a category's page (session, emails, counts) and the health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Category,
    Health,
}

/// One request of the load and how it ended.
#[derive(Debug)]
struct Answer {
    page: Page,
    sent: Instant,
    received: Instant,
    /// The status, or the client's error (a refused connection, a time-out) when there was no answer.
    status: Result<u16, String>,
    /// Whether a failure said so in words: the error page, or health's "database unavailable".
    is_explained: bool,
}

impl Answer {
    fn is_ok(&self) -> bool {
        self.status == Ok(200)
    }

    /// A 5xx that says what happened.
    fn is_explained_failure(&self) -> bool {
        self.is_explained && self.status.as_ref().is_ok_and(|status| (500..600).contains(status))
    }
}

/// When one outage happened.
#[derive(Debug)]
struct Outage {
    mode: StopMode,
    /// `pg_ctl stop` was about to run.
    stopping: Instant,
    /// `pg_ctl stop` had returned: the server was down.
    down: Instant,
    /// `pg_ctl start` was about to run.
    restarting: Instant,
    /// `pg_ctl start` had returned: the server accepted connections.
    up: Instant,
}

#[tokio::test]
async fn postgresql_restarted_under_load_recovers_without_help_and_loses_nothing() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("skipped: PostgreSQL only (set TEST_DATABASE_URL); the test starts a server of its own");
        return;
    }
    // Declared first so that it is dropped last, after the app.
    let server = PrivatePostgres::start().await;
    let fake = FakeGoogle::start().await;
    let mut settings = pipeline_settings(&fake);
    // Fail a request after a second without a connection instead of the default ten, so that an
    // outage of 2.5 s shows as error pages rather than as slow pages.
    settings.push(("EMAILGATOR__DATABASE__CONNECT_TIMEOUT_SECS".into(), "1".into()));
    // A job's lease outlasts the outage, as in production (60 s against a restart of seconds), so
    // leases are renewed once the server is back: those of jobs the runner still holds, and not that
    // of a job whose outcome could not be written, which would otherwise stay `running` for good.
    settings.push(("EMAILGATOR__JOBS__LEASE_SECS".into(), "6".into()));
    let mut app = TestApp::spawn_on(Arc::new(TestDb::attach(server.url())), &as_overrides(&settings)).await;
    let mailbox = connected_with_categories(&fake, &app).await;
    let category = db::categories::list_for_user(&mut app.conn(), &mailbox.user_id).expect("categories")[0].id.clone();
    let delivered: Vec<String> = (0..MESSAGES).map(|n| fake.deliver(ACCOUNT, &message(n))).collect();

    let answers = Arc::new(Mutex::new(Vec::new()));
    let stop_load = CancellationToken::new();
    let load: Vec<_> = [Page::Category, Page::Category, Page::Category, Page::Health, Page::Health]
        .into_iter()
        .map(|page| {
            let url = match page {
                Page::Category => app.url(&format!("/categories/{category}")),
                Page::Health => app.url("/health"),
            };
            tokio::spawn(ask_again_and_again(app.client.clone(), url, page, answers.clone(), stop_load.clone()))
        })
        .collect();

    wait_until(60, "the import is under way", || async {
        states(&app, &mailbox.id).is_some_and(|s| s.values().sum::<i64>() > 0)
    })
    .await;
    let mut outages = Vec::new();
    for mode in [StopMode::Immediate, StopMode::Fast] {
        println!("stopping PostgreSQL ({mode:?}) at {:?}", states(&app, &mailbox.id));
        let stopping = Instant::now();
        server.stop(mode).await;
        let down = Instant::now();
        tokio::time::sleep(DOWN_FOR).await;
        let restarting = Instant::now();
        server.start_again().await;
        let outage = Outage { mode, stopping, down, restarting, up: Instant::now() };
        wait_until(RECOVERY_LIMIT.as_secs(), "the pages answer again after the restart", || async {
            let answers = answers.lock().expect("answers");
            [Page::Category, Page::Health].into_iter().all(|page| first_ok_after(&answers, page, outage.up).is_some())
        })
        .await;
        outages.push(outage);
    }

    wait_until(120, "everything is sorted and archived after the restarts", || async {
        is_done(&app, &mailbox.id, MESSAGES)
    })
    .await;
    stop_load.cancel();
    for task in load {
        task.await.expect("a load task");
    }
    let answers = std::mem::take(&mut *answers.lock().expect("answers"));
    report_and_check(&answers, &outages);

    wait_for_retries(&app).await;
    app.stop().await;
    assert_no_job_stuck(&app);
    // A commit lost with the server after Gmail's answer means asking Gmail again.
    assert_arrived_once(&app, &fake, &mailbox, &delivered, 10);
}

/// Asks for `url` every 50 ms until `stop`, writing down every answer.
async fn ask_again_and_again(
    client: reqwest::Client,
    url: String,
    page: Page,
    answers: Arc<Mutex<Vec<Answer>>>,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        let sent = Instant::now();
        let (status, is_explained) = match client.get(&url).timeout(CLIENT_TIMEOUT).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                let is_explained = match page {
                    // A 503 while no connection can be had; a query cut off mid-way may still end as a 500.
                    Page::Category => {
                        (body.contains("The database is not answering") || body.contains("Something went wrong"))
                            && body.contains("Nothing was lost")
                    }
                    Page::Health => body.contains("\"database\":\"unavailable\""),
                };
                (Ok(status), is_explained)
            }
            Err(error) => (Err(format!("{error:#}")), false),
        };
        let answer = Answer { page, sent, received: Instant::now(), status, is_explained };
        answers.lock().expect("answers").push(answer);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first successful answer to a request for `page` sent after `since`.
fn first_ok_after(answers: &[Answer], page: Page, since: Instant) -> Option<&Answer> {
    answers.iter().filter(|a| a.page == page && a.sent >= since && a.is_ok()).min_by_key(|a| a.sent)
}

/// Prints what the load saw around each outage and checks it: every request answered in time,
/// every failure an explained 5xx, nothing served while the server was down, and once a page
/// answered again after the restart, every later request until the next outage too.
fn report_and_check(answers: &[Answer], outages: &[Outage]) {
    let unanswered: Vec<&Answer> = answers.iter().filter(|a| a.status.is_err()).collect();
    assert!(unanswered.is_empty(), "every request got an answer in time: {unanswered:#?}");
    let unexplained: Vec<&Answer> = answers.iter().filter(|a| !(a.is_ok() || a.is_explained_failure())).collect();
    assert!(unexplained.is_empty(), "every failure is a 5xx that says what happened: {unexplained:#?}");
    let slowest = answers.iter().map(|a| a.received - a.sent).max().unwrap_or_default();
    println!("{} requests, slowest answer {slowest:?}", answers.len());

    for (n, outage) in outages.iter().enumerate() {
        let next_outage = outages.get(n + 1).map(|o| o.stopping);
        println!(
            "{:?} stop: pg_ctl stop took {:?}, the server was down for {:?}, pg_ctl start took {:?}",
            outage.mode,
            outage.down - outage.stopping,
            outage.up - outage.down,
            outage.up - outage.restarting
        );
        for page in [Page::Category, Page::Health] {
            let of_page = || answers.iter().filter(move |a| a.page == page);
            let while_down: Vec<&Answer> =
                of_page().filter(|a| a.sent >= outage.down && a.received <= outage.restarting).collect();
            let served = while_down.iter().filter(|a| a.is_ok()).count();
            let back = first_ok_after(answers, page, outage.up).expect("answered again after the restart");
            let failed_while_starting = of_page().filter(|a| a.sent >= outage.up && a.sent < back.sent).count();
            let failed_after = of_page()
                .filter(|a| a.sent > back.received && next_outage.is_none_or(|next| a.received < next))
                .filter(|a| !a.is_ok())
                .count();
            println!(
                "{:?} stop, {page:?}: {} requests while down ({served} served, {} failed, slowest {:?}); \
                 answering again {:?} after the server was up ({failed_while_starting} failed before that); \
                 {failed_after} failed afterwards",
                outage.mode,
                while_down.len(),
                while_down.len() - served,
                while_down.iter().map(|a| a.received - a.sent).max().unwrap_or_default(),
                back.received - outage.up,
            );
            assert!(!while_down.is_empty(), "requests were made while the server was down");
            assert_eq!(served, 0, "nothing can be served from a database that is down");
            assert!(back.received - outage.up < RECOVERY_LIMIT, "answering again within {RECOVERY_LIMIT:?}");
            assert_eq!(failed_after, 0, "once answering again, every request succeeds until the next outage");
        }
    }
}
