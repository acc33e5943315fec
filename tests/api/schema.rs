//! The schema: both migration trees have the same versions and produce the same columns, the
//! database matches `schema.rs`, and every table round-trips on the backend under test.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use emailgator::db::schema::*;
use emailgator::db::{self, DbConn};

use crate::support::TestApp;

/// (type family, is nullable) per column, per table.
type Columns = BTreeMap<String, BTreeMap<String, (String, bool)>>;

#[derive(QueryableByName)]
struct ColumnInfo {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = BigInt)]
    is_nullable: i64,
}

fn family(declared: &str) -> String {
    let lower = declared.to_ascii_lowercase();
    match lower.as_str() {
        "text" => "text",
        "bigint" => "bigint",
        "boolean" => "bool",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "double precision" => "double",
        _ => return format!("unknown({lower})"),
    }
    .to_owned()
}

fn columns(conn: &mut DbConn) -> Columns {
    let rows: Vec<ColumnInfo> = match conn {
        DbConn::Pg(c) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
             CASE WHEN is_nullable = 'YES' THEN 1::bigint ELSE 0::bigint END AS is_nullable \
             FROM information_schema.columns WHERE table_schema = 'public' \
             AND table_name NOT IN ('__diesel_schema_migrations', 'test_job_runs')",
        )
        .load(c),
        // SQLite's text search index (a virtual table and its shadow tables) has no PostgreSQL twin.
        DbConn::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
             CASE WHEN p.\"notnull\" = 1 OR p.pk > 0 THEN 0 ELSE 1 END AS is_nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name NOT LIKE 'email\\_search%' ESCAPE '\\' \
             AND m.name NOT IN ('__diesel_schema_migrations', 'test_job_runs')",
        )
        .load(c),
    }
    .expect("introspect columns");
    let mut tables = Columns::new();
    for row in rows {
        tables
            .entry(row.table_name)
            .or_default()
            .insert(row.column_name, (family(&row.data_type), row.is_nullable == 1));
    }
    tables
}

/// The column names `schema.rs` declares for a table, read from the SQL diesel generates.
macro_rules! declared_columns {
    ($($table:ident),* $(,)?) => {{
        let mut declared = BTreeMap::new();
        $(
            let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&$table::table.select($table::all_columns))
                .to_string();
            let list = sql.trim_start_matches("SELECT ").split(" FROM").next().unwrap_or_default().to_owned();
            let names: Vec<String> = list
                .split(", ")
                .map(|c| c.rsplit('.').next().unwrap_or_default().trim_matches('`').to_owned())
                .collect();
            declared.insert(stringify!($table).to_owned(), names);
        )*
        declared
    }};
}

#[tokio::test]
async fn the_database_matches_schema_rs() {
    let app = TestApp::spawn().await;
    let actual = columns(&mut app.conn());
    let declared: BTreeMap<String, Vec<String>> = declared_columns!(
        users,
        sessions,
        login_tokens,
        oauth_states,
        sorter_models,
        sender_memory,
        ai_usage,
        resorts,
        mailboxes,
        categories,
        category_email_counts,
        mailbox_email_counts,
        emails,
        unsubscribe_attempts,
        subscriptions,
        jobs,
        leases,
        api_tokens
    );
    assert_eq!(actual.keys().collect::<Vec<_>>(), declared.keys().collect::<Vec<_>>(), "the same tables");
    for (table, names) in declared {
        let mut names = names;
        names.sort();
        let actual_names: Vec<String> = actual[&table].keys().cloned().collect();
        assert_eq!(actual_names, names, "columns of {table}");
        assert!(
            actual[&table].values().all(|(family, _)| !family.starts_with("unknown")),
            "only portable types in {table}: {:?}",
            actual[&table]
        );
    }
}

#[test]
fn both_migration_trees_have_the_same_versions() {
    let names = |backend: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR")))
            .expect("migrations folder")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert!(!names("sqlite").is_empty());
    assert_eq!(names("sqlite"), names("postgres"));
}

