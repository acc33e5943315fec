//! One file per page noun: load what the page shows, render its template.

pub mod admin_jobs;
pub mod auth;
pub mod health;
pub mod home;
