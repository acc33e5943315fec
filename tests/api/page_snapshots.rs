//! The HTML of every page, for one fixed dataset at a fixed time, compared with the committed
//! snapshots in `snapshots/` (insta). Values a run cannot fix (the CSRF token, generated ids) are
//! replaced by placeholders first, so SQLite and PostgreSQL runs give the same text. To review a
//! change: `INSTA_UPDATE=always cargo nextest run --test api page_snapshots`, then `git diff`.

use chrono::{NaiveDate, NaiveDateTime};
use emailgator::db::{self, categories::Category, emails::Email, mailboxes::Mailbox};
use emailgator::domain::unsubscribe::{Method, Status};
use emailgator::jobs::{EnqueueOptions, SyncMailbox};
use emailgator::services::unsubscribe;

use crate::support::TestApp;

/// The time the app believes it is, for every page.
fn fixed_now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 12).and_then(|d| d.and_hms_opt(9, 30, 0)).expect("a valid time")
}

fn at(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, day).and_then(|d| d.and_hms_opt(hour, minute, 0)).expect("a valid time")
}

const MAILDIR: &str = "mailbox-maildir";
const GMAIL: &str = "mailbox-gmail";
const RECEIPTS: &str = "category-receipts";
const TRAVEL: &str = "category-travel";
const NEWSLETTERS: &str = "category-newsletters";

const ORDER_EMAIL: &str = "\
Authentication-Results: mx.example.com; dkim=pass header.d=shop.example; spf=pass\r\n\
From: Brindle & Oak <orders@shop.example>\r\n\
To: owner@localhost\r\n\
Subject: Order confirmed: BO-48213\r\n\
Date: Tue, 10 Nov 2026 21:47:19 -0500\r\n\
Message-ID: <order-48213@shop.example>\r\n\
List-Id: Brindle & Oak orders <orders.shop.example>\r\n\
List-Unsubscribe: <https://shop.example/unsubscribe/48213>, <mailto:leave@shop.example>\r\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html><head><style>p { color: red }</style><script>alert(1)</script></head><body>\
<h1>Thanks for your order</h1><p style=\"color: #333\">Order <b>BO-48213</b> is confirmed.</p>\
<img src=\"https://tracker.shop.example/open.gif\" alt=\"\" width=\"1\" height=\"1\">\
<a href=\"https://shop.example/orders/48213\">See your order</a> <a href=\"javascript:alert(2)\">Win</a>\
</body></html>\r\n";

fn category(user_id: &str, id: &str, name: &str, description: &str, position: i64) -> Category {
    Category {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        name: name.to_owned(),
        name_key: name.to_lowercase(),
        description: description.to_owned(),
        position,
        gmail_label_ids: "{}".into(),
        created_at: at(1, 8, 0),
        updated_at: at(1, 8, 0),
    }
}

fn mailbox(
    user_id: &str,
    id: &str,
    kind: &str,
    address: &str,
    added: NaiveDateTime,
    synced: Option<NaiveDateTime>,
) -> Mailbox {
    Mailbox {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        kind: kind.to_owned(),
        address: address.to_owned(),
        encrypted_access_token: None,
        encrypted_refresh_token: None,
        token_key_id: None,
        token_expires_at: None,
        granted_scopes: String::new(),
        sync_cursor: None,
        status: "active".into(),
        rate_limited_until: None,
        last_synced_at: synced,
        last_error: None,
        backfill_days: 14,
        created_at: added,
        updated_at: added,
        maildir_path: (kind == "maildir").then(|| "/srv/mail/owner".to_owned()),
    }
}

/// A plain sorted email; `state` says where it is (archived, needs_review).
fn email(
    id: &str,
    mailbox_id: &str,
    category_id: Option<&str>,
    sent: NaiveDateTime,
    from: (&str, &str),
    subject: &str,
) -> Email {
    Email {
        id: id.to_owned(),
        from_name: Some(from.0.to_owned()),
        from_address: Some(from.1.to_owned()),
        to_addresses: "owner@localhost".into(),
        subject: subject.to_owned(),
        sent_at: Some(sent),
        received_at: Some(sent),
        snippet: format!("{subject}."),
        text_body: Some(format!("{subject}.\n\nThis is the body.")),
        state: if category_id.is_some() { "archived" } else { "needs_review" }.into(),
        category_id: category_id.map(str::to_owned),
        sort_source: category_id.map(|_| "local".to_owned()),
        confidence: category_id.map(|_| 0.875),
        summary: Some(format!("A short summary of “{subject}”.")),
        archived_at: category_id.map(|_| sent),
        listed_at: sent,
        ..db::emails::discovered(mailbox_id, &format!("provider-{id}"), sent)
    }
}

