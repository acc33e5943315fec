//! The unsubscribe agent against fixture pages in real chromium (in-process and through
//! `emailgator sidecar`), the RFC 8058 one-click POST, mailto through the fake Gmail, and the
//! service: one attempt per subscription, authentication checks, later mail flagged.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use emailgator::automation::agent::{AgentSettings, InProcessAgent};
use emailgator::automation::{AttemptRequest, Unsubscriber};
use emailgator::config::Config;
use emailgator::db;
use emailgator::domain::unsubscribe::{Method, Status, Target};
use emailgator::services::unsubscribe::{self as service, SkipReason};
use emailgator::sorting::fake_llm::{FakeLlm, Fault, keyword_oracle};
use futures_util::StreamExt;

use crate::support::TestApp;
use crate::support::browser::has_browser;
use crate::support::fixture_pages::{CASES, FixturePages, READER};

fn agent_config(fixtures: &FixturePages, extra: &[(&str, &str)]) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env: HashMap<String, String> = HashMap::from([
        ("EMAILGATOR__DATA_DIR".to_owned(), dir.path().display().to_string()),
        ("EMAILGATOR__UNSUBSCRIBE__TEST_ALLOW_LOOPBACK".to_owned(), fixtures.allow_pair()),
        ("EMAILGATOR__UNSUBSCRIBE__STEP_TIMEOUT_MS".to_owned(), "2500".to_owned()),
        ("RUST_LOG".to_owned(), "warn".to_owned()),
    ]);
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    (Config::from_sources(None, &env).expect("valid settings"), dir)
}

fn page(url: String) -> AttemptRequest {
    AttemptRequest {
        email_address: READER.into(),
        targets: vec![Target { method: Method::Page, url }],
        is_ai_allowed: true,
    }
}

/// Runs every fixture through `agent` (two at a time) and compares each report with what the
/// fixture server saw. No false successes: "succeeded" exactly when the server recorded it.
async fn check_every_fixture(agent: &dyn Unsubscriber, fixtures: &FixturePages) {
    let reports: Vec<_> =
        futures_util::stream::iter(CASES)
            .map(|case| async move {
                (case, agent.attempt(&page(fixtures.url(case.path))).await.expect("the agent answers"))
            })
            .buffer_unordered(2)
            .collect()
            .await;
    let mut problems = Vec::new();
    for (case, report) in &reports {
        let name = case.path.trim_start_matches('/').split('/').next().unwrap_or_default();
        let seen = fixtures.records_of(name);
        let expected_records: Vec<String> = case.record.map(|r| vec![r.to_owned()]).unwrap_or_default();
        if report.status.as_str() != case.expected || seen != expected_records {
            problems.push(format!(
                "{}: expected {} with records {:?}, got {} ({}) with records {:?}; steps {:?}",
                case.path,
                case.expected,
                expected_records,
                report.status.as_str(),
                report.reason,
                seen,
                report.steps
            ));
        }
        if report.status == Status::Succeeded {
            assert!(!seen.is_empty(), "{}: a false success", case.path);
        }
        if case.path != "/redirect-out" {
            assert!(report.screenshot_png_base64.is_some(), "{}: a screenshot of the final page", case.path);
        }
    }
    assert!(problems.is_empty(), "fixtures that did not end as they should:\n{}", problems.join("\n"));
    assert_eq!(fixtures.forbidden_connections(), 0, "the blocked loopback service was never connected to");
    let blocked =
        reports.iter().find(|(c, _)| c.path == "/redirect-out").map(|(_, r)| r.reason.clone()).unwrap_or_default();
    assert!(
        blocked.contains(&format!("127.0.0.1:{}", fixtures.forbidden_port)) && blocked.contains("loopback"),
        "{blocked}"
    );
}

