//! `emailgator bench pages`: server-side latency of every signed-in page for one user with many
//! emails (100,000 by default), through the real server on loopback, one request at a time.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::categories::Category;
use crate::db::emails::{Email, ListPosition};
use crate::db::mailboxes::Mailbox;
use crate::db::{self, DbConn};
use crate::domain::EmailAddress;
use crate::jobs::JobRegistry;
use crate::services::{auth, emails::encode_cursor};
use crate::startup::Application;

const CATEGORIES: usize = 8;

/// What the benchmark needs to know about the data it wrote.
struct Seeded {
    user_id: String,
    mailbox_id: String,
    category_id: String,
    email_id: String,
    deep_cursor: String,
}

pub async fn run(
    mut config: Config,
    count: usize,
    requests: usize,
    database_url: Option<String>,
    load_seconds: Option<u64>,
    body_kb: usize,
) -> anyhow::Result<()> {
    let temp = super::tempfile_dir()?;
    config.database.url = database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db", temp.display())).into();
    config.data_dir = temp.clone();
    config.server.host = "127.0.0.1".into();
    config.server.port = 0;
    config.cron.is_enabled = false;
    let app = Application::build(config, JobRegistry::standard()).await?;
    let (state, port) = (app.state().clone(), app.port());
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());

    let started = Instant::now();
    let pool = state.pool.clone();
    let seeded = tokio::task::spawn_blocking(move || -> anyhow::Result<Seeded> {
        let mut conn = pool.get()?;
        seed(&mut conn, count, body_kb, SystemClock.now())
    })
    .await??;
    println!("seeded {count} emails (bodies of about {body_kb} KiB more) in {:.1} s", started.elapsed().as_secs_f64());
    if state.pool.get()?.backend() == db::Backend::Postgres {
        // What autovacuum does soon after a bulk load, done before measuring rather than during it:
        // statistics (without them PostgreSQL guesses plans) and the visibility map (index-only
        // scans). SQLite's indexes are chosen to need neither.
        diesel::connection::SimpleConnection::batch_execute(&mut *state.pool.get()?, "VACUUM ANALYZE")?;
    }

    let base = format!("http://127.0.0.1:{port}");
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client =
        reqwest::Client::builder().cookie_provider(jar.clone()).redirect(reqwest::redirect::Policy::none()).build()?;
    let token = {
        let mut conn = state.pool.get()?;
        auth::create_login_token(&mut conn, &seeded.user_id, Duration::from_secs(60), SystemClock.now())?
    };
    let signed_in = client.post(format!("{base}/auth/local")).form(&[("token", token)]).send().await?;
    anyhow::ensure!(signed_in.status().as_u16() == 303, "sign-in failed: {}", signed_in.status());

    let (category, email) = (&seeded.category_id, &seeded.email_id);
    let pages = [
        ("dashboard", "/".to_owned()),
        ("category, first page", format!("/categories/{category}")),
        ("category, page 100", format!("/categories/{category}?after={}", seeded.deep_cursor)),
        ("category, text filter", format!("/categories/{category}?q=invoice+77")),
        ("category, account filter", format!("/categories/{category}?account={}", seeded.mailbox_id)),
        ("email", format!("/emails/{email}")),
        ("email content frame", format!("/emails/{email}/content")),
        ("needs review", "/review".to_owned()),
        ("subscriptions", "/subscriptions".to_owned()),
        ("deleted", "/trash".to_owned()),
        ("settings", "/settings".to_owned()),
        ("AI settings", "/settings/ai".to_owned()),
        ("admin", "/admin".to_owned()),
        ("admin jobs", "/admin/jobs".to_owned()),
    ];
    let api_token = {
        let mut conn = state.pool.get()?;
        crate::services::api_tokens::create(&mut conn, &seeded.user_id, "bench", SystemClock.now())?.plaintext
    };
    let graphql = [
        ("GraphQL categoryEmails, 50", category_emails_query(category, None)),
        ("GraphQL categoryEmails, 50, page 100", category_emails_query(category, Some(&seeded.deep_cursor))),
        ("GraphQL categoryEmails, 50, search", category_emails_query(category, Some("search"))),
    ];
    println!("\n{count} emails for one user, {requests} sequential requests each after 10 warm-up requests\n");
    println!("| request | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|");
    for (name, path) in &pages {
        let url = format!("{base}{path}");
        let times = measure(requests, || client.get(&url)).await.map_err(|e| e.context(path.clone()))?;
        print_row(name, times);
    }
    let endpoint = format!("{base}/api/graphql");
    for (name, body) in &graphql {
        let request = || client.post(&endpoint).bearer_auth(&api_token).json(body);
        let times = measure(requests, request).await.map_err(|e| e.context(*name))?;
        print_row(name, times);
    }
    if let Some(seconds) = load_seconds {
        use reqwest::cookie::CookieStore;
        let cookie = jar.cookies(&base.parse()?).and_then(|v| v.to_str().ok().map(str::to_owned)).unwrap_or_default();
        let targets = [
            super::load::Target::get("category page", &format!("{base}/categories/{category}"), &cookie),
            super::load::Target::graphql("GraphQL categoryEmails, 50", &endpoint, &api_token, &graphql[0].1),
        ];
        super::load::run(&targets, seconds)?;
    }
    shutdown.cancel();
    server.await??;
    let _ = std::fs::remove_dir_all(&temp);
    Ok(())
}

