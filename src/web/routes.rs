//! The route table, read top-down.

use actix_web::web;

use super::pages::{admin_jobs, auth, health, home};
use super::{assets, metrics};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::show))
        .route("/health", web::get().to(health::show))
        .route("/metrics", web::get().to(metrics::show))
        .route("/assets/app.css", web::get().to(assets::css))
        .route("/assets/app.js", web::get().to(assets::js))
        .route("/auth/local", web::get().to(auth::show_local_sign_in))
        .route("/auth/local", web::post().to(auth::sign_in_locally))
        .route("/auth/sign-out", web::post().to(auth::sign_out))
        .route("/admin/jobs", web::get().to(admin_jobs::show))
        .route("/admin/jobs/{id}/{action}", web::post().to(admin_jobs::act));
}
