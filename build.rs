//! Rebuilds when a migration folder is added, since `embed_migrations!` cannot see new folders itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=assets");
}
