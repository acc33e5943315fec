//! Google round trips: `GET /auth/google` (sign in), `POST /mailboxes/connect` (connect or reconnect
//! a Gmail account, from the dashboard or from `GET /mailboxes/connect`, the page an API client
//! sends people to) and `GET /auth/google/callback` for both. Every way a round trip can go wrong
//! ends on a friendly page with a way back, never a raw error.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::clients::google::{Consent, GoogleError, GoogleOAuth};
use crate::error::AppError;
use crate::services::auth;
use crate::services::google_auth::{self, GrantProblem, Purpose, StateProblem};
use crate::state::AppState;
use crate::web::csrf;
use crate::web::extract::{CurrentUser, MaybeUser, SESSION_COOKIE, session_cookie, session_policy};
use crate::web::layout::Layout;

/// Binds a round trip to the browser that started it.
const ROUND_TRIP_COOKIE: &str = "eg_oauth";

#[derive(Template)]
#[template(path = "pages/auth/google_problem.html")]
struct ProblemPage {
    layout: Layout,
    title: &'static str,
    message: String,
    retry_label: &'static str,
    retry_url: &'static str,
}

/// The page behind the API's `connectGmailUrl`: one button that starts the round trip with a POST,
/// so no GET ever starts one.
#[derive(Template, WebTemplate)]
#[template(path = "pages/mailboxes/connect.html")]
pub struct ConnectPage {
    layout: Layout,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct ConnectForm {
    csrf: String,
    /// The address to reconnect, so Google preselects the right account.
    #[serde(default)]
    login_hint: Option<String>,
}

fn oauth(state: &AppState) -> Result<&GoogleOAuth, AppError> {
    state.google.as_ref().ok_or(AppError::NotFound)
}

fn round_trip_cookie(state: &AppState, value: String) -> Cookie<'static> {
    // Lax: the redirect back from Google is a top-level GET, which Lax cookies accompany.
    Cookie::build(ROUND_TRIP_COOKIE, value)
        .path("/auth/google")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.public_url.scheme() == "https")
        .max_age(time::Duration::minutes(10))
        .finish()
}

fn spent_round_trip_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = round_trip_cookie(state, String::new());
    cookie.make_removal();
    cookie
}

async fn redirect_to_google(
    state: &AppState,
    purpose: Purpose,
    user_id: Option<String>,
    login_hint: Option<String>,
) -> Result<HttpResponse, AppError> {
    let google = oauth(state)?.clone();
    let now = state.now();
    let trip = state.db(move |conn| google_auth::begin(conn, purpose, user_id.as_deref(), now)).await?;
    let consent = match purpose {
        Purpose::SignIn => Consent::SignIn,
        Purpose::Connect => Consent::ConnectGmail,
    };
    let url = google.authorize_url(consent, &trip.state, &trip.pkce, login_hint.as_deref());
    Ok(HttpResponse::SeeOther()
        .cookie(round_trip_cookie(state, trip.browser_secret))
        .insert_header((header::LOCATION, url.to_string()))
        .finish())
}

/// `GET /auth/google`: off to Google's account chooser.
pub async fn sign_in(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    redirect_to_google(&state, Purpose::SignIn, None, None).await
}

/// `GET /mailboxes/connect`: "Continue to Google"; not found without a Google OAuth client.
pub async fn connect_page(state: web::Data<AppState>, user: CurrentUser) -> Result<ConnectPage, AppError> {
    oauth(&state)?;
    Ok(ConnectPage { layout: Layout::signed_in(&user.0, user.is_admin(&state)) })
}

/// The address of `GET /mailboxes/connect`, for the API; `None` without a Google OAuth client.
pub fn connect_page_url(state: &AppState) -> Option<String> {
    state.google.as_ref()?;
    state.public_url.join("mailboxes/connect").ok().map(String::from)
}

/// `POST /mailboxes/connect`: off to Google's consent screen for Gmail.
pub async fn connect(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<ConnectForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&user.0.session, &form.csrf)?;
    let hint = form.into_inner().login_hint.filter(|h| !h.trim().is_empty());
    redirect_to_google(&state, Purpose::Connect, Some(user.0.user.id.clone()), hint).await
}

