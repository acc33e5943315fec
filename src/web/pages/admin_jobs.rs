//! `/admin/jobs`: the job dashboard for admins, and its retry / cancel / discard buttons.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::db::jobs::JobRow;
use crate::error::AppError;
use crate::services::jobs::{self as job_service, JobAction};
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::Admin;
use crate::web::layout::Layout;

pub struct QueueRow {
    pub queue: String,
    pub concurrency: String,
    pub counts: Vec<i64>,
    pub completed_last_hour: i64,
    pub failed_last_hour: i64,
}

pub struct ScheduleRow {
    pub name: String,
    pub expression: String,
    pub last_run: String,
    pub next_run: String,
}

pub struct JobLine {
    pub id: String,
    pub kind: String,
    pub queue: String,
    pub attempt: String,
    pub age: String,
    pub error: String,
    pub state: String,
    pub owner: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/admin/jobs.html")]
pub struct JobsPage {
    layout: Layout,
    states: Vec<&'static str>,
    queues: Vec<QueueRow>,
    schedules: Vec<ScheduleRow>,
    leader: String,
    this_instance: String,
    running: Vec<JobLine>,
    failures: Vec<JobLine>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct Notice {
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
}

fn when(time: Option<NaiveDateTime>) -> String {
    time.map_or("—".into(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

fn age(since: Option<NaiveDateTime>, now: NaiveDateTime) -> String {
    let Some(since) = since else {
        return "—".into();
    };
    let seconds = (now - since).num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m {}s", seconds / 60, seconds % 60),
        _ => format!("{}h {}m", seconds / 3600, seconds % 3600 / 60),
    }
}

fn line(job: JobRow, now: NaiveDateTime) -> JobLine {
    JobLine {
        attempt: format!("{} of {}", job.attempt, job.max_attempts),
        age: age(job.attempted_at, now),
        error: job.last_error.unwrap_or_default(),
        owner: job.lease_owner.unwrap_or_default(),
        id: job.id,
        kind: job.kind,
        queue: job.queue,
        state: job.state,
    }
}

pub async fn show(state: web::Data<AppState>, admin: Admin, notice: web::Query<Notice>) -> Result<JobsPage, AppError> {
    let (config, now) = (state.config.clone(), state.now());
    let dashboard = state.db(move |conn| job_service::dashboard(conn, &config, now)).await?;
    let now = dashboard.now;
    Ok(JobsPage {
        layout: Layout::signed_in(&admin.0, true),
        states: crate::domain::JobState::ALL.iter().map(|s| s.as_str()).collect(),
        queues: dashboard
            .queues
            .into_iter()
            .map(|q| QueueRow {
                concurrency: q.concurrency.map_or("not run here".into(), |n| n.to_string()),
                counts: q.by_state.iter().map(|(_, n)| *n).collect(),
                completed_last_hour: q.completed_last_hour,
                failed_last_hour: q.failed_last_hour,
                queue: q.queue,
            })
            .collect(),
        schedules: dashboard
            .schedules
            .into_iter()
            .map(|s| ScheduleRow {
                name: s.name,
                expression: s.expression,
                last_run: when(s.last_run),
                next_run: when(s.next_run),
            })
            .collect(),
        leader: dashboard.leader.map_or("no instance leads cron right now".into(), |l| {
            format!("{} (since {})", l.holder, when(Some(l.acquired_at)))
        }),
        this_instance: format!(
            "{}{}",
            state.config.instance_id,
            if state.leadership.is_leader() { " (leader)" } else { "" }
        ),
        running: dashboard.running.into_iter().map(|j| line(j, now)).collect(),
        failures: dashboard.failures.into_iter().map(|j| line(j, now)).collect(),
        notice: notice.into_inner().done.filter(|d| ["retried", "cancelled", "discarded"].contains(&d.as_str())),
    })
}

pub async fn act(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&admin.0.session, &form.csrf)?;
    let (id, action) = path.into_inner();
    let (action, done) = match action.as_str() {
        "retry" => (JobAction::Retry, "retried"),
        "cancel" => (JobAction::Cancel, "cancelled"),
        "discard" => (JobAction::Discard, "discarded"),
        _ => return Err(AppError::NotFound),
    };
    let now = state.now();
    state.db(move |conn| job_service::apply_action(conn, &id, action, now)).await?;
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, format!("/admin/jobs?done={done}"))).finish())
}
