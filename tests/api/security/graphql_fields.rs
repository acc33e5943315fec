//! Every query and mutation field of the committed `schema.graphql`, as an anonymous client
//! (UNAUTHENTICATED), as another user holding the owner's ids (NOT_FOUND), and as the owner's own
//! browser without its CSRF header (FORBIDDEN); nothing changes. A field without a case fails.

use serde_json::{Value, json};

use super::{Owner, app_with_owner, assert_unchanged, snapshot};
use crate::graphql::{Api, Auth, reply};

/// Whether a case names the owner's ids, or acts on the caller's own data only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aim {
    OwnersIds,
    OwnData,
}

struct Case {
    field: &'static str,
    operation: &'static str,
    variables: Value,
    aim: Aim,
}

fn case(field: &'static str, operation: &'static str, variables: Value, aim: Aim) -> Case {
    Case { field, operation, variables, aim }
}

/// One case per field; `mine` is a category of the other user's own.
fn cases(owner: &Owner, mine: &str) -> Vec<Case> {
    use Aim::{OwnData, OwnersIds};
    let (category, email, mailbox) = (&owner.category_id, &owner.email_ids[0], &owner.mailbox_id);
    vec![
        case("me", "{ me { id email } }", json!({}), OwnData),
        case("categories", "{ categories { id name } }", json!({}), OwnData),
        case("category", "query($id: ID!) { category(id: $id) { name } }", json!({ "id": category }), OwnersIds),
        case("accounts", "{ accounts { id address } }", json!({}), OwnData),
        case("connectGmailUrl", "{ connectGmailUrl }", json!({}), OwnData),
        case(
            "categoryEmails",
            "query($id: ID!) { categoryEmails(categoryId: $id) { totalCount edges { node { id subject } } } }",
            json!({ "id": category }),
            OwnersIds,
        ),
        case(
            "pollingStatus",
            "query($id: ID!) { pollingStatus(accountId: $id) { activity } }",
            json!({ "id": mailbox }),
            OwnersIds,
        ),
        case("email", "query($id: ID!) { email(id: $id) { subject textBody } }", json!({ "id": email }), OwnersIds),
        case("subscriptions", "{ subscriptions { key displayName } }", json!({}), OwnData),
        case(
            "unsubscribeAttempts",
            "query($id: ID!) { unsubscribeAttempts(emailId: $id) { id status screenshotUrl } }",
            json!({ "id": email }),
            OwnersIds,
        ),
        case("needsReview", "{ needsReview { totalCount edges { node { id subject } } } }", json!({}), OwnData),
        case("aiUsage", "{ aiUsage { day calls } }", json!({}), OwnData),
        case(
            "previewCategory",
            "query($id: ID!) { previewCategory(name: \"x\", description: \"y\", categoryId: $id) { examined } }",
            json!({ "id": category }),
            OwnersIds,
        ),
        case("apiTokens", "{ apiTokens { id name } }", json!({}), OwnData),
        case(
            "createCategory",
            "mutation { createCategory(name: \"Forged\", description: \"should not exist\") { id } }",
            json!({}),
            OwnData,
        ),
        case(
            "updateCategory",
            "mutation($id: ID!) { updateCategory(id: $id, name: \"Taken\", description: \"over\") { id } }",
            json!({ "id": category }),
            OwnersIds,
        ),
        case(
            "deleteCategory",
            "mutation($id: ID!) { deleteCategory(id: $id) { id } }",
            json!({ "id": category }),
            OwnersIds,
        ),
        case(
            "disconnectAccount",
            "mutation($id: ID!) { disconnectAccount(id: $id, keepEmails: false) { id } }",
            json!({ "id": mailbox }),
            OwnersIds,
        ),
        case(
            "deleteEmails",
            "mutation($id: ID!) { deleteEmails(ids: [$id]) { changed } }",
            json!({ "id": email }),
            OwnersIds,
        ),
        case(
            "undoDelete",
            "mutation($id: ID!) { undoDelete(ids: [$id]) { changed } }",
            json!({ "id": owner.trashed_email_id }),
            OwnersIds,
        ),
        case(
            "moveEmails",
            "mutation($id: ID!, $mine: ID!) { moveEmails(ids: [$id], categoryId: $mine) { changed } }",
            json!({ "id": email, "mine": mine }),
            OwnersIds,
        ),
        case(
            "markReviewed",
            "mutation($id: ID!) { markReviewed(ids: [$id]) { changed } }",
            json!({ "id": email }),
            OwnersIds,
        ),
        case(
            "unsubscribeEmails",
            "mutation($id: ID!) { unsubscribeEmails(ids: [$id], insist: true) { started { attemptId } } }",
            json!({ "id": email }),
            OwnersIds,
        ),
        case(
            "triggerPoll",
            "mutation($id: ID!) { triggerPoll(accountId: $id) { activity } }",
            json!({ "id": mailbox }),
            OwnersIds,
        ),
        case("createApiToken", "mutation { createApiToken(name: \"forged\") { token } }", json!({}), OwnData),
        case(
            "revokeApiToken",
            "mutation($id: ID!) { revokeApiToken(id: $id) }",
            json!({ "id": owner.api_token_id }),
            OwnersIds,
        ),
    ]
}

