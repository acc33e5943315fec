//! Who is asking: a personal API token (`Authorization: Bearer egt_…`: no cookie is read and no CSRF
//! token is needed, since a browser never adds that header by itself), or else the session cookie,
//! whose every POST must carry the session's CSRF token in `X-CSRF-Token`.

use actix_web::http::{Method, StatusCode, header};
use actix_web::{FromRequest, HttpRequest};

use super::errors::{Refusal, code};
use crate::db::users::User;
use crate::services::api_tokens;
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::MaybeUser;

pub const CSRF_HEADER: &str = "x-csrf-token";

/// The token of an `Authorization: Bearer …` header (the scheme is case-insensitive).
pub fn bearer_token(req: &HttpRequest) -> Option<Result<String, ()>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let parsed = value.to_str().ok().and_then(|v| v.trim().split_once(' ')).and_then(|(scheme, token)| {
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned()).filter(|t| !t.is_empty())
    });
    Some(parsed.ok_or(()))
}

pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<User, Refusal> {
    if let Some(token) = bearer_token(req) {
        let Ok(token) = token else { return Err(Refusal::unauthenticated()) };
        let now = state.now();
        let user = state.db(move |conn| api_tokens::authenticate(conn, &token, now)).await?;
        return user.ok_or_else(|| {
            tracing::info!("refused an unknown or revoked API token");
            Refusal::unauthenticated()
        });
    }
    let MaybeUser(signed_in) = MaybeUser::extract(req).await?;
    let signed_in = signed_in.ok_or_else(Refusal::unauthenticated)?;
    // GET runs queries only (checked after parsing), so only POST can change anything.
    if req.method() != Method::GET {
        let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        csrf::verify(&signed_in.session, sent).map_err(|_| {
            Refusal::new(
                StatusCode::FORBIDDEN,
                code::FORBIDDEN,
                "with the session cookie, send the session's CSRF token in the X-CSRF-Token header",
            )
        })?;
    }
    Ok(signed_in.user)
}
