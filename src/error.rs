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
    /// The database cannot be reached now (restarting, connections dropped, pool exhausted); the
    /// app reconnects by itself, so trying again later works.
    #[error("database unavailable: {0:#}")]
    Unavailable(#[source] anyhow::Error),
    /// The database answers but takes no changes (read-only, or its disk is full): nothing was
    /// written, reading still works, and the same request succeeds once an admin has made room.
    #[error("database cannot store changes: {0:#}")]
    CannotWrite(#[source] anyhow::Error),
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
        use diesel::result::DatabaseErrorKind::{ClosedConnection, UnableToSendCommand};
        match error {
            diesel::result::Error::NotFound => AppError::NotFound,
            diesel::result::Error::DatabaseError(ClosedConnection | UnableToSendCommand, _) => {
                AppError::Unavailable(error.into())
            }
            error if crate::db::is_cannot_write(&error) => AppError::CannotWrite(error.into()),
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<crate::db::ConnectError> for AppError {
    fn from(error: crate::db::ConnectError) -> Self {
        AppError::Internal(error.into())
    }
}

/// No connection within the pool's timeout: the database is away or every connection is busy.
impl From<diesel::r2d2::PoolError> for AppError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        AppError::Unavailable(error.into())
    }
}