#[tokio::test]
async fn every_fixture_page_in_real_chromium_ends_as_the_server_saw_it() {
    if !has_browser() {
        return;
    }
    let fixtures = FixturePages::start().expect("fixture pages");
    let (config, _dir) = agent_config(&fixtures, &[]);
    let scratch = tempfile::tempdir().expect("scratch");
    let mut settings = AgentSettings::from_config(&config);
    // Its own profile folder, so other tests' browsers do not count.
    settings.scratch_dir = scratch.path().to_owned();
    let agent = InProcessAgent::new(settings);
    check_every_fixture(&agent, &fixtures).await;
    let driver = agent.chromedriver_pid().await.expect("chromedriver was started");
    agent.shut_down().await;
    let leftover: Vec<_> = std::fs::read_dir(scratch.path()).expect("scratch").filter_map(Result::ok).collect();
    assert!(leftover.is_empty(), "every profile, pre-started ones included, is deleted: {leftover:?}");
    // A killed process leaves /proc a moment after the kill returns.
    crate::support::wait_until(10, "chromedriver has stopped", || async {
        !std::path::Path::new(&format!("/proc/{driver}")).exists()
    })
    .await;
    let marker = scratch.path().display().to_string();
    crate::support::wait_until(10, "no chromium of this agent is left running", || async {
        std::fs::read_dir("/proc")
            .expect("proc")
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .all(|cmdline| !String::from_utf8_lossy(&cmdline).contains(&marker))
    })
    .await;
}

#[tokio::test]
async fn one_click_posts_exactly_the_rfc_8058_body_without_cookies_and_does_not_follow_a_redirect() {
    let fixtures = FixturePages::start().expect("fixture pages");
    let (config, _dir) = agent_config(&fixtures, &[]);
    let agent = InProcessAgent::new(AgentSettings::from_config(&config));
    let one_click = |path: &str| AttemptRequest {
        email_address: READER.into(),
        targets: vec![Target { method: Method::OneClick, url: fixtures.url(path) }],
        is_ai_allowed: true,
    };
    let report = agent.attempt(&one_click("/one-click")).await.expect("report");
    assert_eq!(report.status, Status::Succeeded, "{report:?}");
    assert!(report.reason.contains("HTTP 200"), "the evidence is the 2xx: {}", report.reason);
    assert_eq!(fixtures.records(), ["one-click"]);

    let report = agent.attempt(&one_click("/one-click-redirect")).await.expect("report");
    assert_eq!(report.status, Status::Failed, "{report:?}");
    assert_eq!(fixtures.records(), ["one-click", "one-click-redirect"], "the redirect was not followed");

    // Not an allowed test pair, and plain http: refused before any request.
    let outside = AttemptRequest {
        email_address: READER.into(),
        targets: vec![Target {
            method: Method::OneClick,
            url: format!("http://127.0.0.1:{}/x", fixtures.forbidden_port),
        }],
        is_ai_allowed: true,
    };
    let report = agent.attempt(&outside).await.expect("report");
    assert_ne!(report.status, Status::Succeeded);
    assert_eq!(fixtures.forbidden_connections(), 0);
}

/// `emailgator sidecar` as a child process, killed on drop.
struct SidecarProcess {
    child: Child,
    url: String,
}

impl Drop for SidecarProcess {
    fn drop(&mut self) {
        // SIGTERM, as ops would stop it: the sidecar then stops its chromedriver. SIGKILL would orphan it.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sidecar(
    fixtures: &FixturePages,
    data_dir: &std::path::Path,
    token: &str,
    extra_env: &[(&str, &str)],
) -> SidecarProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emailgator"))
        .arg("sidecar")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("EMAILGATOR__DATA_DIR", data_dir)
        .env("SIDECAR_TOKEN", token)
        .env("EMAILGATOR__SIDECAR__LISTEN", "127.0.0.1:0")
        .env("EMAILGATOR__UNSUBSCRIBE__TEST_ALLOW_LOOPBACK", fixtures.allow_pair())
        .env("EMAILGATOR__UNSUBSCRIBE__STEP_TIMEOUT_MS", "2500")
        .env("RUST_LOG", "warn")
        .envs(extra_env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start emailgator sidecar");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("the sidecar prints its address");
    let url = line.trim().rsplit(' ').next().expect("an address").to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "unexpected first line {line:?}");
    SidecarProcess { child, url }
}

