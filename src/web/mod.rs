//! HTTP: server-rendered pages (askama), the GraphQL API (juniper), health and metrics, sessions and
//! CSRF. Handlers read as a recipe: who is asking (extractor) → load → validate → call a service →
//! render.

pub mod assets;
pub mod csrf;
pub mod error_page;
pub mod extract;
pub mod form;
pub mod graphql;
pub mod headers;
pub mod layout;
pub mod metrics;
pub mod pages;
pub mod request_id;
pub mod routes;
pub mod sidecar;
