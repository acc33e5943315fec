//! Chaos: nothing is lost or doubled when the process is killed with SIGKILL at random points, when
//! Gmail answers 429 and 5xx at random, when PostgreSQL drops every connection during an import (every
//! 0.3–1.5 s, or every 50–300 ms), when PostgreSQL itself is restarted under load (`database_restart`:
//! pages fail in words while it is down and recover by themselves), when PostgreSQL turns read-only
//! during an import, and when the SQLite file cannot grow. Random choices come from a printed seed (`EMAILGATOR_CHAOS_SEED` replays one), and
//! `CHAOS_LOG=info` shows the app's log.

mod database_faults;
mod database_restart;
mod gmail_faults;
mod killed;

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use emailgator::db;
use emailgator::db::schema::jobs;

use crate::google_accounts::{connect_gmail, sign_in_with_google};
use crate::support::fake_google::FakeGoogle;
use crate::support::{TestApp, wait_until};

/// The Gmail account every chaos test syncs.
pub const ACCOUNT: &str = "chaos@example.com";

/// Job kinds that carry mail through the pipeline; none may be left waiting at the end.
const PIPELINE_KINDS: [&str; 3] = ["import_messages", "sort_emails", "archive_messages"];

/// The seed of this run's random choices: `EMAILGATOR_CHAOS_SEED`, or a fresh one; printed either way.
pub fn chaos_seed(test: &str) -> u64 {
    let seed = std::env::var("EMAILGATOR_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::random::<u64>() >> 12);
    println!("{test}: seed {seed} (EMAILGATOR_CHAOS_SEED={seed} replays it)");
    seed
}

/// Settings for an app that runs the whole pipeline by itself, quickly: jobs and cron on, `poll`
/// every 2 s (it asks for syncs and is the sorting safety net), short leases so a killed process's
/// jobs come back within seconds, archiving at once, and no quota wait against the fake.
pub fn pipeline_settings(fake: &FakeGoogle) -> Vec<(String, String)> {
    let mut settings = fake.settings();
    for (key, value) in [
        ("EMAILGATOR__GMAIL__QUOTA_UNITS_PER_SECOND", "1000000"),
        ("EMAILGATOR__JOBS__ENABLED", "true"),
        ("EMAILGATOR__CRON__ENABLED", "true"),
        ("EMAILGATOR__CRON__SCHEDULES__POLL", "*/2 * * * * *"),
        ("EMAILGATOR__CRON__LEADER_LEASE_SECS", "2"),
        ("EMAILGATOR__JOBS__LEASE_SECS", "2"),
        ("EMAILGATOR__JOBS__RESCUE_INTERVAL_SECS", "1"),
        ("EMAILGATOR__SORTING__ARCHIVE_DELAY_SECS", "0"),
    ] {
        settings.push((key.to_owned(), value.to_owned()));
    }
    if let Ok(filter) = std::env::var("CHAOS_LOG") {
        settings.push(("RUST_LOG".into(), filter));
    }
    settings
}

pub fn as_overrides(settings: &[(String, String)]) -> Vec<(&str, &str)> {
    settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A receipt or a flight booking, from a handful of senders, so the local sorter and sender memory
/// both have something to be sure of.
pub fn message(n: usize) -> Vec<u8> {
    let (from, subject, body) = if n.is_multiple_of(2) {
        (
            format!("Shop {} <orders{}@shop.example>", n % 5, n % 5),
            format!("Your order #{n} has shipped"),
            format!(
                "Thanks for your order. Your receipt: total {n}.00 EUR. The parcel ships today and arrives Friday."
            ),
        )
    } else {
        (
            format!("Air {} <trips{}@air.example>", n % 5, n % 5),
            format!("Your flight booking to Lisbon ({n})"),
            format!(
                "Your flight TP{n} departs Friday 08:40. Check-in opens 24 hours before departure. Hotel not included."
            ),
        )
    };
    format!(
        "From: {from}\r\nTo: {ACCOUNT}\r\nSubject: {subject}\r\nMessage-ID: <chaos-{n}@example.com>\r\n\
         Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A signed-in user with a connected, synced (empty) Gmail mailbox and two categories.
pub async fn connected_with_categories(fake: &FakeGoogle, app: &TestApp) -> db::mailboxes::Mailbox {
    fake.add_account(ACCOUNT, "Chaos Person");
    sign_in_with_google(app, fake, ACCOUNT).await;
    let mailbox = connect_gmail(app, fake, ACCOUNT).await;
    app.run_pending_jobs().await;
    // Mail may be delivered only once the connection's first sync is over: that sync lists just the
    // newest `backfill_max` messages and goes on from the history id it read, so mail delivered while
    // it runs counts as old mail, and past the cap is rightly never imported. The app's own runner
    // may have claimed that sync before `run_pending_jobs` looked, so wait for the cursor it records.
    wait_until(60, "the connection's first sync recorded where the next one starts", || async {
        let Ok(mut conn) = app.state.pool.get() else { return false };
        db::mailboxes::find(&mut conn, &mailbox.id).is_ok_and(|m| m.is_some_and(|m| m.sync_cursor.is_some()))
    })
    .await;
    for (position, (name, description)) in [
        ("Receipts", "Receipts, invoices, orders and shipping notices from shops"),
        ("Travel", "Flights, hotels, train tickets and trip itineraries"),
    ]
    .into_iter()
    .enumerate()
    {
        let category = db::categories::Category {
            id: db::new_id(),
            user_id: mailbox.user_id.clone(),
            name: name.into(),
            name_key: name.to_lowercase(),
            description: description.into(),
            position: position as i64,
            gmail_label_ids: "{}".into(),
            created_at: app.now(),
            updated_at: app.now(),
        };
        db::categories::insert(&mut app.conn(), &category).expect("category");
    }
    mailbox
}

/// The mailbox's emails by state; `None` when the database did not answer (a chaos test may have
/// just dropped the connection).
pub fn states(app: &TestApp, mailbox_id: &str) -> Option<BTreeMap<String, i64>> {
    let mut conn = app.state.pool.get().ok()?;
    db::emails::count_by_state(&mut conn, mailbox_id).ok().map(|rows| rows.into_iter().collect())
}

/// Whether all `expected` emails reached the end of the pipeline (archived, or waiting for review)
/// and no import, sort or archive job is still to run.
pub fn is_done(app: &TestApp, mailbox_id: &str, expected: usize) -> bool {
    let Some(states) = states(app, mailbox_id) else { return false };
    let finished: i64 = ["archived", "needs_review"].iter().filter_map(|s| states.get(*s)).sum();
    let total: i64 = states.values().sum();
    if total != expected as i64 || finished != total {
        return false;
    }
    let Ok(mut conn) = app.state.pool.get() else { return false };
    let waiting: QueryResult<i64> = jobs::table
        .filter(jobs::kind.eq_any(PIPELINE_KINDS))
        .filter(jobs::state.eq_any(["available", "scheduled", "running", "retryable"]))
        .count()
        .get_result(&mut conn);
    waiting == Ok(0)
}

/// What a chaos run ended with.
#[derive(Debug)]
pub struct Ending {
    pub archived: usize,
    pub needs_review: usize,
    /// Messages Gmail was asked to archive more than once (a run cut short after Gmail's answer).
    pub archived_again: usize,
}

/// Every delivered message is stored exactly once; each archived email left Gmail's inbox with
/// exactly its category's label, taken out of the inbox at least once and at most `max_archives`
/// times; each email waiting for review is still in the inbox, untouched; labels exist once.
pub fn assert_arrived_once(
    app: &TestApp,
    fake: &FakeGoogle,
    mailbox: &db::mailboxes::Mailbox,
    delivered: &[String],
    max_archives: usize,
) -> Ending {
    let stored = db::emails::list_for_mailbox(&mut app.conn(), &mailbox.id).expect("emails");
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for email in &stored {
        *copies.entry(email.provider_message_id.as_str()).or_default() += 1;
    }
    let doubled: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "stored more than once: {doubled:?}");
    let missing: Vec<&String> = delivered.iter().filter(|id| !copies.contains_key(id.as_str())).collect();
    assert!(missing.is_empty(), "{} of {} delivered messages were lost: {missing:?}", missing.len(), delivered.len());
    assert_eq!(stored.len(), delivered.len(), "nothing stored that was not delivered");

    let categories: HashMap<String, String> = db::categories::list_for_user(&mut app.conn(), &mailbox.user_id)
        .expect("categories")
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let archive_counts = fake.archive_counts(ACCOUNT);
    let label_names: HashMap<String, String> = {
        let names = fake.label_names(ACCOUNT);
        let mut distinct = names.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), names.len(), "a Gmail label was created twice: {names:?}");
        names.iter().filter_map(|name| fake_label_id(fake, name).map(|id| (id, name.clone()))).collect()
    };
    let mut ending = Ending { archived: 0, needs_review: 0, archived_again: 0 };
    let mut waiting_for_review = HashSet::new();
    for email in &stored {
        let labels = fake.message_labels(ACCOUNT, &email.provider_message_id);
        let ours: Vec<&String> = labels.iter().filter_map(|l| label_names.get(l)).collect();
        let archived = archive_counts.get(&email.provider_message_id).copied().unwrap_or(0);
        match email.state.as_str() {
            "archived" => {
                ending.archived += 1;
                let category = email.category_id.as_ref().and_then(|c| categories.get(c)).expect("a category");
                assert!(email.archived_at.is_some(), "{} has no archive time", email.id);
                assert!(!labels.iter().any(|l| l == "INBOX"), "archived but still in Gmail's inbox: {labels:?}");
                assert_eq!(ours, [&format!("EmailGator/{category}")], "exactly its category's label");
                assert!((1..=max_archives).contains(&archived), "archived {archived} times in Gmail");
                ending.archived_again += usize::from(archived > 1);
            }
            "needs_review" => {
                ending.needs_review += 1;
                waiting_for_review.insert(email.provider_message_id.clone());
                assert!(labels.iter().any(|l| l == "INBOX"), "waiting for review but gone from the inbox");
                assert!(ours.is_empty() && archived == 0, "waiting for review but touched in Gmail");
            }
            other => panic!("email {} ended {other}, not archived or waiting for review", email.id),
        }
    }
    let inbox: HashSet<String> = fake.inbox_ids(ACCOUNT).into_iter().collect();
    assert_eq!(inbox, waiting_for_review, "Gmail's inbox holds exactly what waits for review");
    println!("ending: {ending:?}");
    ending
}

/// The Gmail id of a user label, by name.
fn fake_label_id(fake: &FakeGoogle, name: &str) -> Option<String> {
    (1..=64).map(|n| format!("Label_{n}")).find(|id| fake.label_name(ACCOUNT, id).as_deref() == Some(name))
}

/// Waits until no job runs or waits to retry. A test calls it once its faults have stopped and before
/// it stops the app: a sync that failed just before the last email was archived would otherwise be
/// stopped waiting for its retry, which `assert_no_job_stuck` rightly counts as stuck.
pub async fn wait_for_retries(app: &TestApp) {
    wait_until(60, "every failed job has been retried and none runs", || async {
        let Ok(mut conn) = app.state.pool.get() else { return false };
        let busy: QueryResult<i64> =
            jobs::table.filter(jobs::state.eq_any(["running", "retryable"])).count().get_result(&mut conn);
        busy == Ok(0)
    })
    .await;
}

/// No job is running, waiting to retry or given up; mail jobs are not waiting either (maintenance
/// jobs handed back at a graceful stop may be). Returns the jobs that were rescued after their
/// worker died and then completed.
pub fn assert_no_job_stuck(app: &TestApp) -> i64 {
    let mut conn = app.conn();
    let by_kind: Vec<(String, String, i64)> = jobs::table
        .group_by((jobs::kind, jobs::state))
        .select((jobs::kind, jobs::state, diesel::dsl::count_star()))
        .load(&mut conn)
        .expect("jobs");
    println!("jobs at the end: {by_kind:?}");
    for (kind, state, count) in &by_kind {
        let is_stuck = matches!(state.as_str(), "running" | "retryable" | "discarded" | "cancelled")
            || (PIPELINE_KINDS.contains(&kind.as_str()) && matches!(state.as_str(), "available" | "scheduled"));
        assert!(!is_stuck, "{count} {kind} jobs ended {state}");
    }
    jobs::table
        .filter(jobs::state.eq("completed"))
        .filter(jobs::last_error.like("lease expired%"))
        .count()
        .get_result(&mut conn)
        .expect("rescued")
}
