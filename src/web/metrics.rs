//! Prometheus metrics: HTTP request counts and latency histograms (kept in memory by a middleware),
//! the database pool of this instance, and jobs, mailboxes and unsubscribe attempts read from the
//! database at scrape time. docs/METRICS.md explains every name and gives example alerts.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use chrono::NaiveDateTime;

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

/// What `/metrics` reads from the database, in one pooled connection.
#[derive(Debug, Default)]
pub struct DatabaseSnapshot {
    /// (queue, state, count).
    pub jobs: Vec<(String, String, i64)>,
    /// (kind, count) of jobs discarded in the last hour.
    pub job_failures_last_hour: Vec<(String, i64)>,
    /// (kind, count) of jobs waiting to retry.
    pub jobs_retrying: Vec<(String, i64)>,
    /// (kind, status, count).
    pub mailboxes: Vec<(String, String, i64)>,
    /// (kind, seconds since the least recently synced active mailbox of that kind last synced).
    pub sync_age_seconds: Vec<(String, i64)>,
    /// (method, status, count) of unsubscribe attempts finished in the last hour.
    pub unsubscribe_attempts_last_hour: Vec<(String, String, i64)>,
}

impl DatabaseSnapshot {
    fn read(conn: &mut db::DbConn, now: NaiveDateTime) -> db::QueryResult<Self> {
        let hour_ago = now - chrono::Duration::hours(1);
        Ok(Self {
            jobs: db::jobs::count_by_queue_and_state(conn)?,
            job_failures_last_hour: db::jobs::count_discarded_by_kind_since(conn, hour_ago)?,
            jobs_retrying: db::jobs::count_retryable_by_kind(conn)?,
            mailboxes: db::mailboxes::count_by_kind_and_status(conn)?,
            sync_age_seconds: sync_ages(&db::mailboxes::list_sync_times_of_active(conn)?, now),
            unsubscribe_attempts_last_hour: db::unsubscribe_attempts::count_finished_since(conn, hour_ago)?,
        })
    }

    /// The database part of the exposition text.
    pub fn render(&self, out: &mut String) {
        gauge(out, "emailgator_jobs", "Jobs in the database by queue and state.");
        for (queue, job_state, count) in &self.jobs {
            let _ = writeln!(out, "emailgator_jobs{{queue=\"{}\",state=\"{job_state}\"}} {count}", escape(queue));
        }
        gauge(out, "emailgator_job_failures_last_hour", "Jobs of each kind that failed for good in the last hour.");
        for (kind, count) in &self.job_failures_last_hour {
            let _ = writeln!(out, "emailgator_job_failures_last_hour{{kind=\"{}\"}} {count}", escape(kind));
        }
        gauge(out, "emailgator_jobs_retrying", "Jobs of each kind whose last attempt failed, waiting to retry.");
        for (kind, count) in &self.jobs_retrying {
            let _ = writeln!(out, "emailgator_jobs_retrying{{kind=\"{}\"}} {count}", escape(kind));
        }
        gauge(out, "emailgator_mailboxes", "Mailboxes by kind and status.");
        for (kind, status, count) in &self.mailboxes {
            let _ = writeln!(
                out,
                "emailgator_mailboxes{{kind=\"{}\",status=\"{}\"}} {count}",
                escape(kind),
                escape(status)
            );
        }
        gauge(
            out,
            "emailgator_mailbox_sync_age_seconds",
            "Seconds since the least recently synced active mailbox of each kind last synced.",
        );
        for (kind, seconds) in &self.sync_age_seconds {
            let _ = writeln!(out, "emailgator_mailbox_sync_age_seconds{{kind=\"{}\"}} {seconds}", escape(kind));
        }
        gauge(
            out,
            "emailgator_unsubscribe_attempts_last_hour",
            "Unsubscribe attempts finished in the last hour by method and outcome.",
        );
        for (method, status, count) in &self.unsubscribe_attempts_last_hour {
            let _ = writeln!(
                out,
                "emailgator_unsubscribe_attempts_last_hour{{method=\"{}\",status=\"{}\"}} {count}",
                escape(method),
                escape(status)
            );
        }
    }
}

/// The oldest sync per kind; a mailbox never synced counts from when it was added.
fn sync_ages(mailboxes: &[(String, Option<NaiveDateTime>, NaiveDateTime)], now: NaiveDateTime) -> Vec<(String, i64)> {
    let mut oldest: BTreeMap<&str, NaiveDateTime> = BTreeMap::new();
    for (kind, last_synced_at, created_at) in mailboxes {
        let synced = last_synced_at.unwrap_or(*created_at);
        oldest.entry(kind).and_modify(|at| *at = (*at).min(synced)).or_insert(synced);
    }
    oldest.into_iter().map(|(kind, at)| (kind.to_owned(), (now - at).num_seconds().max(0))).collect()
}

/// The pool of this instance: connections in use, idle, and the most it opens.
pub fn render_pool(pool: &db::DbPool, out: &mut String) {
    let pool_state = pool.state();
    gauge(out, "emailgator_db_pool_connections", "Database connections of this instance by state.");
    let in_use = pool_state.connections.saturating_sub(pool_state.idle_connections);
    let _ = writeln!(out, "emailgator_db_pool_connections{{state=\"in_use\"}} {in_use}");
    let _ = writeln!(out, "emailgator_db_pool_connections{{state=\"idle\"}} {}", pool_state.idle_connections);
    gauge(out, "emailgator_db_pool_max_connections", "The most database connections this instance opens.");
    let _ = writeln!(out, "emailgator_db_pool_max_connections {}", pool.max_size());
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// `GET /metrics`: the Prometheus text format.
pub async fn show(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let mut out = String::new();
    // Read before this request takes a connection of its own.
    render_pool(&state.pool, &mut out);
    let now = state.now();
    let snapshot = state.db(move |conn| Ok(DatabaseSnapshot::read(conn, now)?)).await?;
    snapshot.render(&mut out);
    gauge(&mut out, "emailgator_cron_leader", "1 when this instance leads cron.");
    let _ = writeln!(out, "emailgator_cron_leader {}", u8::from(state.leadership.is_leader()));
    state.metrics.render_http(&mut out);
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("valid").naive_utc()
    }

    #[test]
    fn sync_age_is_the_oldest_active_mailbox_per_kind_and_never_synced_counts_from_creation() {
        let now = at(1000);
        let mailboxes = vec![
            ("gmail".to_owned(), Some(at(900)), at(0)),
            ("gmail".to_owned(), Some(at(400)), at(0)),
            ("maildir".to_owned(), None, at(700)),
        ];
        assert_eq!(sync_ages(&mailboxes, now), vec![("gmail".to_owned(), 600), ("maildir".to_owned(), 300)]);
    }

    #[test]
    fn the_snapshot_renders_one_line_per_label_set_with_help_and_type() {
        let snapshot = DatabaseSnapshot {
            job_failures_last_hour: vec![("sync_mailbox".into(), 2)],
            unsubscribe_attempts_last_hour: vec![("one_click".into(), "failed".into(), 3)],
            ..DatabaseSnapshot::default()
        };
        let mut out = String::new();
        snapshot.render(&mut out);
        assert!(out.contains("# TYPE emailgator_job_failures_last_hour gauge\n"), "{out}");
        assert!(out.contains("emailgator_job_failures_last_hour{kind=\"sync_mailbox\"} 2\n"), "{out}");
        assert!(
            out.contains("emailgator_unsubscribe_attempts_last_hour{method=\"one_click\",status=\"failed\"} 3\n"),
            "{out}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
