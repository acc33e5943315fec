//! Errors as the API shows them: every error carries a stable `extensions.code`; server-side
//! failures get generic text and their cause is logged here, once. `AppError` maps to a field error;
//! a request refused before execution (no credentials, bad CSRF header, too deep…) maps to a whole
//! response with a fitting HTTP status.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use juniper::parser::ParseError;
use juniper::{FieldError, GraphQLError, IntoFieldError, ScalarValue, Value};
use serde_json::json;

use crate::error::AppError;

/// The codes clients branch on; never renamed.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const INVALID_INPUT: &str = "INVALID_INPUT";
    pub const CONFLICT: &str = "CONFLICT";
    pub const UPSTREAM: &str = "UPSTREAM";
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    /// The database answers but takes no changes (read-only or full); reads still work.
    pub const READ_ONLY: &str = "READ_ONLY";
    pub const INTERNAL: &str = "INTERNAL";
    /// The body is not a GraphQL request, or names no runnable operation.
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// A mutation sent with GET.
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// Deeper, longer or wider than the schema's limits.
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// Unknown fields, wrong argument types, introspection while it is off…
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
}

impl<S: ScalarValue> IntoFieldError<S> for AppError {
    fn into_field_error(self) -> FieldError<S> {
        let (message, code) = match &self {
            AppError::NotFound => ("not found".to_owned(), code::NOT_FOUND),
            AppError::Unauthorized => ("sign in required".to_owned(), code::UNAUTHENTICATED),
            AppError::Forbidden(_) => ("not allowed".to_owned(), code::FORBIDDEN),
            AppError::Invalid(fields) => {
                let fields: Vec<Value<S>> = fields
                    .iter()
                    .map(|f| {
                        let mut object = juniper::Object::with_capacity(2);
                        object.add_field("field", Value::scalar(f.field.to_owned()));
                        object.add_field("message", Value::scalar(f.message.clone()));
                        Value::Object(object)
                    })
                    .collect();
                let text = self.field_summary();
                let mut extensions = juniper::Object::with_capacity(2);
                extensions.add_field("code", Value::scalar(code::INVALID_INPUT.to_owned()));
                extensions.add_field("fields", Value::List(fields));
                return FieldError::new(format!("invalid input: {text}"), Value::Object(extensions));
            }
            AppError::Conflict(reason) => (reason.clone(), code::CONFLICT),
            AppError::Upstream(detail) => {
                tracing::warn!(detail, "upstream failure answered to an API client");
                ("a service EmailGator depends on failed; nothing was lost, try again".to_owned(), code::UPSTREAM)
            }
            AppError::Unavailable(error) => {
                tracing::warn!(error = format!("{error:#}"), "database unavailable for the GraphQL API");
                ("the database is not answering; nothing was lost, try again in a moment".to_owned(), code::UNAVAILABLE)
            }
            AppError::CannotWrite(error) => {
                tracing::error!(error = format!("{error:#}"), "the database cannot store changes (GraphQL API)");
                (
                    "the database cannot store changes now (read-only or full); nothing was changed, reads still work"
                        .to_owned(),
                    code::READ_ONLY,
                )
            }
            AppError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error in the GraphQL API");
                ("internal error; nothing was lost, try again".to_owned(), code::INTERNAL)
            }
        };
        FieldError::new(message, with_code(code))
    }
}

impl AppError {
    /// "name: give the category a name; description: …", for the error message.
    fn field_summary(&self) -> String {
        match self {
            AppError::Invalid(fields) => {
                fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
            }
            _ => String::new(),
        }
    }
}

fn with_code<S: ScalarValue>(code: &str) -> Value<S> {
    let mut extensions = juniper::Object::with_capacity(1);
    extensions.add_field("code", Value::scalar(code.to_owned()));
    Value::Object(extensions)
}

/// Renames a service's field in input errors to the argument the client sent.
pub fn rename_field(error: AppError, from: &str, to: &'static str) -> AppError {
    match error {
        AppError::Invalid(mut fields) => {
            for field in &mut fields {
                if field.field == from {
                    field.field = to;
                }
            }
            AppError::Invalid(fields)
        }
        other => other,
    }
}

