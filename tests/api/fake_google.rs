//! The fake Google itself: OAuth with PKCE, refresh and revocation, the Gmail calls the app makes,
//! faults and book-keeping. The last test talks to it through google-gmail1, the client the app uses,
//! so wire-format mistakes (string ids, base64 variant, multipart uploads) show up here first.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::fake_google::FakeGoogle;

const ALICE: &str = "alice@example.com";
const SCOPES: &str = "openid email https://www.googleapis.com/auth/gmail.modify";
const REDIRECT: &str = "http://127.0.0.1:9/auth/google/callback";

struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce() -> Pkce {
    let verifier = format!("verifier-{}-{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce { verifier, challenge }
}

fn authorize_url(fake: &FakeGoogle, pkce: &Pkce, scope: &str) -> String {
    let mut url = url::Url::parse(&fake.auth_url()).expect("auth url");
    url.query_pairs_mut()
        .append_pair("client_id", "test-client")
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "st4te")
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent");
    url.to_string()
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).expect("callback url").query_pairs().into_owned().collect()
}

async fn exchange(fake: &FakeGoogle, code: &str, verifier: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", "test-client"),
        ("client_secret", "test-secret"),
        ("code_verifier", verifier),
    ];
    post_form(&fake.token_url(), &form).await
}

async fn refresh(fake: &FakeGoogle, refresh_token: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", "test-client"),
        ("client_secret", "test-secret"),
    ];
    post_form(&fake.token_url(), &form).await
}

