//! The web shell: health, metrics, security headers, assets, the landing page, not-found pages.

use crate::support::TestApp;
use crate::support::test_jobs::RecordRun;

#[tokio::test]
async fn health_reports_the_database_reachable() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/health")).send().await.expect("request");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn metrics_expose_jobs_by_queue_and_state_and_http_requests() {
    let app = TestApp::spawn().await;
    app.enqueue(&RecordRun { key: "m1".into() });
    app.enqueue(&RecordRun { key: "m2".into() });
    app.client.get(app.url("/health")).send().await.expect("request");

    let text = app.client.get(app.url("/metrics")).send().await.expect("request").text().await.expect("body");

    assert!(text.contains("emailgator_jobs{queue=\"default\",state=\"available\"} 2"), "{text}");
    assert!(
        text.contains("emailgator_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("emailgator_http_request_duration_seconds_count{method=\"GET\",route=\"/health\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/")).send().await.expect("request");
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-frame-options"], "DENY");
}

#[tokio::test]
async fn the_landing_page_explains_local_sign_in() {
    let app = TestApp::spawn().await;
    let page = app.client.get(app.url("/")).send().await.expect("request").text().await.expect("body");
    assert!(page.contains("emailgator login-link"));
    assert!(!page.contains("Sign out"));
}

#[tokio::test]
async fn assets_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let css = app.client.get(app.url("/assets/app.css")).send().await.expect("request");
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().expect("ascii").starts_with("text/css"));
    let js = app.client.get(app.url("/assets/app.js")).send().await.expect("request");
    assert_eq!(js.status(), 200);
}

#[tokio::test]
async fn an_unknown_path_is_a_friendly_404_page() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/no/such/page")).send().await.expect("request");
    assert_eq!(response.status(), 404);
    let page = response.text().await.expect("body");
    assert!(page.contains("Not found") && page.contains("Back to EmailGator"));
}
