//! Gives every request an id (kept from Fly's `fly-request-id` or a caller's `x-request-id` when it
//! looks like one, else new), returned as `x-request-id`, carried by the log lines of the request and
//! by its error-reporting scope; server errors are reported there with the id and the user.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::telemetry;

pub const HEADER: &str = "x-request-id";

/// The id of the request being served, in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Accepts an id from upstream only when it is short and plain, so it cannot forge log lines.
fn is_plain_id(value: &str) -> bool {
    (8..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn request_id(req: &ServiceRequest) -> String {
    ["fly-request-id", HEADER]
        .iter()
        .filter_map(|name| req.headers().get(*name).and_then(|value| value.to_str().ok()))
        .find(|value| is_plain_id(value))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// Middleware: assigns the id, opens the log span and the error-reporting scope, reports 5xx errors.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().as_str().to_owned();
    let route = req.match_pattern().unwrap_or_else(|| "(unmatched)".into());
    let span = tracing::info_span!("request", request_id = %id);
    let scope_id = id.clone();
    let work = async move {
        let mut response = next.call(req).await?;
        let status = response.status();
        // Only failures that carry an error (AppError), not a deliberate 503 from /health.
        if status.is_server_error()
            && let Some(error) = response.response().error()
        {
            telemetry::report_server_error(&method, &route, status.as_u16(), &error.to_string());
        }
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(HeaderName::from_static(HEADER), value);
        }
        Ok(response)
    };
    telemetry::in_request_scope(&scope_id, work.instrument(span)).await
}