/// The owner with two mail accounts, three categories, sorted mail, mail to review, a deleted
/// email, an HTML email with unsubscribe links and a successful unsubscribe, a day of AI usage and
/// queued jobs.
async fn app_with_fixed_data() -> (TestApp, String) {
    let app = TestApp::spawn_at(fixed_now(), &[("EMAILGATOR__INSTANCE_ID", "snapshot-instance")]).await;
    app.sign_in_as_owner().await;
    let owner = app.state.config.local.owner_email.clone();
    let user_id = db::users::find_by_email(&mut app.conn(), &owner).expect("find").expect("the owner").id;
    let mut conn = app.conn();
    db::mailboxes::insert(
        &mut conn,
        &mailbox(&user_id, MAILDIR, "maildir", "maildir:/srv/mail/owner", at(1, 8, 0), Some(at(12, 9, 25))),
    )
    .expect("mailbox");
    db::mailboxes::insert(&mut conn, &mailbox(&user_id, GMAIL, "gmail", "reader@example.com", at(2, 8, 0), None))
        .expect("mailbox");
    for c in [
        category(&user_id, RECEIPTS, "Receipts & orders", "Order confirmations, invoices, receipts and refunds", 0),
        category(&user_id, TRAVEL, "Travel", "Flights, hotels, trains and car hire", 1),
        category(&user_id, NEWSLETTERS, "Newsletters", "Weekly digests and news from lists I subscribed to", 2),
    ] {
        db::categories::insert(&mut conn, &c).expect("category");
    }

    let parsed = emailgator::domain::mime::parse(ORDER_EMAIL.as_bytes());
    let order = Email {
        message_id_header: parsed.message_id.clone(),
        snippet: parsed.snippet.clone(),
        text_body: parsed.text_body.clone(),
        sanitized_html: parsed.sanitized_html.clone(),
        raw_size: i64::try_from(parsed.raw_size).expect("size"),
        list_id: parsed.list_id.clone(),
        list_unsubscribe_urls: serde_json::to_string(&parsed.list_unsubscribe).expect("json"),
        is_one_click: parsed.is_one_click,
        auth_result: parsed.auth_results.clone(),
        ..email(
            "email-order",
            MAILDIR,
            Some(RECEIPTS),
            parsed.sent_at.expect("a date"),
            ("Brindle & Oak", "orders@shop.example"),
            &parsed.subject,
        )
    };
    let rows = [
        order,
        email(
            "email-invoice",
            GMAIL,
            Some(RECEIPTS),
            at(9, 14, 5),
            ("CloudNest", "billing@cloudnest.example"),
            "Your November invoice",
        ),
        Email {
            is_after_unsubscribe: true,
            sort_source: Some("sender".into()),
            confidence: Some(1.0),
            ..email(
                "email-refund",
                MAILDIR,
                Some(RECEIPTS),
                at(8, 7, 30),
                ("Brindle & Oak", "orders@shop.example"),
                "Refund issued",
            )
        },
        email(
            "email-flight",
            MAILDIR,
            Some(TRAVEL),
            at(11, 6, 0),
            ("Northwind Air", "booking@northwind.example"),
            "Your booking to Lisbon",
        ),
        email(
            "email-review",
            MAILDIR,
            None,
            at(12, 8, 45),
            ("Sam Rivera", "sam@friends.example"),
            "Photos from the hike",
        ),
        Email {
            trashed_at: Some(at(11, 18, 0)),
            ..email(
                "email-trashed",
                MAILDIR,
                Some(RECEIPTS),
                at(5, 12, 0),
                ("Zippa", "rides@zippa.example"),
                "Your ride receipt",
            )
        },
    ];
    for row in &rows {
        db::emails::insert(&mut conn, row).expect("email");
    }
    db::ai_usage::add(
        &mut conn,
        &db::ai_usage::AiUsage {
            user_id: user_id.clone(),
            day: "2026-11-11".into(),
            calls: 12,
            prompt_tokens: 9_800,
            completion_tokens: 1_250,
            cost_microdollars: 2_470,
        },
    )
    .expect("usage");
    // An unsubscribe from the order email's list that succeeded by one-click.
    let requested = unsubscribe::request(&mut conn, &user_id, &["email-order".to_owned()], false, fixed_now())
        .expect("unsubscribe request");
    let attempt_id = requested.started[0].attempt_id.clone();
    unsubscribe::prepare(&mut conn, &attempt_id, fixed_now()).expect("prepare").expect("pending");
    let steps = serde_json::json!([
        { "at_ms": 0, "action": "one-click", "detail": "POST https://shop.example/unsubscribe/48213" },
        { "at_ms": 412, "action": "answer", "detail": "HTTP 200" },
    ]);
    let result = unsubscribe::AttemptResult {
        status: Status::Succeeded,
        method: Some(Method::OneClick),
        url: Some("https://shop.example/unsubscribe/48213".into()),
        reason: "the sender's server answered the one-click request with HTTP 200".into(),
        steps_json: steps.to_string(),
        screenshot_path: None,
    };
    unsubscribe::record_result(&mut conn, &attempt_id, &result, at(12, 9, 1)).expect("result");
    let sync = SyncMailbox { mailbox_id: GMAIL.into() };
    emailgator::jobs::enqueue(&mut conn, &sync, EnqueueOptions::default(), fixed_now()).expect("job");
    drop(conn);
    (app, user_id)
}