/// One user, two mailboxes, eight categories and `count` sorted emails spread over them, newest
/// first, with a newsletter in every tenth and one in a hundred waiting for review.
/// `body_kb`: filler added to each email's HTML and text bodies. Real mail carries kilobytes of
/// them, and SQLite stores them in the email's row, before the columns a list reads.
fn seed(conn: &mut DbConn, count: usize, body_kb: usize, now: NaiveDateTime) -> anyhow::Result<Seeded> {
    let paragraph = "<p>This week in the shop: new arrivals, the best offers and what our readers liked.</p>";
    let html_filler = paragraph.repeat(body_kb * 1024 / paragraph.len());
    let text_filler = "This week in the shop: new arrivals and offers.\n".repeat(body_kb * 1024 / 2 / 48);
    let owner = EmailAddress::parse("owner@localhost").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let user = auth::ensure_local_owner(conn, &owner, now)?;
    let mailboxes: Vec<Mailbox> = (0..2)
        .map(|n| Mailbox {
            id: db::new_id(),
            user_id: user.id.clone(),
            kind: "maildir".into(),
            address: format!("maildir:/bench/{n}"),
            encrypted_access_token: None,
            encrypted_refresh_token: None,
            token_key_id: None,
            token_expires_at: None,
            granted_scopes: String::new(),
            sync_cursor: None,
            status: "active".into(),
            rate_limited_until: None,
            last_synced_at: Some(now),
            last_error: None,
            backfill_days: 7,
            created_at: now,
            updated_at: now,
            maildir_path: Some(format!("/nonexistent/bench/{n}")),
        })
        .collect();
    for mailbox in &mailboxes {
        db::mailboxes::insert(conn, mailbox)?;
    }
    let names = ["Newsletters", "Receipts", "Travel", "Work", "Family", "Promotions", "Social", "Bills"];
    let categories: Vec<Category> = names
        .iter()
        .enumerate()
        .map(|(n, name)| Category {
            id: db::new_id(),
            user_id: user.id.clone(),
            name: (*name).to_owned(),
            name_key: name.to_lowercase(),
            description: format!("Everything about {name}"),
            position: i64::try_from(n).unwrap_or(0),
            gmail_label_ids: "{}".into(),
            created_at: now,
            updated_at: now,
        })
        .collect();
    for category in &categories {
        db::categories::insert(conn, category)?;
    }
    let (mut first_email, mut deep) = (None, None);
    for chunk in (0..count).collect::<Vec<_>>().chunks(2_000) {
        db::transaction(conn, |conn| {
            for &i in chunk {
                let at = now - chrono::Duration::seconds(i64::try_from(i).unwrap_or(0) * 30);
                let mailbox = &mailboxes[i % 2];
                let is_review = i % 100 == 99;
                let category = &categories[i % CATEGORIES];
                let email = Email {
                    subject: format!("Invoice {i} for your order"),
                    from_name: Some(format!("Sender {}", i % 500)),
                    from_address: Some(format!("sender{}@shop{}.example", i % 500, i % 50)),
                    summary: Some(format!("Your invoice {i} is ready; the total is {} euros.", i % 300)),
                    text_body: Some(format!("Hello,\n\nyour invoice {i} is attached.\n\nThanks\n{text_filler}")),
                    sanitized_html: Some(format!(
                        "<p>Hello,</p><p>your invoice <b>{i}</b> is attached.</p>{html_filler}"
                    )),
                    list_id: (i % 10 == 0).then(|| format!("list{}.shop.example", i % 40)),
                    list_unsubscribe_urls: if i % 10 == 0 {
                        r#"["https://shop.example/u"]"#.into()
                    } else {
                        "[]".into()
                    },
                    state: if is_review { "needs_review".into() } else { "archived".into() },
                    category_id: (!is_review).then(|| category.id.clone()),
                    sort_source: Some("local".into()),
                    confidence: Some(0.8),
                    sent_at: Some(at),
                    received_at: Some(at),
                    listed_at: at,
                    archived_at: (!is_review).then_some(at),
                    ..db::emails::discovered(&mailbox.id, &format!("bench-{i}"), at)
                };
                db::emails::insert(conn, &email)?;
                if i == 0 {
                    first_email = Some(email.id.clone());
                }
                // The 5,000th email of the first category starts its page 100.
                if i == 5_000 * CATEGORIES {
                    deep = Some(ListPosition { listed_at: email.listed_at, id: email.id.clone() });
                }
            }
            db::QueryResult::Ok(())
        })?;
    }
    let email_id = first_email.ok_or_else(|| anyhow::anyhow!("no emails seeded"))?;
    let deep_cursor = deep.map(|p| encode_cursor(&p)).unwrap_or_default();
    Ok(Seeded {
        user_id: user.id,
        mailbox_id: mailboxes[0].id.clone(),
        category_id: categories[0].id.clone(),
        email_id,
        deep_cursor,
    })
}

