//! Who is asking: `CurrentUser` (signed in), `Admin` (an admin), `MaybeUser` (either), all loaded
//! from the server-side session behind the HttpOnly cookie.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use crate::error::AppError;
use crate::services::auth::{self, SessionPolicy, SignedIn};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "eg_session";

/// A signed-in user with their session (for the CSRF token).
#[derive(Debug, Clone)]
pub struct CurrentUser(pub SignedIn);

/// A signed-in admin: the local owner or an address in `ADMIN_EMAILS`.
#[derive(Debug, Clone)]
pub struct Admin(pub SignedIn);

/// The signed-in user, if any.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<SignedIn>);

pub fn session_policy(state: &AppState) -> SessionPolicy {
    SessionPolicy { idle: state.config.server.session_idle, absolute: state.config.server.session_absolute }
}

/// The session cookie: HttpOnly, SameSite=Lax (the OAuth redirect back must carry it), Secure on https.
pub fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let max_age = time::Duration::seconds(i64::try_from(state.config.server.session_absolute.as_secs()).unwrap_or(0));
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.public_url.scheme() == "https")
        .max_age(max_age)
        .finish()
}

pub fn removal_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = session_cookie(state, String::new());
    cookie.make_removal();
    cookie
}

async fn load(req: HttpRequest) -> Result<Option<SignedIn>, AppError> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(AppError::internal(anyhow::anyhow!("application state missing")));
    };
    let Some(cookie) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    let policy = session_policy(&state);
    let now = state.now();
    let signed_in = state.db(move |conn| auth::load_session(conn, &cookie, policy, now)).await?;
    if let Some(signed_in) = &signed_in {
        crate::telemetry::identify_user(&signed_in.user.id);
    }
    Ok(signed_in)
}

fn is_admin(req: &HttpRequest, signed_in: &SignedIn) -> bool {
    let by_config =
        req.app_data::<web::Data<AppState>>().is_some_and(|state| state.config.is_admin_email(&signed_in.user.email));
    signed_in.user.is_admin || by_config
}

impl CurrentUser {
    pub fn is_admin(&self, state: &AppState) -> bool {
        self.0.user.is_admin || state.config.is_admin_email(&self.0.user.email)
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { load(req).await?.map(CurrentUser).ok_or(AppError::Unauthorized) })
    }
}

impl FromRequest for Admin {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let signed_in = load(req.clone()).await?.ok_or(AppError::Unauthorized)?;
            if is_admin(&req, &signed_in) { Ok(Admin(signed_in)) } else { Err(AppError::Forbidden("admins only")) }
        })
    }
}

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeUser(load(req).await?)) })
    }
}