/// Replaces what differs between runs: the session's CSRF token, generated ids (numbered in order
/// of appearance, so links that point at the same thing still match), the owner's id.
fn normalise(html: &str, user_id: &str) -> String {
    let mut text = html.replace(user_id, "[owner-id]");
    let marker = "name=\"csrf\" value=\"";
    if let Some(start) = text.find(marker).map(|i| i + marker.len()) {
        let token = text[start..].split('"').next().unwrap_or_default().to_owned();
        if !token.is_empty() {
            text = text.replace(&token, "[csrf]");
        }
    }
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(found) = next_uuid(rest) {
        let uuid = &rest[found..found + 36];
        let number = match seen.iter().position(|s| s == uuid) {
            Some(i) => i + 1,
            None => {
                seen.push(uuid.to_owned());
                seen.len()
            }
        };
        out.push_str(&rest[..found]);
        out.push_str(&format!("[uuid-{number}]"));
        rest = &rest[found + 36..];
    }
    out.push_str(rest);
    out
}

/// The byte offset of the next `8-4-4-4-12` hex UUID in `text`.
fn next_uuid(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let is_uuid_at = |i: usize| {
        bytes.len() >= i + 36
            && bytes[i..i + 36]
                .iter()
                .enumerate()
                .all(|(k, b)| if matches!(k, 8 | 13 | 18 | 23) { *b == b'-' } else { b.is_ascii_hexdigit() })
    };
    (0..bytes.len()).find(|&i| is_uuid_at(i))
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str, status: u16) -> String {
    let response = client.get(app.url(path)).send().await.expect("get");
    assert_eq!(response.status().as_u16(), status, "{path}");
    response.text().await.expect("body")
}

#[tokio::test]
async fn every_page_renders_the_fixed_dataset_as_its_committed_snapshot() {
    let (app, user_id) = app_with_fixed_data().await;
    let anonymous = crate::support::http_client().build().expect("client");
    let landing = page(&app, &anonymous, "/", 200).await;
    insta::assert_snapshot!("landing", normalise(&landing, &user_id));

    let pages: &[(&str, &str, u16)] = &[
        ("dashboard", "/", 200),
        ("category", "/categories/category-receipts", 200),
        ("category_filtered", "/categories/category-receipts?q=refund&done=deleted&count=1&at=1762941000000000", 200),
        ("email", "/emails/email-order", 200),
        ("email_content", "/emails/email-order/content", 200),
        ("review", "/review", 200),
        ("subscriptions", "/subscriptions", 200),
        ("trash", "/trash", 200),
        ("settings", "/settings", 200),
        ("ai_settings", "/settings/ai", 200),
        ("try_category", "/categories/try?name=Rides&description=Taxi+and+ride+receipts", 200),
        ("admin", "/admin", 200),
        ("admin_jobs", "/admin/jobs", 200),
        ("category_new", "/categories/new", 200),
        ("category_edit", "/categories/category-travel/edit", 200),
        ("not_found", "/emails/no-such-email", 404),
    ];
    for (name, path, status) in pages {
        let html = page(&app, &app.client, path, *status).await;
        insta::assert_snapshot!(*name, normalise(&html, &user_id), path);
    }
}

#[test]
fn the_normaliser_numbers_ids_in_order_and_hides_the_csrf_token() {
    let html = "<input name=\"csrf\" value=\"tok123\"> 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b owner-x \
                 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c tok123 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    assert_eq!(
        normalise(html, "owner-x"),
        "<input name=\"csrf\" value=\"[csrf]\"> [uuid-1] [owner-id] [uuid-2] [csrf] [uuid-1]"
    );
}
