//! Prometheus metrics: HTTP request counts and latency histograms (kept in memory by a middleware)
//! and job counts by queue and state (read from the database at scrape time).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::db;
use crate::error::AppError;
use crate::state::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Latency {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    /// (method, route pattern, status) → requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route pattern) → latency histogram.
    latency: Mutex<BTreeMap<(String, String), Latency>>,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut latency) = self.latency.lock() {
            let entry = latency.entry((method.to_owned(), route.to_owned())).or_default();
            entry.count += 1;
            entry.sum += seconds;
            for (bound, slot) in BUCKETS.iter().zip(entry.buckets.iter_mut()) {
                if seconds <= *bound {
                    *slot += 1;
                }
            }
        }
    }

    /// The HTTP part of the exposition text.
    pub fn render_http(&self, out: &mut String) {
        out.push_str("# HELP emailgator_http_requests_total HTTP requests served.\n");
        out.push_str("# TYPE emailgator_http_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((method, route, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "emailgator_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP emailgator_http_request_duration_seconds Time to serve HTTP requests.\n");
        out.push_str("# TYPE emailgator_http_request_duration_seconds histogram\n");
        if let Ok(latency) = self.latency.lock() {
            for ((method, route), histogram) in latency.iter() {
                let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
                for (bound, count) in BUCKETS.iter().zip(histogram.buckets.iter()) {
                    let _ = writeln!(
                        out,
                        "emailgator_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "emailgator_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    histogram.count
                );
                let _ = writeln!(out, "emailgator_http_request_duration_seconds_sum{{{labels}}} {}", histogram.sum);
                let _ = writeln!(out, "emailgator_http_request_duration_seconds_count{{{labels}}} {}", histogram.count);
            }
        }
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Middleware: times every request and records it under its route pattern (not the raw path, so
/// ids do not explode the label set).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req.match_pattern().unwrap_or_else(|| "(unmatched)".into());
    let metrics = req.app_data::<web::Data<AppState>>().map(|state| state.metrics.clone());
    let response = next.call(req).await?;
    if let Some(metrics) = metrics {
        metrics.record(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    }
    Ok(response)
}

/// `GET /metrics`: the Prometheus text format.
pub async fn show(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let counts = state.db(|conn| Ok(db::jobs::count_by_queue_and_state(conn)?)).await?;
    let mut out = String::new();
    out.push_str("# HELP emailgator_jobs Jobs in the database by queue and state.\n");
    out.push_str("# TYPE emailgator_jobs gauge\n");
    for (queue, job_state, count) in counts {
        let _ = writeln!(out, "emailgator_jobs{{queue=\"{}\",state=\"{job_state}\"}} {count}", escape(&queue));
    }
    out.push_str("# HELP emailgator_cron_leader 1 when this instance leads cron.\n");
    out.push_str("# TYPE emailgator_cron_leader gauge\n");
    let _ = writeln!(out, "emailgator_cron_leader {}", u8::from(state.leadership.is_leader()));
    state.metrics.render_http(&mut out);
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(out))
}
