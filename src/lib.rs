//! EmailGator: a self-hostable AI email sorter in one binary.
//!
//! Layers, and who may use whom (dependencies point down only):
//! - `web` (pages and the GraphQL API), `jobs` (runner, cron, job kinds) and `cli`/`startup` sit on top;
//! - `services` hold the use cases and own transactions; they may enqueue job descriptors from `jobs`;
//! - `db` is the only module that names diesel; `domain` holds pure types and rules, with no I/O.

pub mod automation;
pub mod bench;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod encryption;
pub mod error;
pub mod jobs;
pub mod services;
pub mod sorting;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