#[tokio::test]
async fn the_sidecar_passes_the_same_fixture_tests_and_refuses_a_wrong_token() {
    let fixtures = FixturePages::start().expect("fixture pages");
    let dir = tempfile::tempdir().expect("tempdir");
    let sidecar = start_sidecar(&fixtures, dir.path(), "sidecar-secret-token", &[]);
    let client = crate::support::http_client().build().expect("client");
    let health = client.get(format!("{}/health", sidecar.url)).send().await.expect("health");
    assert_eq!(health.status(), 200);
    let wrong = client
        .post(format!("{}/v1/attempts", sidecar.url))
        .bearer_auth("sidecar-secret-tokem")
        .json(&page(fixtures.url("/confirm")))
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), 401);
    let missing = client
        .post(format!("{}/v1/attempts", sidecar.url))
        .json(&page(fixtures.url("/confirm")))
        .send()
        .await
        .expect("post");
    assert_eq!(missing.status(), 401);
    assert!(fixtures.records().is_empty(), "nothing ran for a refused request");

    let (config, _dir) =
        agent_config(&fixtures, &[("SIDECAR_URL", sidecar.url.as_str()), ("SIDECAR_TOKEN", "sidecar-secret-token")]);
    let remote: Arc<dyn Unsubscriber> = emailgator::automation::from_config(&config);
    let one_click = AttemptRequest {
        email_address: READER.into(),
        targets: vec![Target { method: Method::OneClick, url: fixtures.url("/one-click") }],
        is_ai_allowed: true,
    };
    let report = remote.attempt(&one_click).await.expect("report");
    assert_eq!(report.status, Status::Succeeded, "{report:?}");
    if !has_browser() {
        return;
    }
    check_every_fixture(remote.as_ref(), &fixtures).await;
}

// ---- an AI choosing steps the rules cannot ----

/// The fake OpenAI server's scripted answers for the page steps, in order.
fn scripted_ai(answers: &[&str]) -> FakeLlm {
    let ai = FakeLlm::start(keyword_oracle());
    for answer in answers {
        ai.push_fault(Fault::Answer((*answer).to_owned()));
    }
    ai
}

fn agent_with_ai(fixtures: &FixturePages, ai: &FakeLlm) -> (InProcessAgent, tempfile::TempDir) {
    let base_url = ai.base_url();
    let (config, dir) = agent_config(fixtures, &[("OPENAI_API_KEY", "test-key"), ("OPENAI_BASE_URL", &base_url)]);
    (InProcessAgent::new(AgentSettings::from_config(&config)), dir)
}

fn actions(report: &emailgator::automation::AttemptReport) -> Vec<&str> {
    report.steps.iter().map(|s| s.action.as_str()).collect()
}

