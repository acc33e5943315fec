//! One file per page noun: load what the page shows, render its template.

pub mod admin_jobs;
pub mod admin_overview;
pub mod ai;
pub mod auth;
pub mod categories;
pub mod emails;
pub mod google;
pub mod health;
pub mod home;
pub mod mailboxes;
pub mod review;
pub mod settings;
pub mod subscriptions;
pub mod trash;
pub mod try_category;