async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new().post(url).form(form).send().await.expect("token endpoint answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// Signs `email` in with the app's usual scopes; returns (access token, refresh token).
async fn sign_in(fake: &FakeGoogle, email: &str, scope: &str) -> (String, String) {
    let pkce = pkce();
    let callback = fake.approve(&authorize_url(fake, &pkce, scope), email);
    let code = query_of(&callback)["code"].clone();
    let (status, body) = exchange(fake, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
    let field = |key: &str| body[key].as_str().expect("token field").to_owned();
    (field("access_token"), field("refresh_token"))
}

async fn get(fake: &FakeGoogle, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", fake.gmail_base_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("fake answers")
}

async fn get_json(fake: &FakeGoogle, token: &str, path: &str) -> (u16, Value) {
    let response = get(fake, token, path).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

async fn post_json(fake: &FakeGoogle, token: &str, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", fake.gmail_base_url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("fake answers")
}

fn message(n: usize) -> Vec<u8> {
    format!("From: Bob <bob@example.com>\r\nTo: {ALICE}\r\nSubject: Hello {n}\r\nMessage-ID: <{n}@example.com>\r\n\r\nBody {n}\r\n")
        .into_bytes()
}

async fn started_with_alice() -> (FakeGoogle, String, String) {
    let fake = FakeGoogle::start().await;
    fake.add_account(ALICE, "Alice Example");
    let (access, refresh) = sign_in(&fake, ALICE, SCOPES).await;
    (fake, access, refresh)
}

#[tokio::test]
async fn settings_point_at_the_fake() {
    let fake = FakeGoogle::start().await;
    let settings: HashMap<String, String> = fake.settings().into_iter().collect();
    assert!(fake.url().starts_with("http://127.0.0.1:") && !fake.url().ends_with('/'));
    assert_eq!(settings["GOOGLE_CLIENT_ID"], "test-client");
    assert_eq!(settings["EMAILGATOR__GOOGLE__TOKEN_URL"], format!("{}/token", fake.url()));
    assert_eq!(settings["EMAILGATOR__GOOGLE__GMAIL_BASE_URL"], format!("{}/", fake.url()));
    let response = reqwest::get(format!("{}/nowhere", fake.url())).await.expect("answer");
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], 404);
}

#[tokio::test]
async fn code_exchange_checks_pkce_client_and_single_use() {
    let fake = FakeGoogle::start().await;
    fake.add_account(ALICE, "Alice Example");
    let pkce = pkce();
    let url = authorize_url(&fake, &pkce, SCOPES);

    let denied = query_of(&fake.deny(&url));
    assert_eq!(denied.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(denied.get("state").map(String::as_str), Some("st4te"));

    // A wrong verifier spends the code.
    let callback = query_of(&fake.approve(&url, ALICE));
    assert_eq!(callback["state"], "st4te");
    let (status, body) = exchange(&fake, &callback["code"], "some-other-verifier-of-enough-length-000000").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(fake.last_authorize_params()["access_type"], "offline");

    let callback = query_of(&fake.approve(&url, ALICE));
    let bad_client = [("grant_type", "authorization_code"), ("code", callback["code"].as_str())];
    let (status, body) = post_form(&fake.token_url(), &bad_client).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));

    let callback = query_of(&fake.approve(&url, ALICE));
    let (status, body) = exchange(&fake, &callback["code"], &pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].as_str().is_some_and(|t| t.starts_with("ya29.")));
    assert!(body["refresh_token"].as_str().is_some_and(|t| t.starts_with("1//")));
    assert_eq!(body["scope"], SCOPES);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    let id_token = body["id_token"].as_str().expect("id_token");
    let claims = id_token.split('.').nth(1).expect("three parts");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("base64url")).expect("JSON");
    assert_eq!(claims["email"], ALICE);

    let (status, body) = exchange(&fake, &callback["code"], &pkce.verifier).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn partial_grants_and_online_access() {
    let fake = FakeGoogle::start().await;
    fake.add_account(ALICE, "Alice Example");
    let pkce = pkce();
    let url = authorize_url(&fake, &pkce, SCOPES).replace("access_type=offline", "access_type=online");
    let callback = query_of(&fake.approve_with_scopes(&url, ALICE, &["openid", "email"]));
    assert_eq!(callback["scope"], "openid email");
    let (status, body) = exchange(&fake, &callback["code"], &pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid email");
    assert!(body.get("refresh_token").is_none(), "online access has no refresh token: {body}");
    // Without a Gmail scope Gmail refuses.
    let (status, body) =
        get_json(&fake, body["access_token"].as_str().expect("token"), "gmail/v1/users/me/profile").await;
    assert_eq!((status, body["error"]["status"].as_str()), (403, Some("PERMISSION_DENIED")));
}

#[tokio::test]
async fn refresh_works_until_the_grant_is_revoked() {
    let (fake, access, refresh_token) = started_with_alice().await;
    let (status, body) = refresh(&fake, &refresh_token).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["scope"], SCOPES);
    assert_eq!(fake.refresh_count(ALICE), 1);
    let fresh = body["access_token"].as_str().expect("access token").to_owned();
    assert_ne!(fresh, access);

    fake.revoke_grants(ALICE);
    let (status, body) = refresh(&fake, &refresh_token).await;
    assert_eq!(status, 400);
    assert_eq!(body, json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}));
    assert_eq!(get(&fake, &fresh, "gmail/v1/users/me/profile").await.status().as_u16(), 401);
    assert_eq!(fake.refresh_count(ALICE), 1);

    // The app's own revocation at sign-out.
    let (_, other_refresh) = sign_in(&fake, ALICE, SCOPES).await;
    let (status, _) = post_form(&fake.revoke_url(), &[("token", &other_refresh)]).await;
    assert_eq!(status, 200);
    let (status, body) = post_form(&fake.revoke_url(), &[("token", "nonsense")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_token")));
    assert_eq!(fake.revoked_tokens(), [other_refresh.clone(), "nonsense".to_owned()]);
    assert_eq!(refresh(&fake, &other_refresh).await.0, 400);
}

#[tokio::test]
async fn userinfo_and_expired_access_tokens() {
    let (fake, access, refresh_token) = started_with_alice().await;
    let response = reqwest::Client::new().get(fake.userinfo_url()).bearer_auth(&access).send().await.expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    let info: Value = response.json().await.expect("JSON");
    assert_eq!(info["email"], ALICE);
    assert_eq!(info["name"], "Alice Example");
    assert_eq!(info["email_verified"], true);
    assert!(info["sub"].as_str().is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())));
    let bad = reqwest::Client::new().get(fake.userinfo_url()).bearer_auth("ya29.nope").send().await.expect("answer");
    assert_eq!(bad.status().as_u16(), 401);

    fake.expire_access_tokens(ALICE);
    let (status, body) = get_json(&fake, &access, "gmail/v1/users/me/profile").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(body["error"]["message"], "Request had invalid authentication credentials.");
    assert_eq!(fake.quota_units(ALICE), 0, "unauthenticated calls cost nothing");

    let (_, body) = refresh(&fake, &refresh_token).await;
    let fresh = body["access_token"].as_str().expect("access token");
    let (status, body) = get_json(&fake, fresh, "gmail/v1/users/alice%40example.com/profile").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["historyId"], "1000");
    assert_eq!(body["emailAddress"], ALICE);
}