/// Needs PostgreSQL: the suite's PostgreSQL pass runs it; without `TEST_DATABASE_URL` it says so.
#[tokio::test]
async fn both_migration_trees_produce_the_same_columns() {
    let Ok(server) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("skipped: set TEST_DATABASE_URL to compare the PostgreSQL tree with the SQLite tree");
        return;
    };
    assert!(!server.is_empty());
    let postgres_app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("dir");
    let sqlite_url = format!("sqlite://{}/compare.db", dir.path().display());
    let pool = db::connect_pool(&sqlite_url, 1, std::time::Duration::from_secs(5), true).expect("sqlite");
    let mut sqlite = pool.get().expect("conn");
    db::migrations::run_pending(&mut sqlite).expect("migrate sqlite");
    assert_eq!(columns(&mut postgres_app.conn()), columns(&mut sqlite));
}

fn at(seconds: i64) -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp(1_764_000_000 + seconds, 123_456_000).expect("time").naive_utc()
}

#[tokio::test]
async fn every_table_round_trips() {
    let app = TestApp::spawn().await;
    app.expect_failed_jobs();
    let mut conn = app.conn();
    let conn = &mut *conn;

    let user = db::users::User {
        id: db::new_id(),
        email: "ann@example.com".into(),
        name: "Ann Ö'Brien".into(),
        is_admin: true,
        ai_settings: r#"{"mode":"hybrid"}"#.into(),
        created_at: at(0),
        updated_at: at(1),
        google_subject: Some("1234567890".into()),
        is_keeping_inbox: false,
        is_labelling: true,
    };
    db::users::insert(conn, &user).expect("insert user");
    assert_eq!(db::users::find(conn, &user.id).expect("find"), Some(user.clone()));

    let session = db::sessions::Session {
        id_hash: "hash".into(),
        user_id: user.id.clone(),
        csrf_token: "csrf".into(),
        created_at: at(2),
        last_seen_at: at(3),
        expires_at: at(4),
    };
    db::sessions::insert(conn, &session).expect("insert session");
    assert_eq!(db::sessions::find(conn, "hash").expect("find"), Some(session));

    let token = db::login_tokens::LoginToken {
        token_hash: "t".into(),
        user_id: user.id.clone(),
        created_at: at(5),
        expires_at: at(6),
        used_at: Some(at(7)),
    };
    db::login_tokens::insert(conn, &token).expect("insert token");
    assert_eq!(db::login_tokens::find(conn, "t").expect("find"), Some(token));

    let oauth_state = db::oauth_states::OAuthState {
        state_hash: "state".into(),
        purpose: "connect".into(),
        browser_hash: "browser".into(),
        user_id: Some(user.id.clone()),
        code_verifier: "verifier".into(),
        created_at: at(2),
        expires_at: at(3),
        used_at: Some(at(2)),
    };
    db::oauth_states::insert(conn, &oauth_state).expect("insert oauth state");
    assert_eq!(db::oauth_states::find(conn, "state").expect("find"), Some(oauth_state));

    let model = db::sorter_models::SorterModel {
        user_id: user.id.clone(),
        model: r#"{"categories":{}}"#.into(),
        examples: 12,
        updated_at: at(2),
    };
    db::sorter_models::save(conn, &model).expect("insert model");
    db::sorter_models::save(conn, &model).expect("replace model");
    assert_eq!(db::sorter_models::find(conn, &user.id).expect("find"), Some(model));
    let usage = db::ai_usage::AiUsage {
        user_id: user.id.clone(),
        day: "2026-11-25".into(),
        calls: 2,
        prompt_tokens: 900,
        completion_tokens: 80,
        cost_microdollars: 183,
    };
    db::ai_usage::add(conn, &usage).expect("usage");
    db::ai_usage::add(conn, &usage).expect("more usage");
    let total = db::ai_usage::find(conn, &user.id, "2026-11-25").expect("find").expect("row");
    assert_eq!((total.calls, total.prompt_tokens, total.cost_microdollars), (4, 1800, 366));

    let api_token = db::api_tokens::ApiToken {
        id: db::new_id(),
        user_id: user.id.clone(),
        name: "laptop script".into(),
        token_hash: "token-hash".into(),
        created_at: at(2),
        last_used_at: Some(at(3)),
    };
    db::api_tokens::insert(conn, &api_token).expect("insert api token");
    assert_eq!(db::api_tokens::find_by_hash(conn, "token-hash").expect("find"), Some(api_token));

    let mailbox = db::mailboxes::Mailbox {
        id: db::new_id(),
        user_id: user.id.clone(),
        kind: "gmail".into(),
        address: "ann@gmail.com".into(),
        encrypted_access_token: Some("enc-a".into()),
        encrypted_refresh_token: Some("enc-r".into()),
        token_key_id: Some("k1".into()),
        token_expires_at: Some(at(8)),
        granted_scopes: "openid gmail.modify".into(),
        sync_cursor: Some("123456789".into()),
        status: "active".into(),
        rate_limited_until: Some(at(9)),
        last_synced_at: Some(at(10)),
        last_error: Some("none".into()),
        backfill_days: 7,
        created_at: at(11),
        updated_at: at(12),
        maildir_path: Some("/srv/mail/ann".into()),
    };
    db::mailboxes::insert(conn, &mailbox).expect("insert mailbox");
    assert_eq!(db::mailboxes::find(conn, &mailbox.id).expect("find"), Some(mailbox.clone()));

    let category = db::categories::Category {
        id: db::new_id(),
        user_id: user.id.clone(),
        name: "Newsletters".into(),
        name_key: "newsletters".into(),
        description: "Weekly digests and product news".into(),
        position: 2,
        gmail_label_ids: r#"{"mb":"Label_1"}"#.into(),
        created_at: at(13),
        updated_at: at(14),
    };
    db::categories::insert(conn, &category).expect("insert category");
    assert_eq!(db::categories::find(conn, &category.id).expect("find"), Some(category.clone()));

    for _ in 0..2 {
        db::sender_memory::record(conn, &user.id, "list:news.example", &category.id, at(3)).expect("memory");
    }
    let memory = db::sender_memory::find_many(conn, &user.id, &["list:news.example".into()]).expect("find");
    assert_eq!(memory.len(), 1);
    assert_eq!((memory[0].category_id.as_str(), memory[0].count), (category.id.as_str(), 2));

    let email = db::emails::Email {
        id: db::new_id(),
        mailbox_id: mailbox.id.clone(),
        provider_message_id: "18c0".into(),
        thread_id: Some("18bf".into()),
        message_id_header: Some("<a@b>".into()),
        from_name: Some("Shop".into()),
        from_address: Some("news@shop.example".into()),
        to_addresses: "ann@gmail.com".into(),
        subject: "Sale — 20% off 🎉".into(),
        sent_at: Some(at(15)),
        received_at: Some(at(16)),
        snippet: "Big sale".into(),
        text_body: Some("Hello\nworld".into()),
        sanitized_html: Some("<p>Hello</p>".into()),
        raw_size: 4_096,
        list_id: Some("<news.shop.example>".into()),
        list_unsubscribe_urls: r#"["https://shop.example/u"]"#.into(),
        is_one_click: true,
        auth_result: Some("dkim=pass".into()),
        state: "sorted".into(),
        category_id: Some(category.id.clone()),
        sort_source: Some("llm".into()),
        confidence: Some(0.875),
        summary: Some("A sale.".into()),
        archived_at: Some(at(17)),
        trashed_at: Some(at(18)),
        is_after_unsubscribe: true,
        created_at: at(19),
        updated_at: at(20),
        labels: "INBOX CATEGORY_PROMOTIONS".into(),
        parse_problems: Some("the Date header is not a date".into()),
        listed_at: at(14),
    };
    db::emails::insert(conn, &email).expect("insert email");
    assert_eq!(db::emails::find(conn, &email.id).expect("find"), Some(email.clone()));

    let attempt = db::unsubscribe_attempts::UnsubscribeAttempt {
        id: db::new_id(),
        user_id: user.id.clone(),
        subscription_key: "news.shop.example".into(),
        email_id: Some(email.id.clone()),
        method: "one_click".into(),
        url: Some("https://shop.example/u".into()),
        status: "succeeded".into(),
        reason: Some("202 Accepted".into()),
        steps: r#"[{"step":"post"}]"#.into(),
        screenshot_path: Some("shots/1.png".into()),
        started_at: Some(at(21)),
        finished_at: Some(at(22)),
        created_at: at(23),
    };
    db::unsubscribe_attempts::insert(conn, &attempt).expect("insert attempt");
    assert_eq!(db::unsubscribe_attempts::find(conn, &attempt.id).expect("find"), Some(attempt));

    let job = db::jobs::JobRow {
        id: db::new_id(),
        kind: "k".into(),
        args: r#"{"a":1}"#.into(),
        queue: "q".into(),
        priority: -1,
        state: "retryable".into(),
        attempt: 2,
        max_attempts: 9,
        run_at: at(24),
        lease_owner: Some("w".into()),
        lease_expires_at: Some(at(25)),
        last_error: Some("e".into()),
        unique_key: Some("u".into()),
        created_at: at(26),
        attempted_at: Some(at(27)),
        finished_at: Some(at(28)),
    };
    assert!(db::jobs::insert(conn, &job).expect("insert job"));
    assert_eq!(db::jobs::find(conn, &job.id).expect("find"), Some(job));

    assert!(db::leases::try_acquire(conn, "singleton", "me", at(29), at(30)).expect("lease"));
    let lease = db::leases::find(conn, "singleton").expect("find").expect("lease");
    assert_eq!((lease.holder.as_str(), lease.acquired_at, lease.expires_at), ("me", at(29), at(30)));
}

