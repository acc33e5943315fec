//! `AppError` as a page: the right status, a plain explanation and a way back. Server errors show
//! generic text; their cause chain is logged here, once.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::layout::Layout;
use crate::error::AppError;

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage {
    layout: Layout,
    title: String,
    message: String,
    fields: Vec<String>,
    is_sign_in_needed: bool,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AppError::Unavailable(_) | AppError::CannotWrite(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message) = match self {
            AppError::NotFound => ("Not found", "There is nothing here, or it is not yours.".to_owned()),
            AppError::Unauthorized => ("Please sign in", "You need to be signed in to see this page.".to_owned()),
            AppError::Forbidden("csrf") => {
                ("This form has expired", "Nothing was changed. Go back, reload the page, and try again.".to_owned())
            }
            AppError::Forbidden("origin") => (
                "Request refused",
                "This request did not come from an EmailGator page, so nothing was changed.".to_owned(),
            ),
            AppError::Forbidden(_) => ("Not allowed", "Your account cannot do this.".to_owned()),
            AppError::Invalid(_) => ("Please check your input", "Some fields need attention.".to_owned()),
            AppError::Conflict(reason) => ("That did not work", reason.clone()),
            AppError::Upstream(_) => {
                ("A service we depend on failed", "Nothing was lost. Please try again in a moment.".to_owned())
            }
            AppError::Unavailable(error) => {
                tracing::warn!(error = format!("{error:#}"), "database unavailable");
                (
                    "The database is not answering",
                    "Nothing was lost. EmailGator reconnects by itself; please try again in a moment.".to_owned(),
                )
            }
            AppError::CannotWrite(error) => {
                tracing::error!(error = format!("{error:#}"), "the database cannot store changes");
                (
                    "The database cannot store changes",
                    "Nothing was changed: the database is read-only or its disk is full. Reading still works; \
                     please try again once your admin has fixed it."
                        .to_owned(),
                )
            }
            AppError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                (
                    "Something went wrong",
                    "Nothing was lost. Please try again; if it keeps happening, tell your admin.".to_owned(),
                )
            }
        };
        let fields = match self {
            AppError::Invalid(errors) => errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect(),
            _ => Vec::new(),
        };
        let page = ErrorPage {
            layout: Layout::anonymous(),
            title: title.to_owned(),
            message,
            fields,
            is_sign_in_needed: matches!(self, AppError::Unauthorized),
        };
        let body = page.render().unwrap_or_else(|_| title.to_owned());
        HttpResponse::build(self.status_code()).content_type(ContentType::html()).body(body)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use actix_web::body::MessageBody;
    use diesel::result::{DatabaseErrorKind, Error};

    use super::*;

    fn page(error: Error) -> (u16, String) {
        let response = AppError::from(error).error_response();
        let status = response.status().as_u16();
        let body = response.into_body().try_into_bytes().map(|b| String::from_utf8_lossy(&b).into_owned());
        (status, body.unwrap_or_default())
    }

    #[test]
    fn a_lost_database_connection_is_a_503_that_says_so() {
        let closed = Error::DatabaseError(DatabaseErrorKind::ClosedConnection, Box::new("server closed".to_owned()));
        let (status, body) = page(closed);
        assert_eq!(status, 503);
        assert!(body.contains("The database is not answering") && !body.contains("server closed"), "{body}");

        let other = Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new("syntax error at SELECT".to_owned()));
        let (status, body) = page(other);
        assert_eq!(status, 500);
        assert!(body.contains("Something went wrong") && !body.contains("syntax"), "{body}");
    }

    #[test]
    fn a_database_that_takes_no_changes_is_a_503_that_says_so_without_its_words() {
        let read_only = Error::DatabaseError(
            DatabaseErrorKind::ReadOnlyTransaction,
            Box::new("cannot execute INSERT in a read-only transaction".to_owned()),
        );
        let full = Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new("database or disk is full".to_owned()));
        let sqlite_read_only = Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("attempt to write a readonly database".to_owned()),
        );
        for error in [read_only, full, sqlite_read_only] {
            let (status, body) = page(error);
            assert_eq!(status, 503);
            assert!(
                body.contains("The database cannot store changes") && body.contains("Nothing was changed"),
                "{body}"
            );
            let own_words = ["INSERT", "database or disk", "readonly"];
            assert!(!own_words.iter().any(|w| body.contains(w)), "the database's own words stay in the log: {body}");
        }
    }
}
