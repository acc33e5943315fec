//! CSRF defence: a synchronizer token per session on every state-changing form (and in the
//! `X-CSRF-Token` header of the GraphQL API's cookie requests), plus an Origin (or Sec-Fetch-Site)
//! check on every non-GET request, before any handler runs.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use subtle::ConstantTimeEq;

use crate::db::sessions::Session;
use crate::error::AppError;

/// Checks the token a form posted against the session's; constant time.
pub fn verify(session: &Session, posted: &str) -> Result<(), AppError> {
    if bool::from(session.csrf_token.as_bytes().ct_eq(posted.as_bytes())) {
        Ok(())
    } else {
        Err(AppError::Forbidden("csrf"))
    }
}

/// Whether a state-changing request comes from our own pages.
fn is_same_origin(req: &ServiceRequest, public_origin: &str) -> bool {
    let headers = req.headers();
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let info = req.connection_info();
        let own = format!("{}://{}", info.scheme(), info.host());
        return origin == public_origin || origin == own;
    }
    // Browsers that send no Origin still send Sec-Fetch-Site; clients that send neither are not
    // browsers and cannot carry a victim's cookies.
    !matches!(headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()), Some("cross-site"))
}

/// An API request authenticated by a bearer token: the API never reads the cookie for it, and a
/// browser never adds the header by itself, so a cross-site page cannot forge one.
fn is_bearer_api_call(req: &ServiceRequest) -> bool {
    req.path() == "/api/graphql"
        && req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer ")))
}

/// Middleware: refuses cross-origin POST/PUT/PATCH/DELETE with 403 (API calls with a bearer token
/// excepted).
pub async fn check_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let is_safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let public_origin = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|state| state.public_url.origin().ascii_serialization())
        .unwrap_or_default();
    if !is_safe && !is_bearer_api_call(&req) && !is_same_origin(&req, &public_origin) {
        tracing::warn!(path = req.path(), "refused a cross-origin request");
        let response = actix_web::ResponseError::error_response(&AppError::Forbidden("origin"));
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}
