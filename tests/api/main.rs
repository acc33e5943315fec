//! The integration suite: one binary. Every test builds the application with the production start-up
//! code against a fresh database: SQLite by default, PostgreSQL when `TEST_DATABASE_URL` is set.

mod support;

mod admin_jobs;
mod binary;
mod category_counts;
mod chaos;
mod cron;
mod csrf;
mod demo;
mod deploy_files;
mod e2e_browser;
mod error_reporting;
mod fake_google;
mod gmail_sync;
mod google_accounts;
mod graphql;
mod jobs_concurrency;
mod jobs_crash;
mod jobs_queue;
mod jobs_shutdown;
mod mail_import;
mod metrics;
mod mime_corpus;
mod page_snapshots;
mod pages;
mod production_start;
mod schema;
mod search;
mod security;
mod sessions;
mod sorting;
mod tokens;
mod unsubscribe;
mod web_shell;
