//! Every route of `src/web/routes.rs`, with who may use it and the request each walk sends; a test
//! reads the router's source, so a route added there without a row here fails the suite.

use super::Owner;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, for the reason given; it must still show nobody's data.
    Public(&'static str),
    /// A signed-in person, on their own data only.
    User,
    /// Admins only.
    Admin,
    /// The GraphQL endpoint: every field is walked in `graphql_fields`.
    Api,
}

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const fn route(method: &'static str, path: &'static str, access: Access) -> Route {
    Route { method, path, access }
}

use Access::{Admin, Api, Public, User};

pub const ROUTES: &[Route] = &[
    route("GET", "/", Public("the landing page for visitors; the dashboard only with a session")),
    route("GET", "/health", Public("load balancers and the platform probe it; it says ok or not, nothing else")),
    route(
        "GET",
        "/metrics",
        Public("Prometheus scrapes it; aggregate counts only, no user data (restrict at the proxy)"),
    ),
    route("GET", "/assets/app.css", Public("static stylesheet")),
    route("GET", "/assets/app.js", Public("static script")),
    route("GET", "/auth/local", Public("shows a sign-in button for a link; the token in the link is the secret")),
    route(
        "POST",
        "/auth/local",
        Public("signing in: the one-time token is the secret; the Origin check stops login CSRF"),
    ),
    route("POST", "/auth/sign-out", User),
    route("GET", "/auth/google", Public("starts Google sign-in (404 when Google is not configured)")),
    route("GET", "/auth/google/callback", Public("Google's redirect back; the state bound to the session is checked")),
    route("GET", "/mailboxes/connect", User),
    route("POST", "/mailboxes/connect", User),
    route("POST", "/mailboxes/{id}/sync", User),
    route("POST", "/mailboxes/{id}/disconnect", User),
    route("POST", "/demo", User),
    route("GET", "/settings", User),
    route("POST", "/settings/mailboxes/{id}/backfill", User),
    route("POST", "/settings/filing", User),
    route("POST", "/settings/account/delete", User),
    route("GET", "/settings/ai", User),
    route("POST", "/settings/ai", User),
    route("POST", "/settings/ai/resort", User),
    route("GET", "/categories/try", User),
    route("GET", "/categories/new", User),
    route("POST", "/categories", User),
    route("GET", "/categories/{id}", User),
    route("POST", "/categories/{id}", User),
    route("GET", "/categories/{id}/edit", User),
    route("POST", "/categories/{id}/delete", User),
    route("POST", "/emails/bulk", User),
    route("GET", "/emails/{id}", User),
    route("GET", "/emails/{id}/content", User),
    route("GET", "/unsubscribe/attempts/{id}/screenshot", User),
    route("GET", "/subscriptions", User),
    route("POST", "/subscriptions/{id}/trash-when-ignored", User),
    route("GET", "/review", User),
    route("POST", "/emails/assign", User),
    route("GET", "/trash", User),
    route("POST", "/emails/delete", User),
    route("POST", "/emails/restore", User),
    route("GET", "/admin", Admin),
    route("GET", "/admin/jobs", Admin),
    route("POST", "/admin/jobs/{id}/{action}", Admin),
    route("POST", "/api/graphql", Api),
    route("GET", "/api/graphql", Api),
    route("GET", "/api/graphiql", User),
];

impl Route {
    /// The path with the owner's ids in it.
    pub fn concrete(&self, owner: &Owner) -> String {
        let id = match self.path.split('/').nth(1).unwrap_or("") {
            "mailboxes" | "settings" => &owner.mailbox_id,
            "categories" => &owner.category_id,
            "emails" => &owner.email_ids[0],
            "unsubscribe" => &owner.attempt_id,
            "subscriptions" => &owner.subscription_id,
            "admin" => &owner.job_id,
            _ => "",
        };
        let path = self.path.replace("{id}", id).replace("{action}", "discard");
        assert!(!path.contains('{'), "{}: say which of the owner's ids fills it", self.path);
        path
    }

