//! Errors. Policy: typed `thiserror` enums at every boundary; `anyhow` only in start-up and job
//! plumbing; one `AppError` for use cases, mapped once per surface (the error page in `web`), with
//! generic text for 5xx and the cause chain logged once, at the edge.

/// One field's problem, shown next to the field when a form is re-rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("sign in required")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("upstream service failed: {0}")]
    Upstream(String),
    #[error("internal error: {0:#}")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError { field, message: message.into() }])
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(error.into())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        match error {
            diesel::result::Error::NotFound => AppError::NotFound,
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<crate::db::ConnectError> for AppError {
    fn from(error: crate::db::ConnectError) -> Self {
        AppError::Internal(error.into())
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        AppError::Internal(error.into())
    }
}
