//! Rebuilds when a migration folder is added, since `embed_migrations!` cannot see new folders itself,
//! and records the commit the build was given in `GIT_SHA` (the Dockerfile passes it on) for the
//! release name and `/health`.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=assets");
    println!("cargo:rerun-if-env-changed=GIT_SHA");
    let revision = std::env::var("GIT_SHA").unwrap_or_default();
    let revision = revision.trim();
    if !revision.is_empty() && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        println!("cargo:rustc-env=EMAILGATOR_GIT_SHA={revision}");
    }
}