/// The field names of `type <name> { … }` in the committed schema.
fn schema_fields(type_name: &str) -> Vec<String> {
    let schema = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).expect("schema");
    let start = schema.find(&format!("type {type_name} {{")).unwrap_or_else(|| panic!("type {type_name}"));
    let body = &schema[start..];
    let body = &body[body.find('{').expect("{") + 1..body.find("\n}").expect("}")];
    let mut fields = Vec::new();
    let mut in_block_string = false;
    for line in body.lines().map(str::trim) {
        if line.starts_with("\"\"\"") {
            // A block string opens and closes on its own lines, or on one line.
            in_block_string = !(in_block_string || (line.len() > 3 && line.ends_with("\"\"\"")));
            continue;
        }
        if in_block_string || line.is_empty() || line.starts_with('"') || line.starts_with('#') {
            continue;
        }
        let name: String = line.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        assert!(!name.is_empty(), "cannot read a field from {line:?}");
        fields.push(name);
    }
    fields
}

fn is_mutation(case: &Case) -> bool {
    case.operation.starts_with("mutation")
}

#[test]
fn every_query_and_mutation_field_of_the_schema_has_a_case() {
    let owner = Owner {
        user_id: String::new(),
        email_address: String::new(),
        mailbox_id: String::new(),
        category_id: String::new(),
        email_ids: vec![String::new()],
        trashed_email_id: String::new(),
        attempt_id: String::new(),
        subscription_id: String::new(),
        api_token_id: String::new(),
        job_id: String::new(),
    };
    let cases = cases(&owner, "");
    let (queries, mutations) = (schema_fields("Query"), schema_fields("Mutation"));
    assert!(queries.len() >= 14 && mutations.len() >= 12, "{queries:?} {mutations:?}");
    for field in &queries {
        assert!(cases.iter().any(|c| c.field == field && !is_mutation(c)), "query field {field} has no security case");
    }
    for field in &mutations {
        assert!(cases.iter().any(|c| c.field == field && is_mutation(c)), "mutation {field} has no security case");
    }
    assert_eq!(cases.len(), queries.len() + mutations.len(), "one case per field, none for a removed field");
    for case in &cases {
        assert!(case.operation.contains(case.field), "the case for {} asks for it", case.field);
    }
}

#[tokio::test]
async fn every_field_refuses_anonymous_clients_other_users_and_cookies_without_the_csrf_header() {
    let (app, owner) = app_with_owner().await;
    let (mallory, _) = Api::other_user(&app, "mallory@example.com").await;
    let made =
        mallory.data("mutation { createCategory(name: \"Mine\", description: \"my own\") { id } }", json!({})).await;
    let mine = made["createCategory"]["id"].as_str().expect("id").to_owned();
    let cases = cases(&owner, &mine);
    let before = snapshot(&app);

    let anonymous = Api::anonymous(&app);
    for case in &cases {
        let answer = anonymous.post(case.operation, case.variables.clone()).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (401, "UNAUTHENTICATED"),
            "{}: {:#}",
            case.field,
            answer.body
        );
        assert!(answer.body.get("data").is_none_or(Value::is_null), "{}", case.field);
        if !is_mutation(case) {
            let answer = anonymous.get(case.operation, case.variables.clone()).await;
            assert_eq!(answer.code(), "UNAUTHENTICATED", "GET {}", case.field);
        }
    }

    let mut not_found = 0;
    for case in &cases {
        if case.aim == Aim::OwnData && is_mutation(case) {
            // Creating her own category or token changes only her data; not sent, so the
            // snapshot stays exact (createCategory ran above, for `mine`).
            continue;
        }
        let answer = mallory.post(case.operation, case.variables.clone()).await;
        owner.assert_not_in(&answer.body.to_string(), case.field);
        match case.aim {
            Aim::OwnersIds => {
                assert_eq!(answer.code(), "NOT_FOUND", "{}: {:#}", case.field, answer.body);
                not_found += 1;
            }
            Aim::OwnData => {
                answer.data();
            }
        }
    }
    assert!(not_found >= 16, "{not_found}");

    // The owner's own browser, but without the X-CSRF-Token header: every mutation is refused.
    let Auth::Session { csrf, .. } = Api::session(&app).await.auth else { panic!("a session") };
    for case in cases.iter().filter(|c| is_mutation(c)) {
        for token in [None, Some("stale-or-forged")] {
            let mut request = app
                .client
                .post(app.url("/api/graphql"))
                .json(&json!({ "query": case.operation, "variables": case.variables }));
            if let Some(token) = token {
                request = request.header("x-csrf-token", token);
            }
            let answer = reply(request.send().await.expect("post")).await;
            assert_eq!((answer.status, answer.code().as_str()), (403, "FORBIDDEN"), "{} with {token:?}", case.field);
        }
    }
    assert_unchanged(&before, &snapshot(&app), "GraphQL refusals");

    // With the header the same cookie works, so the refusals were about the header.
    let owner_api = Api { app: &app, auth: Auth::Session { client: app.client.clone(), csrf } };
    assert_eq!(owner_api.data("{ me { id } }", json!({})).await["me"]["id"], owner.user_id.as_str());
}
