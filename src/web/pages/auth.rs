//! Local sign-in (the one-time link printed by the binary) and sign-out.
//! The link opens a confirmation page; only its POST uses the link, so link previews cannot spend it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::error::AppError;
use crate::services::auth::{self, LinkProblem};
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::{MaybeUser, SESSION_COOKIE, removal_cookie, session_cookie, session_policy};
use crate::web::layout::Layout;

#[derive(Template, WebTemplate)]
#[template(path = "pages/auth/local.html")]
pub struct LocalSignIn {
    layout: Layout,
    token: String,
    problem: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenForm {
    token: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

fn describe(problem: LinkProblem) -> String {
    match problem {
        LinkProblem::Unknown => "This sign-in link is not valid.",
        LinkProblem::Used => "This sign-in link has already been used; each link works once.",
        LinkProblem::Expired => "This sign-in link has expired.",
    }
    .to_owned()
}

pub async fn show_local_sign_in(
    state: web::Data<AppState>,
    query: web::Query<TokenForm>,
) -> Result<LocalSignIn, AppError> {
    let token = query.into_inner().token;
    let now = state.now();
    let problem = {
        let token = token.clone();
        state.db(move |conn| auth::check_login_token(conn, &token, now)).await?
    };
    Ok(LocalSignIn { layout: Layout::anonymous(), token, problem: problem.map(describe) })
}

pub async fn sign_in_locally(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let token = form.into_inner().token;
    let previous = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let (policy, now) = (session_policy(&state), state.now());
    let result = {
        let token = token.clone();
        state.db(move |conn| auth::sign_in_with_token(conn, &token, previous.as_deref(), policy, now)).await?
    };
    match result {
        Ok(new_session) => {
            tracing::info!(user_id = new_session.session.user_id, "signed in with a local link");
            Ok(HttpResponse::SeeOther()
                .cookie(session_cookie(&state, new_session.cookie_value))
                .insert_header((header::LOCATION, "/"))
                .finish())
        }
        Err(problem) => {
            let page = LocalSignIn { layout: Layout::anonymous(), token, problem: Some(describe(problem)) };
            let body = page.render().map_err(AppError::internal)?;
            Ok(HttpResponse::BadRequest().content_type("text/html; charset=utf-8").body(body))
        }
    }
}

pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: MaybeUser,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(signed_in) = user.0 {
        csrf::verify(&signed_in.session, &form.csrf)?;
        if let Some(cookie) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) {
            state.db(move |conn| auth::sign_out(conn, &cookie)).await?;
        }
    }
    Ok(HttpResponse::SeeOther().cookie(removal_cookie(&state)).insert_header((header::LOCATION, "/")).finish())
}
