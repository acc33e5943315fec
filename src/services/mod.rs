//! Use cases: the one write path shared by pages, the API and jobs. Each function takes a
//! connection, owns its transaction, checks ownership, and returns `AppError`.

pub mod accounts;
pub mod admin;
pub mod api_tokens;
pub mod auth;
pub mod bulk;
pub mod categories;
pub mod dashboard;
pub mod emails;
pub mod gmail_tokens;
pub mod google_auth;
pub mod imports;
pub mod jobs;
pub mod mailboxes;
pub mod sorting;
pub mod trash;
pub mod unsubscribe;
