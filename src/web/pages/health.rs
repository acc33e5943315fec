//! `GET /health`: JSON status. 200 when the database answers ("degraded" when it answers but takes
//! no changes, so that reading stays routed), 503 when it does not answer.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub async fn show(state: web::Data<AppState>) -> HttpResponse {
    let database = state
        .db(|conn| {
            conn.ping()?;
            Ok(conn.is_read_only()?)
        })
        .await;
    let version = env!("CARGO_PKG_VERSION");
    // The commit this binary was built from, so a deploy can wait for its own revision to answer.
    let revision = crate::telemetry::REVISION;
    match database {
        Ok(false) => HttpResponse::Ok().json(json!({
            "status": "ok", "database": "ok", "version": version, "revision": revision
        })),
        Ok(true) => {
            tracing::error!("health check: the database is read-only; nothing can be imported or changed");
            HttpResponse::Ok().json(json!({
                "status": "degraded", "database": "read-only", "version": version, "revision": revision
            }))
        }
        Err(error) => {
            tracing::warn!(%error, "health check: database unavailable");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "unavailable", "database": "unavailable", "version": version, "revision": revision
            }))
        }
    }
}