#[tokio::test]
async fn a_lease_is_held_by_one_holder_until_it_expires() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn();
    assert!(db::leases::try_acquire(&mut conn, "l", "a", at(0), at(10)).expect("a takes it"));
    assert!(!db::leases::try_acquire(&mut conn, "l", "b", at(5), at(15)).expect("b waits"));
    assert!(db::leases::try_acquire(&mut conn, "l", "a", at(6), at(16)).expect("a renews"));
    assert!(!db::leases::try_acquire(&mut conn, "l", "b", at(15), at(25)).expect("still a's"));
    assert!(db::leases::try_acquire(&mut conn, "l", "b", at(17), at(27)).expect("b takes over after expiry"));
}

#[tokio::test]
async fn a_transaction_that_reads_then_writes_waits_for_another_writer_instead_of_failing() {
    let app = TestApp::spawn().await;
    let user = |email: &str| db::users::User {
        id: db::new_id(),
        email: email.into(),
        name: "U".into(),
        is_admin: false,
        ai_settings: "{}".into(),
        created_at: at(0),
        updated_at: at(0),
        google_subject: None,
        is_keeping_inbox: false,
        is_labelling: true,
    };
    let (read_done, other_may_write) = std::sync::mpsc::channel();
    let (pool_a, pool_b) = (app.state.pool.clone(), app.state.pool.clone());
    let (first, second) = (user("first@example.com"), user("second@example.com"));
    let reader_then_writer = std::thread::spawn(move || {
        let mut conn = pool_a.get().expect("conn");
        db::transaction(&mut conn, |conn| {
            db::users::count(conn)?;
            read_done.send(()).expect("signal");
            // Give the other connection time to try its write in the middle of this transaction.
            std::thread::sleep(std::time::Duration::from_millis(300));
            db::users::insert(conn, &first)
        })
    });
    other_may_write.recv().expect("wait for the read");
    let other_writer = db::users::insert(&mut pool_b.get().expect("conn"), &second);
    let first_result = reader_then_writer.join().expect("thread");

    assert!(first_result.is_ok(), "{first_result:?}");
    assert!(other_writer.is_ok(), "{other_writer:?}");
    assert_eq!(db::users::count(&mut app.conn()).expect("count"), 2);
}