#[tokio::test]
async fn history_pages_through_deliveries_and_expires() {
    let (fake, access, _) = started_with_alice().await;
    let delivered: Vec<String> = (0..250).map(|n| fake.deliver(ALICE, &message(n))).collect();
    assert!(delivered.iter().all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())));

    let mut seen = Vec::new();
    let mut page_token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path =
            "gmail/v1/users/me/history?startHistoryId=1000&historyTypes=messageAdded&labelId=INBOX&maxResults=100"
                .to_owned();
        if let Some(token) = &page_token {
            path.push_str(&format!("&pageToken={token}"));
        }
        let (status, body) = get_json(&fake, &access, &path).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["historyId"], "1250");
        pages += 1;
        for record in body["history"].as_array().expect("records") {
            assert!(record["id"].is_string());
            let added = &record["messagesAdded"][0]["message"];
            assert_eq!(added["labelIds"], json!(["INBOX", "UNREAD"]));
            seen.push(added["id"].as_str().expect("id").to_owned());
        }
        match body["nextPageToken"].as_str() {
            Some(token) => page_token = Some(token.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, delivered);

    let (status, body) = get_json(&fake, &access, "gmail/v1/users/me/history?startHistoryId=1250").await;
    assert_eq!(status, 200);
    assert!(body.get("history").is_none() && body["historyId"] == "1250", "{body}");
    assert_eq!(get(&fake, &access, "gmail/v1/users/me/history").await.status().as_u16(), 400);

    fake.expire_history(ALICE);
    let (status, body) = get_json(&fake, &access, "gmail/v1/users/me/history?startHistoryId=1200").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["status"], "NOT_FOUND");
    assert_eq!(get(&fake, &access, "gmail/v1/users/me/history?startHistoryId=1250").await.status().as_u16(), 200);
    assert_eq!(fake.calls(ALICE, "history.list"), 7);
    assert_eq!(fake.quota_units(ALICE), 14);
}

#[tokio::test]
async fn messages_list_and_raw_round_trip() {
    let (fake, access, _) = started_with_alice().await;
    // Bytes whose base64 needs the URL-safe alphabet and padding.
    let mut raw = message(1);
    raw.extend_from_slice(&[0xfb, 0xff, 0xbf, 0xfe, b'\r', b'\n']);
    let first = fake.deliver(ALICE, &raw);
    let second = fake.deliver(ALICE, &message(2));
    let old = fake.deliver_at(ALICE, &message(3), chrono::Utc::now() - chrono::Duration::days(30));

    let (status, body) = get_json(&fake, &access, &format!("gmail/v1/users/me/messages/{first}?format=raw")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["threadId"], first);
    assert_eq!(body["labelIds"], json!(["INBOX", "UNREAD"]));
    assert!(body["internalDate"].as_str().is_some_and(|d| d.parse::<i64>().is_ok()));
    let encoded = body["raw"].as_str().expect("raw");
    assert_eq!(URL_SAFE.decode(encoded).expect("URL-safe base64"), raw);

    let (status, body) = get_json(&fake, &access, "gmail/v1/users/me/messages/0123456789abcdef?format=raw").await;
    assert_eq!((status, body["error"]["code"].as_u64()), (404, Some(404)));

    let (_, body) = get_json(&fake, &access, "gmail/v1/users/me/messages?labelIds=INBOX&maxResults=2").await;
    let ids: Vec<&str> =
        body["messages"].as_array().expect("messages").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "newest first");
    assert_eq!(body["resultSizeEstimate"], 3);
    let token = body["nextPageToken"].as_str().expect("next page");
    let (_, body) =
        get_json(&fake, &access, &format!("gmail/v1/users/me/messages?labelIds=INBOX&pageToken={token}")).await;
    assert_eq!(body["messages"], json!([{"id": old, "threadId": old}]));
    assert!(body.get("nextPageToken").is_none());

    let (_, body) = get_json(&fake, &access, "gmail/v1/users/me/messages?labelIds=INBOX&q=newer_than%3A7d").await;
    assert_eq!(body["resultSizeEstimate"], 2, "{body}");
    assert_eq!(fake.inbox_ids(ALICE), [first, second, old]);
}