/// `GET /auth/google/callback`: where Google sends the person back.
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: MaybeUser,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let google = oauth(&state)?.clone();
    let query = query.into_inner();
    let Some(state_param) = query.state.filter(|s| !s.is_empty()) else {
        return problem(
            &state,
            "This sign-in link is not valid",
            describe_state(StateProblem::Unknown),
            Purpose::SignIn,
        );
    };
    let browser = req.cookie(ROUND_TRIP_COOKIE).map(|c| c.value().to_owned());
    let now = state.now();
    let returned = state.db(move |conn| google_auth::finish(conn, &state_param, browser.as_deref(), now)).await?;
    let returned = match returned {
        Ok(returned) => returned,
        Err(why) => return problem(&state, "That did not work", describe_state(why), Purpose::SignIn),
    };
    let purpose = returned.purpose;
    if let Some(error) = query.error {
        let message = if error == "access_denied" {
            "You cancelled on Google's page, so nothing was changed.".to_owned()
        } else {
            format!("Google did not complete the request ({error}). Nothing was changed.")
        };
        return problem(&state, "Nothing was changed", message, purpose);
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return problem(&state, "That did not work", "Google sent no authorization code.".into(), purpose);
    };
    let tokens = match google.exchange_code(&code, &returned.code_verifier).await {
        Ok(tokens) => tokens,
        Err(error) => return problem(&state, "Google did not confirm", describe_google(&error), purpose),
    };
    let info = match google.userinfo(&tokens.access_token).await {
        Ok(info) => info,
        Err(error) => return problem(&state, "Google did not confirm", describe_google(&error), purpose),
    };
    match purpose {
        Purpose::SignIn => {
            let is_admin = state.config.is_admin_email(&info.email);
            let previous = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
            let policy = session_policy(&state);
            let outcome = state
                .db(move |conn| {
                    let user = match google_auth::sign_in_user(conn, &info, is_admin, now)? {
                        Ok(user) => user,
                        Err(problem) => return Ok(Err(problem)),
                    };
                    Ok(Ok(auth::rotate_session(conn, &user.id, previous.as_deref(), policy, now)?))
                })
                .await?;
            match outcome {
                Ok(session) => {
                    tracing::info!(user_id = session.session.user_id, "signed in with Google");
                    Ok(HttpResponse::SeeOther()
                        .cookie(session_cookie(&state, session.cookie_value))
                        .cookie(spent_round_trip_cookie(&state))
                        .insert_header((header::LOCATION, "/"))
                        .finish())
                }
                Err(why) => problem(&state, "Sign-in refused", describe_grant(&why), purpose),
            }
        }
        Purpose::Connect => {
            // The round trip belongs to the person who started it, in this browser.
            let Some(signed_in) = user.0.filter(|u| Some(&u.user.id) == returned.user_id.as_ref()) else {
                return problem(
                    &state,
                    "Please sign in again",
                    "Connecting was started by another sign-in. Sign in, then connect the account again.".into(),
                    purpose,
                );
            };
            if let Err(why) = google_auth::check_grant(&tokens) {
                return problem(&state, "The account was not connected", describe_grant(&why), purpose);
            }
            let keyring = state.keyring.clone();
            let user_id = signed_in.user.id.clone();
            let mailbox = state
                .db(move |conn| google_auth::connect_gmail(conn, &keyring, &user_id, &info.email, &tokens, now))
                .await?;
            if let Some(gmail) = state.mail.gmail() {
                gmail.forget(&mailbox.id);
            }
            tracing::info!(user_id = signed_in.user.id, mailbox_id = mailbox.id, "Gmail account connected");
            Ok(HttpResponse::SeeOther()
                .cookie(spent_round_trip_cookie(&state))
                .insert_header((header::LOCATION, "/"))
                .finish())
        }
    }
}

fn describe_state(problem: StateProblem) -> String {
    match problem {
        StateProblem::Unknown => "This page was not opened from EmailGator's sign-in button, so it was ignored.",
        StateProblem::Used => "This sign-in was already completed; a page reload cannot use it again.",
        StateProblem::Expired => "This sign-in took too long and expired.",
        StateProblem::OtherBrowser => {
            "This sign-in was started in another browser (or its cookie was blocked), so it was refused to keep \
             your account safe."
        }
    }
    .to_owned()
}

fn describe_grant(problem: &GrantProblem) -> String {
    match problem {
        GrantProblem::UnverifiedEmail => "Google has not verified this account's email address.",
        GrantProblem::MissingGmailScope => {
            "EmailGator needs permission to read, organise and send your email (the Gmail box on Google's page was \
             not ticked). Try again and leave that box ticked."
        }
        GrantProblem::NoRefreshToken => {
            "Google did not give EmailGator lasting access. Remove EmailGator under \"Third-party apps\" in your \
             Google account, then connect again."
        }
    }
    .to_owned()
}

fn describe_google(error: &GoogleError) -> String {
    match error {
        GoogleError::InvalidGrant(_) => "Google no longer accepts this sign-in code (it was already used or expired).",
        GoogleError::Unavailable(_) => "Google could not be reached. Nothing was changed; please try again.",
        GoogleError::Rejected(_) | GoogleError::NotConfigured => {
            "Google refused the request. If it keeps happening, the OAuth client settings of this server need \
             checking."
        }
    }
    .to_owned()
}

fn problem(state: &AppState, title: &'static str, message: String, purpose: Purpose) -> Result<HttpResponse, AppError> {
    let (retry_label, retry_url) = match purpose {
        Purpose::SignIn => ("Try signing in again", "/auth/google"),
        Purpose::Connect => ("Back to the dashboard", "/"),
    };
    let page = ProblemPage { layout: Layout::anonymous(), title, message, retry_label, retry_url };
    let body = page.render().map_err(AppError::internal)?;
    Ok(HttpResponse::BadRequest()
        .cookie(spent_round_trip_cookie(state))
        .content_type("text/html; charset=utf-8")
        .body(body))
}
