//! Every route of the table, as an anonymous visitor, as another signed-in user holding the owner's
//! ids, and as a non-admin on the admin pages: refused, nothing of the owner's shown or changed.

use super::route_table::{Access, ROUTES, Route};
use super::{Owner, anonymous_client, app_with_owner, assert_unchanged, csrf_of, snapshot};
use crate::support::TestApp;

async fn send(
    app: &TestApp,
    client: &reqwest::Client,
    route: &Route,
    path: &str,
    form: &[(String, String)],
) -> (u16, String, String) {
    let request = match route.method {
        "GET" if route.path == "/api/graphql" => {
            client.get(app.url(path)).query(&[("query", "{ categories { id name } }")])
        }
        "GET" => client.get(app.url(path)),
        "POST" if route.path == "/api/graphql" => client.post(app.url(path)).json(
            &serde_json::json!({ "query": "mutation { createCategory(name: \"Forged\", description: \"x\") { id } }" }),
        ),
        "POST" => client.post(app.url(path)).form(form),
        other => panic!("{other}: teach the walk this method"),
    };
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let location = response.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
    (status, location, response.text().await.expect("body"))
}

#[tokio::test]
async fn an_anonymous_visitor_gets_no_data_and_changes_nothing_on_any_route() {
    let (app, owner) = app_with_owner().await;
    let before = snapshot(&app);
    let anonymous = anonymous_client();
    for route in ROUTES {
        let path = route.concrete(&owner);
        let mut form = route.form(&owner);
        // A forger has no session token; it sends one anyway.
        form.push(("csrf".into(), "forged".into()));
        let context = format!("anonymous {} {path}", route.method);
        let (status, location, body) = send(&app, &anonymous, route, &path, &form).await;
        owner.assert_not_in(&body, &context);
        match route.access {
            Access::Public(_) => {
                assert!(status != 500, "{context}: {status}");
                if route.method == "POST" {
                    assert_eq!(status, 400, "{context}: a made-up sign-in token is refused: {body}");
                }
            }
            Access::User | Access::Admin | Access::Api => {
                let to_sign_in = status == 303 && location.starts_with("/auth");
                // Signing out without a session only clears the cookie and goes home.
                let is_empty_sign_out = route.path == "/auth/sign-out" && status == 303 && location == "/";
                assert!(
                    matches!(status, 401 | 404) || to_sign_in || is_empty_sign_out,
                    "{context}: answered {status} {location}, not a refusal:\n{body}"
                );
            }
        }
    }
    // The public pages answer without a session.
    for path in ["/", "/health", "/assets/app.css", "/assets/app.js", "/auth/local?token=x"] {
        let status = anonymous.get(app.url(path)).send().await.expect("get").status();
        assert_eq!(status, 200, "{path} is public");
    }
    assert_unchanged(&before, &snapshot(&app), "an anonymous visitor");
}

#[tokio::test]
async fn another_user_with_the_owners_ids_gets_not_found_and_changes_nothing() {
    let (app, owner) = app_with_owner().await;
    let (mallory, _) = app.other_browser("mallory@example.com").await;
    let csrf = csrf_of(&app, &mallory).await;
    let before = snapshot(&app);
    let mut walked = 0;
    for route in ROUTES.iter().filter(|r| r.access == Access::User) {
        let path = route.concrete(&owner);
        let mut form = route.form(&owner);
        form.push(("csrf".into(), csrf.clone()));
        let context = format!("mallory {} {path}", route.method);
        if route.method == "POST" && !route.names_an_owner_id() {
            // Forms without an id of the owner's (sign out, demo, AI settings, new category, connect)
            // act on the caller's own account; they are not sent, so the snapshot stays exact.
            continue;
        }
        let (status, _, body) = send(&app, &mallory, route, &path, &form).await;
        owner.assert_not_in(&body, &context);
        if route.names_an_owner_id() {
            assert!(status == 404 || status == 422, "{context}: answered {status}, not 404/422:\n{body}");
            walked += 1;
        } else {
            // Her own page (or 404 for what this server does not offer): none of the owner's data.
            assert!(matches!(status, 200 | 404), "{context}: {status}");
        }
    }
    assert_eq!(walked, ROUTES.iter().filter(|r| r.access == Access::User && r.names_an_owner_id()).count());
    assert!(walked >= 15, "{walked}");
    assert_unchanged(&before, &snapshot(&app), "another user with the owner's ids");
    // Ids in query strings too: trying a description against the owner's category, and filtering
    // her own category by the owner's mailbox.
    let mine = mallory
        .post(app.url("/categories"))
        .form(&[("csrf", csrf.as_str()), ("name", "Mine"), ("description", "my own mail")])
        .send()
        .await
        .expect("post");
    assert_eq!(mine.status(), 303);
    let mine = mine.headers()["location"].to_str().expect("location").to_owned();
    // Her new category is hers; from here on nothing may change.
    let before = snapshot(&app);
    for path in [
        format!("/categories/try?name=x&description=y&category_id={}", owner.category_id),
        format!("{mine}?account={}", owner.mailbox_id),
    ] {
        let response = mallory.get(app.url(&path)).send().await.expect("get");
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        owner.assert_not_in(&body, &path);
        assert!(status == 404 || status == 422, "{path}: {status}");
    }
    assert_unchanged(&before, &snapshot(&app), "another user's query-string ids");
    assert_unchanged_for_owner(&app, &owner);
}

/// The owner's rows, field by field, as the demo and the seed left them.
fn assert_unchanged_for_owner(app: &TestApp, owner: &Owner) {
    let category = emailgator::db::categories::find(&mut app.conn(), &owner.category_id).expect("find");
    assert_eq!(category.expect("the owner's category is still there").name, "Receipts & orders");
    for id in &owner.email_ids {
        let email = crate::graphql::email(app, id);
        assert!(email.trashed_at.is_none() && email.category_id.as_deref() == Some(owner.category_id.as_str()));
    }
    assert!(crate::graphql::email(app, &owner.trashed_email_id).trashed_at.is_some(), "still in the trash");
    let user = emailgator::db::users::find(&mut app.conn(), &owner.user_id).expect("find");
    assert!(user.is_some(), "the owner's account is still there");
}

#[tokio::test]
async fn a_signed_in_non_admin_is_refused_every_admin_route() {
    let (app, owner) = app_with_owner().await;
    let (nobody, _) = app.other_browser("nobody@example.com").await;
    let csrf = csrf_of(&app, &nobody).await;
    let before = snapshot(&app);
    let admin_routes: Vec<&Route> = ROUTES.iter().filter(|r| r.access == Access::Admin).collect();
    assert!(admin_routes.iter().all(|r| r.path.starts_with("/admin")), "admin pages live under /admin");
    assert!(
        ROUTES.iter().filter(|r| r.path.starts_with("/admin")).all(|r| r.access == Access::Admin),
        "every /admin route is admin-only"
    );
    for route in &admin_routes {
        for action in ["retry", "cancel", "discard"] {
            let path = route.concrete(&owner).replace("/discard", &format!("/{action}"));
            let form = vec![("csrf".to_owned(), csrf.clone())];
            let (status, _, body) = send(&app, &nobody, route, &path, &form).await;
            assert!(status == 403 || status == 404, "non-admin {} {path}: {status}", route.method);
            assert!(!body.contains(&owner.email_address), "non-admin {path}: the owner's address leaked");
        }
    }
    assert_unchanged(&before, &snapshot(&app), "a non-admin");
    // The owner (an admin) does get in, so the refusals above are about who asks.
    assert_eq!(app.client.get(app.url("/admin/jobs")).send().await.expect("get").status(), 200);
}
