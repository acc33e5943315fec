//! `schema.graphql` at the repository root is the published schema: it must be what the code
//! builds. After a deliberate change, regenerate it with
//! `UPDATE_SCHEMA=1 cargo nextest run --test api graphql::schema` and commit it.

use std::path::Path;

#[test]
fn the_committed_schema_is_what_the_code_builds() {
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let fresh = emailgator::web::graphql::sdl();
    if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(&committed_path, &fresh).expect("write schema.graphql");
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if committed != fresh {
        let fresh_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("schema.graphql");
        std::fs::write(&fresh_path, &fresh).expect("write the fresh schema");
        panic!(
            "schema.graphql differs from the schema the code builds (written to {}).\n\
             If the change is intended, run `UPDATE_SCHEMA=1 cargo nextest run --test api graphql::schema` \
             and commit schema.graphql.",
            fresh_path.display()
        );
    }
}

#[test]
fn the_schema_keeps_the_operations_clients_rely_on() {
    let sdl = emailgator::web::graphql::sdl();
    for query in [
        "me:",
        "categories:",
        "category(",
        "accounts:",
        "connectGmailUrl:",
        "categoryEmails(",
        "pollingStatus(",
        "email(",
        "needsReview(",
        "aiUsage(",
        "previewCategory(",
        "apiTokens:",
    ] {
        assert!(sdl.contains(&format!("  {query}")), "query {query} is missing");
    }
    for mutation in [
        "createCategory(",
        "updateCategory(",
        "deleteCategory(",
        "disconnectAccount(",
        "deleteEmails(",
        "undoDelete(",
        "moveEmails(",
        "markReviewed(",
        "triggerPoll(",
        "createApiToken(",
        "revokeApiToken(",
    ] {
        assert!(sdl.contains(&format!("  {mutation}")), "mutation {mutation} is missing");
    }
}