#[tokio::test]
async fn with_an_ai_a_control_in_unknown_words_is_used_and_success_is_still_read_from_the_page() {
    if !has_browser() {
        return;
    }
    let fixtures = FixturePages::start().expect("fixture pages");
    let ai = scripted_ai(&[r#"{"action":"fill_email","element":1}"#, r#"{"action":"click","element":2}"#]);
    let (agent, _dir) = agent_with_ai(&fixtures, &ai);
    let report = agent.attempt(&page(fixtures.url("/fi"))).await.expect("report");
    // A person whose AI mode is local, or whose budget is spent: the AI is not asked.
    let without_ai = AttemptRequest { is_ai_allowed: false, ..page(fixtures.url("/fi")) };
    let manual = agent.attempt(&without_ai).await.expect("report");
    agent.shut_down().await;

    assert_eq!(manual.status, Status::NeedsManual, "{manual:?}");
    assert_eq!(manual.ai_usage.calls, 0);
    assert_eq!(report.status, Status::Succeeded, "{report:?}");
    // What the calls cost comes back with the report, to be counted into the person's budget.
    let (prompt_tokens, completion_tokens) = ai.tokens();
    assert_eq!(report.ai_usage.calls, 2);
    assert!(prompt_tokens > 0);
    assert_eq!((report.ai_usage.prompt_tokens, report.ai_usage.completion_tokens), (prompt_tokens, completion_tokens));
    assert_eq!(fixtures.records_of("fi"), [format!("fi:{READER}")], "the address the AI had typed was sent");
    assert!(report.reason.contains("You have been unsubscribed"), "the page's words decide: {}", report.reason);
    assert!(actions(&report).contains(&"AI fill") && actions(&report).contains(&"AI press"), "{report:?}");
    assert_eq!(ai.calls(), 2);
    let prompt = &ai.requests()[0].user;
    assert!(prompt.contains("button type=submit label=\"Peru tilaus\""), "{prompt}");
    assert!(prompt.contains("Etkö halua"), "the page text is sent: {prompt}");
    assert!(!prompt.contains(READER), "the address itself is never sent to the AI");
}

#[tokio::test]
async fn ai_answers_that_do_not_check_out_are_refused_and_never_end_as_a_success() {
    if !has_browser() {
        return;
    }
    let fixtures = FixturePages::start().expect("fixture pages");
    let cases = [
        ("/fi", "Press the round button, it unsubscribes you.", "not a JSON object"),
        ("/fi", r#"{"action":"click","element":9}"#, "not on the list"),
        ("/fi", r#"{"action":"fill_email","element":1,"value":"someone@else.example"}"#, "only the account's own"),
        ("/jatka", r#"{"action":"fill_email","element":1}"#, "password or payment field"),
    ];
    let ai = scripted_ai(&cases.map(|(_, answer, _)| answer));
    let (agent, _dir) = agent_with_ai(&fixtures, &ai);
    for (path, answer, why) in cases {
        let report = agent.attempt(&page(fixtures.url(path))).await.expect("report");
        assert_eq!(report.status, Status::NeedsManual, "{answer}: {report:?}");
        assert!(report.reason.contains(why), "{answer}: {}", report.reason);
        assert!(actions(&report).contains(&"AI answer refused"), "recorded as a step: {report:?}");
    }
    agent.shut_down().await;
    assert!(fixtures.records().is_empty(), "nothing was submitted: {:?}", fixtures.records());
    assert_eq!(ai.calls(), cases.len(), "one question per refused answer");
}

#[tokio::test]
async fn the_sidecar_uses_its_own_ai_configuration() {
    if !has_browser() {
        return;
    }
    let fixtures = FixturePages::start().expect("fixture pages");
    let ai = scripted_ai(&[r#"{"action":"fill_email","element":1}"#, r#"{"action":"click","element":2}"#]);
    let dir = tempfile::tempdir().expect("tempdir");
    let base_url = ai.base_url();
    let sidecar = start_sidecar(
        &fixtures,
        dir.path(),
        "sidecar-secret-token",
        &[("OPENAI_API_KEY", "test-key"), ("OPENAI_BASE_URL", &base_url)],
    );
    let (config, _dir) =
        agent_config(&fixtures, &[("SIDECAR_URL", sidecar.url.as_str()), ("SIDECAR_TOKEN", "sidecar-secret-token")]);
    let remote = emailgator::automation::from_config(&config);
    let report = remote.attempt(&page(fixtures.url("/fi"))).await.expect("report");
    assert_eq!(report.status, Status::Succeeded, "{report:?}");
    assert_eq!(fixtures.records_of("fi"), [format!("fi:{READER}")]);
    assert_eq!(ai.calls(), 2);
    assert_eq!(report.ai_usage.calls, 2, "the sidecar reports what its AI calls cost");
}

// ---- the service and the job ----

struct Seeded {
    user_id: String,
    mailbox_id: String,
}

fn seed(app: &TestApp, address: &str) -> Seeded {
    let mut conn = app.conn();
    let now = app.now();
    let user = db::users::User {
        id: db::new_id(),
        email: address.into(),
        name: "Reader".into(),
        is_admin: false,
        ai_settings: "{}".into(),
        created_at: now,
        updated_at: now,
        google_subject: None,
        is_keeping_inbox: false,
        is_labelling: true,
    };
    db::users::insert(&mut conn, &user).expect("user");
    let dir = tempfile::tempdir().expect("maildir").keep();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).expect("maildir folders");
    }
    let mailbox = emailgator::services::mailboxes::add_maildir(
        &mut conn,
        &emailgator::domain::EmailAddress::parse(address).expect("address"),
        &dir,
        now,
    )
    .expect("mailbox");
    Seeded { user_id: user.id, mailbox_id: mailbox.id }
}

fn insert_email(
    app: &TestApp,
    mailbox_id: &str,
    list_id: Option<&str>,
    from: &str,
    auth: Option<&str>,
    urls: &[String],
    is_one_click: bool,
) -> String {
    let now = app.now();
    let mut email = db::emails::discovered(mailbox_id, &db::new_id(), now);
    email.state = "imported".into();
    email.list_id = list_id.map(str::to_owned);
    email.from_address = Some(from.into());
    email.from_name = Some("Weekly News".into());
    email.auth_result = auth.map(str::to_owned);
    email.list_unsubscribe_urls = serde_json::to_string(urls).expect("json");
    email.is_one_click = is_one_click;
    email.subject = "This week".into();
    db::emails::insert(&mut app.conn(), &email).expect("email");
    email.id
}

const DKIM_PASS: &str = "mx.example.com; dkim=pass header.d=news.example; spf=pass";

#[tokio::test]
async fn fifty_emails_from_one_list_make_one_attempt_and_unauthenticated_or_spam_mail_is_skipped_unless_insisted() {
    let app = TestApp::spawn().await;
    let seeded = seed(&app, "reader@example.com");
    let urls = vec!["https://news.example/u/1".to_owned()];
    let mut ids: Vec<String> = (0..50)
        .map(|_| {
            insert_email(
                &app,
                &seeded.mailbox_id,
                Some("weekly.news.example"),
                "news@news.example",
                Some(DKIM_PASS),
                &urls,
                true,
            )
        })
        .collect();
    let forged =
        insert_email(&app, &seeded.mailbox_id, None, "prize@forged.example", Some("mx; dkim=fail"), &urls, false);
    ids.push(forged.clone());
    ids.push("someone-elses-email".into());

    let summary = service::request(&mut app.conn(), &seeded.user_id, &ids, false, app.now()).expect("request");
    assert_eq!(summary.started.len(), 1, "one attempt for one list");
    assert_eq!(summary.started[0].email_count, 50);
    assert_eq!(summary.skipped, vec![(forged.clone(), SkipReason::NotAuthenticated)]);
    assert_eq!(app.count_jobs(emailgator::domain::JobState::Available), 1);

    // Asked again while the first waits: nothing new is queued.
    let again = service::request(&mut app.conn(), &seeded.user_id, &ids[..1], false, app.now()).expect("request");
    assert!(again.started.is_empty());
    assert_eq!(again.skipped[0].1, SkipReason::AlreadyInProgress);

    let insisted = service::request(&mut app.conn(), &seeded.user_id, std::slice::from_ref(&forged), true, app.now())
        .expect("request");
    assert_eq!(insisted.started.len(), 1, "the user insisted");
    let subscriptions = service::subscriptions(&mut app.conn(), &seeded.user_id, app.now()).expect("list");
    assert_eq!(subscriptions.len(), 2);
    let weekly = subscriptions.iter().find(|s| s.key == "list:weekly.news.example").expect("the list");
    assert_eq!((weekly.status.as_str(), weekly.recent_emails), ("pending", 50));
    // The jobs would go to the network; this test is about the request only.
    app.conn().execute_batch("DELETE FROM jobs").expect("clear");
}

#[tokio::test]
async fn a_one_click_unsubscribe_runs_as_a_job_records_its_evidence_and_later_mail_is_flagged() {
    let fixtures = FixturePages::start().expect("fixture pages");
    let app = TestApp::spawn_with(&[("EMAILGATOR__UNSUBSCRIBE__TEST_ALLOW_LOOPBACK", &fixtures.allow_pair())]).await;
    let seeded = seed(&app, "reader@example.com");
    let urls = vec!["mailto:leave@news.example".to_owned(), fixtures.url("/one-click")];
    let id = insert_email(
        &app,
        &seeded.mailbox_id,
        Some("weekly.news.example"),
        "news@news.example",
        Some(DKIM_PASS),
        &urls,
        true,
    );
    service::request(&mut app.conn(), &seeded.user_id, std::slice::from_ref(&id), false, app.now()).expect("request");
    app.run_pending_jobs().await;

    assert_eq!(fixtures.records(), ["one-click"]);
    let attempts = service::attempts_for_email(&mut app.conn(), &seeded.user_id, &id).expect("attempts");
    assert_eq!(attempts.len(), 1);
    let attempt = &attempts[0];
    assert_eq!((attempt.status, attempt.method), (Status::Succeeded, Some(Method::OneClick)), "{attempt:?}");
    assert!(attempt.reason.as_deref().unwrap_or_default().contains("HTTP 200"));
    assert!(!attempt.steps.is_empty());
    assert!(service::attempts_for_email(&mut app.conn(), "another-user", &id).expect("attempts").is_empty());

    // A later newsletter from the same list arrives: sorted as usual, flagged.
    let later = chrono::Utc::now() + chrono::Duration::minutes(5);
    let raw = format!(
        "From: Weekly News <news@news.example>\r\nTo: reader@example.com\r\nSubject: Still here\r\n\
         List-Id: Weekly <weekly.news.example>\r\nDate: {}\r\nMessage-ID: <later@news.example>\r\n\r\nHello again\r\n",
        later.to_rfc2822()
    );
    let now = app.now();
    db::emails::insert_if_new(&mut app.conn(), &db::emails::discovered(&seeded.mailbox_id, "later-1", now))
        .expect("discovered");
    let fetched = emailgator::clients::mail::FetchedMessage { raw: raw.into_bytes(), ..Default::default() };
    emailgator::services::imports::store_imports(
        &mut app.conn(),
        &seeded.mailbox_id,
        vec![("later-1".into(), emailgator::services::imports::Fetched::Message(fetched))],
        now,
    )
    .expect("import");
    let email =
        db::emails::find_by_provider_id(&mut app.conn(), &seeded.mailbox_id, "later-1").expect("q").expect("email");
    assert!(email.is_after_unsubscribe, "flagged as arrived after unsubscribe");
    let subscriptions = service::subscriptions(&mut app.conn(), &seeded.user_id, now).expect("list");
    assert_eq!((subscriptions[0].status.as_str(), subscriptions[0].emails_after_unsubscribe), ("succeeded", 1));
    assert!(!subscriptions[0].is_ignored, "not within the grace period");
    let after_grace = now + chrono::Duration::days(4);
    assert!(service::subscriptions(&mut app.conn(), &seeded.user_id, after_grace).expect("list")[0].is_ignored);
}

#[tokio::test]
async fn a_mailto_unsubscribe_is_sent_from_the_users_gmail_with_the_urls_recipient_subject_and_body() {
    use crate::google_accounts::{connect_gmail, sign_in_with_google, spawn_with_google};
    use crate::support::fake_google::FakeGoogle;

    let fake = FakeGoogle::start().await;
    let app = spawn_with_google(&fake, &[]).await;
    let address = "mailer@example.com";
    fake.add_account(address, "Mail Reader");
    let user_id = sign_in_with_google(&app, &fake, address).await;
    let mailbox = connect_gmail(&app, &fake, address).await;
    app.run_pending_jobs().await;
    let urls = vec!["mailto:leave@lists.example?subject=unsubscribe%20weekly&body=list%3Dweekly%0Aid%3D42".to_owned()];
    let id = insert_email(
        &app,
        &mailbox.id,
        Some("weekly.lists.example"),
        "news@lists.example",
        Some(DKIM_PASS),
        &urls,
        false,
    );
    service::request(&mut app.conn(), &user_id, std::slice::from_ref(&id), false, app.now()).expect("request");
    app.run_pending_jobs().await;

    let sent = fake.sent_messages(address);
    assert_eq!(sent.len(), 1, "one message sent");
    let parsed = emailgator::domain::mime::parse(&sent[0]);
    assert_eq!(parsed.from_address.as_deref(), Some(address));
    assert_eq!(parsed.to_addresses, ["leave@lists.example"]);
    assert_eq!(parsed.subject, "unsubscribe weekly");
    assert_eq!(
        parsed.text_body.as_deref().map(str::trim_end),
        Some("list=weekly\r\nid=42").map(|b| b.replace("\r\n", "\n")).as_deref()
    );
    let attempt = &service::attempts_for_email(&mut app.conn(), &user_id, &id).expect("attempts")[0];
    assert_eq!((attempt.status, attempt.method), (Status::Succeeded, Some(Method::Mailto)), "{attempt:?}");
    assert!(attempt.reason.as_deref().unwrap_or_default().contains("message id"), "{attempt:?}");
}

#[tokio::test]
async fn the_page_agent_may_ask_the_ai_only_in_the_persons_ai_mode_and_within_their_budget() {
    use emailgator::config::SortingMode;
    let app = TestApp::spawn().await;
    app.sign_in_as_owner().await;
    let user =
        db::users::find_by_email(&mut app.conn(), &app.state.config.local.owner_email).expect("q").expect("owner");
    let (now, conn) = (app.now(), &mut app.conn());
    let allowed = |conn: &mut db::DbConn, mode| service::is_ai_allowed(conn, &user.id, mode, now).expect("allowed");
    assert!(allowed(conn, SortingMode::Hybrid), "the server's AI mode, no budget");
    assert!(!allowed(conn, SortingMode::Local), "the server sorts locally");

    db::users::set_ai_settings(conn, &user.id, r#"{"mode":"local"}"#, now).expect("settings");
    assert!(!allowed(conn, SortingMode::Hybrid), "the person chose local sorting");

    db::users::set_ai_settings(conn, &user.id, r#"{"mode":"llm","daily_budget_usd":0.01}"#, now).expect("settings");
    assert!(allowed(conn, SortingMode::Local), "the person's AI mode, budget left");
    let spent = db::ai_usage::AiUsage {
        user_id: user.id.clone(),
        day: now.format("%Y-%m-%d").to_string(),
        calls: 3,
        prompt_tokens: 9_000,
        completion_tokens: 300,
        cost_microdollars: 10_000,
    };
    db::ai_usage::add(conn, &spent).expect("usage");
    assert!(!allowed(conn, SortingMode::Hybrid), "today's budget is spent");
}