/// Times `requests` sequential requests after 10 warm-up ones; every answer must be a success
/// (and, for GraphQL, carry no errors).
async fn measure(requests: usize, request: impl Fn() -> reqwest::RequestBuilder) -> anyhow::Result<Vec<f64>> {
    for _ in 0..10 {
        request().send().await?.bytes().await?;
    }
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let at = Instant::now();
        let response = request().send().await?;
        anyhow::ensure!(response.status().is_success(), "answered {}", response.status());
        let body = response.bytes().await?;
        times.push(at.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(!body.starts_with(br#"{"errors""#), "GraphQL errors: {}", String::from_utf8_lossy(&body));
    }
    Ok(times)
}

fn print_row(name: &str, mut times: Vec<f64>) {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!("| {name} | {:.2} | {:.2} | {:.2} |", at(0.5), at(0.99), at(1.0));
}

/// `categoryEmails` for 50 emails with what a client lists: sender, subject, summary, date, account
/// and category. `after` is a cursor, or "search" for the text filter.
fn category_emails_query(category_id: &str, after: Option<&str>) -> serde_json::Value {
    let (after, search) = match after {
        Some("search") => (None, Some("invoice 77")),
        other => (other, None),
    };
    serde_json::json!({
        "query": "query($c: ID!, $after: String, $search: String) { categoryEmails(categoryId: $c, first: 50, \
                  after: $after, search: $search) { totalCount pageInfo { hasNextPage endCursor } edges { node { \
                  id subject summary from fromAddress date account { id address } category { id name } } } } }",
        "variables": { "c": category_id, "after": after, "search": search },
    })
}