    /// Whether the request names one of the owner's ids (in the path or in the form), so another
    /// user must get 404 or 422; the others act only on the caller's own data.
    pub fn names_an_owner_id(&self) -> bool {
        self.path.contains('{')
            || matches!(
                self.path,
                "/emails/bulk" | "/emails/assign" | "/emails/delete" | "/emails/restore" | "/settings/account/delete"
            )
    }

    /// The form a browser would post (without the CSRF token), aimed at the owner's data.
    pub fn form(&self, owner: &Owner) -> Vec<(String, String)> {
        let fields: Vec<(&str, &str)> = match self.path {
            "/auth/local" => vec![("token", "not-a-real-token")],
            "/mailboxes/{id}/disconnect" => vec![("emails", "remove")],
            "/settings/mailboxes/{id}/backfill" => vec![("backfill_days", "1")],
            "/settings/filing" => vec![("inbox", "keep")],
            "/settings/account/delete" => vec![("confirm", &owner.email_address)],
            "/settings/ai" => vec![("mode", "llm"), ("budget", "1")],
            "/settings/ai/resort" => vec![("days", "30")],
            "/categories" => vec![("name", "Forged"), ("description", "made by someone else")],
            "/categories/{id}" => vec![("name", "Taken over"), ("description", "someone else's now")],
            "/categories/{id}/delete" => vec![("emails", "review")],
            "/emails/bulk" => vec![
                ("action", "delete"),
                ("ids", &owner.email_ids[0]),
                ("ids", &owner.email_ids[1]),
                ("category_id", &owner.category_id),
                ("back", "/"),
            ],
            "/subscriptions/{id}/trash-when-ignored" => vec![("on", "1")],
            "/emails/assign" => vec![("category_id", &owner.category_id), ("ids", &owner.email_ids[1])],
            "/emails/delete" | "/emails/restore" => vec![("ids", &owner.trashed_email_id)],
            _ => vec![],
        };
        fields.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }
}

/// `(METHOD, path)` of every `.route(...)` in the router's source.
fn routes_in_source() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/routes.rs");
    let source = std::fs::read_to_string(path).expect("src/web/routes.rs");
    for other in ["web::resource(", "web::scope(", ".service(", "default_service("] {
        assert!(!source.contains(other), "routes.rs uses {other}: teach this test to read it");
    }
    source
        .split(".route(\"")
        .skip(1)
        .map(|rest| {
            let (path, rest) = rest.split_once('"').expect("a quoted path");
            let method = rest
                .split_once("web::")
                .and_then(|(_, m)| m.split_once('('))
                .map(|(m, _)| m.to_ascii_uppercase())
                .expect("web::<method>()");
            (method, path.to_owned())
        })
        .collect()
}

#[test]
fn the_table_lists_every_route_of_the_router_and_nothing_else() {
    let in_source = routes_in_source();
    assert!(in_source.len() > 40, "the router's routes were read: {in_source:?}");
    let in_table: Vec<(String, String)> = ROUTES.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
    let missing: Vec<_> = in_source.iter().filter(|r| !in_table.contains(r)).collect();
    assert!(missing.is_empty(), "routes without a row in the security table: {missing:?}");
    let stale: Vec<_> = in_table.iter().filter(|r| !in_source.contains(r)).collect();
    assert!(stale.is_empty(), "rows for routes the router no longer has: {stale:?}");
    // Route attributes on handlers would add routes this scan cannot see.
    let pages = concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/pages");
    for entry in std::fs::read_dir(pages).expect("pages") {
        let file = entry.expect("entry").path();
        let text = std::fs::read_to_string(&file).expect("page source");
        for attribute in ["#[get(", "#[post(", "#[route(", "#[put(", "#[delete("] {
            assert!(!text.contains(attribute), "{} declares a route outside routes.rs", file.display());
        }
    }
}