#[tokio::test]
async fn batch_modify_and_labels() {
    let (fake, access, _) = started_with_alice().await;
    let ids: Vec<String> = (0..3).map(|n| fake.deliver(ALICE, &message(n))).collect();

    let created = post_json(&fake, &access, "gmail/v1/users/me/labels", json!({"name": "Newsletters"})).await;
    assert_eq!(created.status().as_u16(), 200);
    let label: Value = created.json().await.expect("JSON");
    assert_eq!(label["id"], "Label_1");
    assert_eq!(label["type"], "user");
    let again = post_json(&fake, &access, "gmail/v1/users/me/labels", json!({"name": "newsletters"})).await;
    assert_eq!(again.status().as_u16(), 409);
    let body: Value = again.json().await.expect("JSON");
    assert_eq!(body["error"]["status"], "ALREADY_EXISTS");
    assert_eq!(fake.label_names(ALICE), ["Newsletters"]);
    let (_, body) = get_json(&fake, &access, "gmail/v1/users/me/labels").await;
    let labels = body["labels"].as_array().expect("labels");
    assert!(labels.iter().any(|l| l["id"] == "INBOX" && l["type"] == "system"));
    assert!(labels.iter().any(|l| l["id"] == "Label_1" && l["name"] == "Newsletters"));

    let request =
        json!({"ids": [ids[0], ids[1], "ffffffffffffffff"], "addLabelIds": ["Label_1"], "removeLabelIds": ["INBOX"]});
    let response = post_json(&fake, &access, "gmail/v1/users/me/messages/batchModify", request).await;
    assert_eq!(response.status().as_u16(), 204);
    assert!(response.bytes().await.expect("body").is_empty());
    assert_eq!(fake.message_labels(ALICE, &ids[0]), ["UNREAD", "Label_1"]);
    assert_eq!(fake.inbox_ids(ALICE), [ids[2].clone()]);

    let unknown = json!({"ids": [ids[2]], "addLabelIds": ["Label_99"]});
    let response = post_json(&fake, &access, "gmail/v1/users/me/messages/batchModify", unknown).await;
    assert_eq!(response.status().as_u16(), 400);
    let too_many: Vec<String> = (0..1001).map(|n| format!("{n:016x}")).collect();
    let response = post_json(
        &fake,
        &access,
        "gmail/v1/users/me/messages/batchModify",
        json!({"ids": too_many, "removeLabelIds": ["INBOX"]}),
    )
    .await;
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(fake.batch_modify_sizes(ALICE), [3]);
    assert_eq!(fake.calls(ALICE, "messages.batchModify"), 3);
    assert_eq!(fake.quota_units(ALICE), 5 + 5 + 1 + 3 * 50);
}

#[tokio::test]
async fn faults_delays_and_concurrency() {
    let (fake, access, _) = started_with_alice().await;
    fake.fail_next("getProfile", 429, Some(7), 1);
    fake.fail_next("getProfile", 503, None, 1);
    let response = get(&fake, &access, "gmail/v1/users/me/profile").await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("7"));
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["errors"][0]["reason"], "rateLimitExceeded");
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    let response = get(&fake, &access, "gmail/v1/users/me/profile").await;
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().get("retry-after").is_none());
    assert_eq!(get(&fake, &access, "gmail/v1/users/me/profile").await.status().as_u16(), 200);

    fake.fail_next("labels.list", 403, None, 1);
    let (status, body) = get_json(&fake, &access, "gmail/v1/users/me/labels").await;
    assert_eq!((status, body["error"]["errors"][0]["reason"].as_str()), (403, Some("userRateLimitExceeded")));
    assert_eq!(fake.calls(ALICE, "getProfile"), 3);
    assert_eq!(fake.quota_units(ALICE), 4);

    // Long enough for all four clients to connect and arrive while the first one still waits.
    fake.set_delay("getProfile", Duration::from_millis(1000));
    let started = std::time::Instant::now();
    let calls = (0..4).map(|_| get(&fake, &access, "gmail/v1/users/me/profile"));
    let statuses: Vec<u16> = futures_util::future::join_all(calls).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200; 4]);
    assert!(started.elapsed() >= Duration::from_millis(1000));
    assert_eq!(fake.max_in_flight(ALICE), 4);

    fake.fail_token_endpoint(503, 1);
    let pkce = pkce();
    let callback = query_of(&fake.approve(&authorize_url(&fake, &pkce, SCOPES), ALICE));
    let (status, body) = exchange(&fake, &callback["code"], &pkce.verifier).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("internal_failure")));
    // The code was not spent by the outage.
    assert_eq!(exchange(&fake, &callback["code"], &pkce.verifier).await.0, 200);
}

