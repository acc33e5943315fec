//! The route table, read top-down.

use actix_web::web;

use super::pages::{
    admin_jobs, admin_overview, ai, auth, categories, emails, google, health, home, mailboxes, review, settings,
    subscriptions, trash, try_category,
};
use super::{assets, graphql, metrics};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::show))
        .route("/health", web::get().to(health::show))
        .route("/metrics", web::get().to(metrics::show))
        .route("/assets/app.css", web::get().to(assets::css))
        .route("/assets/app.js", web::get().to(assets::js))
        .route("/auth/local", web::get().to(auth::show_local_sign_in))
        .route("/auth/local", web::post().to(auth::sign_in_locally))
        .route("/auth/sign-out", web::post().to(auth::sign_out))
        .route("/auth/google", web::get().to(google::sign_in))
        .route("/auth/google/callback", web::get().to(google::callback))
        .route("/mailboxes/connect", web::get().to(google::connect_page))
        .route("/mailboxes/connect", web::post().to(google::connect))
        .route("/mailboxes/{id}/sync", web::post().to(mailboxes::sync_now))
        .route("/mailboxes/{id}/disconnect", web::post().to(mailboxes::disconnect))
        .route("/demo", web::post().to(mailboxes::load_demo))
        .route("/settings", web::get().to(settings::show))
        .route("/settings/mailboxes/{id}/backfill", web::post().to(settings::save_backfill))
        .route("/settings/filing", web::post().to(settings::save_filing))
        .route("/settings/account/delete", web::post().to(settings::delete_account))
        .route("/settings/ai", web::get().to(ai::show))
        .route("/settings/ai", web::post().to(ai::save))
        .route("/settings/ai/resort", web::post().to(ai::resort))
        .route("/categories/try", web::get().to(try_category::show))
        .route("/categories/new", web::get().to(categories::new_form))
        .route("/categories", web::post().to(categories::save))
        .route("/categories/{id}", web::get().to(categories::show))
        .route("/categories/{id}", web::post().to(categories::save))
        .route("/categories/{id}/edit", web::get().to(categories::edit_form))
        .route("/categories/{id}/delete", web::post().to(categories::delete))
        .route("/emails/bulk", web::post().to(emails::bulk))
        .route("/emails/{id}", web::get().to(emails::show))
        .route("/emails/{id}/content", web::get().to(emails::content))
        .route("/unsubscribe/attempts/{id}/screenshot", web::get().to(emails::screenshot))
        .route("/subscriptions", web::get().to(subscriptions::show))
        .route("/subscriptions/{id}/trash-when-ignored", web::post().to(subscriptions::set_trash_when_ignored))
        .route("/review", web::get().to(review::show))
        .route("/emails/assign", web::post().to(review::assign))
        .route("/trash", web::get().to(trash::show))
        .route("/emails/delete", web::post().to(trash::delete))
        .route("/emails/restore", web::post().to(trash::restore))
        .route("/admin", web::get().to(admin_overview::show))
        .route("/admin/jobs", web::get().to(admin_jobs::show))
        .route("/admin/jobs/{id}/{action}", web::post().to(admin_jobs::act))
        .route("/api/graphql", web::post().to(graphql::post))
        .route("/api/graphql", web::get().to(graphql::get))
        .route("/api/graphiql", web::get().to(graphql::graphiql));
}
