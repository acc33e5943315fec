//! `GET /health`: JSON status, 200 when the database answers, 503 when it does not.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub async fn show(state: web::Data<AppState>) -> HttpResponse {
    let database = state.db(|conn| Ok(conn.ping()?)).await;
    let version = env!("CARGO_PKG_VERSION");
    match database {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ok", "database": "ok", "version": version })),
        Err(error) => {
            tracing::warn!(%error, "health check: database unavailable");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "unavailable", "database": "unavailable", "version": version
            }))
        }
    }
}
