//! `GET /health`: JSON status, 200 when the database answers, 503 when it does not.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub async fn show(state: web::Data<AppState>) -> HttpResponse {
    let database = state.db(|conn| Ok(conn.ping()?)).await;
    let version = env!("CARGO_PKG_VERSION");
    // The commit this binary was built from, so a deploy can wait for its own revision to answer.
    let revision = crate::telemetry::REVISION;
    match database {
        Ok(()) => HttpResponse::Ok().json(json!({
            "status": "ok", "database": "ok", "version": version, "revision": revision
        })),
        Err(error) => {
            tracing::warn!(%error, "health check: database unavailable");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "unavailable", "database": "unavailable", "version": version, "revision": revision
            }))
        }
    }
}