/// A request refused before any resolver ran.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHENTICATED,
            "send `Authorization: Bearer <personal API token>`, or sign in and send the session's X-CSRF-Token",
        )
    }

    pub fn response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .json(json!({ "errors": [{ "message": self.message, "extensions": { "code": self.code } }] }))
    }
}

impl From<AppError> for Refusal {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Unauthorized => Refusal::unauthenticated(),
            AppError::Forbidden(_) => Refusal::new(StatusCode::FORBIDDEN, code::FORBIDDEN, "not allowed"),
            other => {
                tracing::error!(error = format!("{other:#}"), "could not authenticate a GraphQL request");
                Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, "internal error; try again")
            }
        }
    }
}

/// A document juniper refused to run: juniper's own messages describe the client's document, so
/// they are kept; the code and status say which kind of problem it is.
pub fn document_error(error: &GraphQLError) -> HttpResponse {
    let code = match error {
        GraphQLError::ParseError(spanning) => match spanning.item {
            ParseError::DepthLimitExceeded(_)
            | ParseError::TokenLimitExceeded(_)
            | ParseError::FieldLimitExceeded(_) => code::QUERY_TOO_COMPLEX,
            _ => code::GRAPHQL_PARSE_FAILED,
        },
        GraphQLError::ValidationError(_) => code::GRAPHQL_VALIDATION_FAILED,
        GraphQLError::NoOperationProvided
        | GraphQLError::MultipleOperationsProvided
        | GraphQLError::UnknownOperationName
        | GraphQLError::IsSubscription
        | GraphQLError::NotSubscription
        | GraphQLError::NotSupported(_) => code::BAD_REQUEST,
    };
    let mut errors = match serde_json::to_value(error) {
        Ok(serde_json::Value::Array(errors)) => errors,
        _ => vec![json!({ "message": error.to_string() })],
    };
    for error in &mut errors {
        if let Some(object) = error.as_object_mut() {
            object.insert("extensions".into(), json!({ "code": code }));
        }
    }
    HttpResponse::BadRequest().json(json!({ "errors": errors }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(error: AppError) -> (String, String) {
        let error: FieldError = error.into_field_error();
        let code = error.extensions().as_object_value().and_then(|o| o.get_field_value("code")).cloned();
        let code = code.and_then(|c| c.as_scalar().and_then(|s| s.try_as_str().map(str::to_owned))).unwrap_or_default();
        (error.message().to_owned(), code)
    }

    #[test]
    fn each_error_has_a_stable_code_and_internals_stay_inside() {
        assert_eq!(code_of(AppError::NotFound), ("not found".into(), "NOT_FOUND".into()));
        assert_eq!(code_of(AppError::Unauthorized).1, "UNAUTHENTICATED");
        assert_eq!(code_of(AppError::Forbidden("csrf")).1, "FORBIDDEN");
        assert_eq!(code_of(AppError::Conflict("A re-sort is running.".into())).0, "A re-sort is running.");
        let (message, code) = code_of(AppError::internal(anyhow::anyhow!("password=hunter2 at db:5432")));
        assert_eq!(code, "INTERNAL");
        assert!(!message.contains("hunter2"), "{message}");
        let (message, code) = code_of(AppError::Upstream("token endpoint said 500 with secret".into()));
        assert_eq!(code, "UPSTREAM");
        assert!(!message.contains("secret"));
        let (message, code) = code_of(AppError::invalid("name", "give the category a name"));
        assert_eq!(
            (message.as_str(), code.as_str()),
            ("invalid input: name: give the category a name", "INVALID_INPUT")
        );
        let read_only = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ReadOnlyTransaction,
            Box::new("cannot execute INSERT in a read-only transaction".to_owned()),
        );
        let (message, code) = code_of(AppError::from(read_only));
        assert_eq!(code, "READ_ONLY");
        assert!(message.contains("nothing was changed") && !message.contains("INSERT"), "{message}");
    }

    #[test]
    fn renamed_fields_follow_the_argument_names() {
        let AppError::Invalid(fields) = rename_field(AppError::invalid("emails", "x"), "emails", "moveEmailsTo") else {
            panic!("still invalid");
        };
        assert_eq!(fields[0].field, "moveEmailsTo");
    }
}