#[tokio::test]
async fn send_accepts_json_and_multipart_uploads() {
    let (fake, access, _) = started_with_alice().await;
    let raw = message(1);
    let response =
        post_json(&fake, &access, "gmail/v1/users/me/messages/send", json!({"raw": URL_SAFE_NO_PAD.encode(&raw)}))
            .await;
    assert_eq!(response.status().as_u16(), 200);
    let sent: Value = response.json().await.expect("JSON");
    assert_eq!(sent["labelIds"], json!(["SENT"]));

    // The exact shape google-gmail1's MultiPartReader writes.
    let boundary = "MDuXWGyeE33QFXGchb2VFWc4Z7945d";
    let other = message(2);
    let mut body = format!(
        "\r\n--{boundary}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}\r\n--{boundary}\r\n\
         content-type: message/rfc822\r\ncontent-length: {}\r\n\r\n",
        other.len()
    )
    .into_bytes();
    body.extend_from_slice(&other);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = reqwest::Client::new()
        .post(format!("{}upload/gmail/v1/users/me/messages/send?uploadType=multipart&alt=json", fake.gmail_base_url()))
        .bearer_auth(&access)
        .header("content-type", format!("multipart/related;boundary={boundary}"))
        .body(body)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(fake.sent_messages(ALICE), [raw, other]);
    assert_eq!(fake.calls(ALICE, "messages.send"), 2);
    assert_eq!(fake.quota_units(ALICE), 200);
    assert!(fake.inbox_ids(ALICE).is_empty(), "sent mail is not in the inbox");
}

#[tokio::test]
async fn google_gmail1_reads_what_the_fake_writes() {
    use google_gmail1::api::{BatchModifyMessagesRequest, Label, Message};
    use google_gmail1::hyper_util::client::legacy::{Client, connect::HttpConnector};
    use google_gmail1::hyper_util::rt::TokioExecutor;

    let (fake, access, _) = started_with_alice().await;
    let mut raw = message(1);
    raw.extend_from_slice(&[0xfb, 0xff, 0xbf, b'\r', b'\n']);
    let id = fake.deliver(ALICE, &raw);

    let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut hub = google_gmail1::Gmail::new(client, access.clone());
    hub.base_url(fake.gmail_base_url());
    hub.root_url(fake.gmail_base_url());
    let users = hub.users();

    let (_, profile) = users.get_profile("me").doit().await.expect("profile");
    assert_eq!(profile.history_id, Some(1001));
    let (_, history) = users
        .history_list("me")
        .start_history_id(1000)
        .add_history_types("messageAdded")
        .label_id("INBOX")
        .max_results(500)
        .doit()
        .await
        .expect("history");
    let records = history.history.expect("records");
    assert_eq!(records[0].id, Some(1001));
    let added = records[0].messages_added.as_ref().and_then(|a| a[0].message.as_ref()).expect("added message");
    assert_eq!(added.id.as_deref(), Some(id.as_str()));

    let (_, fetched) = users.messages_get("me", &id).format("raw").doit().await.expect("message");
    assert_eq!(fetched.raw.as_deref(), Some(raw.as_slice()));
    assert!(fetched.internal_date.is_some());

    let (_, listed) = users.messages_list("me").add_label_ids("INBOX").q("newer_than:7d").doit().await.expect("list");
    assert_eq!(listed.messages.map(|m| m.len()), Some(1));

    let label = Label { name: Some("Receipts".into()), ..Label::default() };
    let (_, created) = users.labels_create(label.clone(), "me").doit().await.expect("label");
    assert_eq!(created.id.as_deref(), Some("Label_1"));
    assert!(users.labels_create(label, "me").doit().await.is_err(), "409 for a duplicate name");

    let request = BatchModifyMessagesRequest {
        ids: Some(vec![id.clone()]),
        add_label_ids: Some(vec!["Label_1".into()]),
        remove_label_ids: Some(vec!["INBOX".into()]),
    };
    users.messages_batch_modify(request, "me").doit().await.expect("batchModify");
    assert_eq!(fake.message_labels(ALICE, &id), ["UNREAD", "Label_1"]);

    let reply = message(2);
    let (_, sent) = users
        .messages_send(Message::default(), "me")
        .upload(std::io::Cursor::new(reply.clone()), "message/rfc822".parse().expect("mime type"))
        .await
        .expect("send");
    assert!(sent.id.is_some());
    assert_eq!(fake.sent_messages(ALICE), [reply]);
    assert_eq!(fake.calls(ALICE, "labels.create"), 2);
}
