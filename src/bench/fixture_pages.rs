//! Unsubscribe fixture pages on 127.0.0.1, one per kind of sender page the agent must handle, shared
//! by the test suite and `bench unsubscribe`. The server records what really happened (which
//! unsubscribes were carried out, with what), so the agent's report is compared with the truth. A
//! second listener stands for a forbidden loopback service and counts every connection made to it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

pub struct FixturePages {
    pub port: u16,
    /// The port of the forbidden service the redirect fixture points at.
    pub forbidden_port: u16,
    records: Arc<Mutex<Vec<String>>>,
    forbidden_connections: Arc<AtomicUsize>,
    handle: ServerHandle,
}

/// What a fixture page is, what the agent must report for it, and what the server must record.
pub struct Case {
    pub path: &'static str,
    pub expected: &'static str,
    /// The record an actual unsubscribe leaves; `None` where nothing may happen.
    pub record: Option<&'static str>,
}

/// Every browser fixture and its truth.
pub const CASES: &[Case] = &[
    Case { path: "/confirm", expected: "succeeded", record: Some("confirm") },
    Case { path: "/form", expected: "succeeded", record: Some("form:reader@example.com") },
    Case { path: "/prefs", expected: "succeeded", record: Some("prefs:") },
    Case { path: "/two-step", expected: "succeeded", record: Some("two-step") },
    Case { path: "/delayed", expected: "succeeded", record: Some("delayed") },
    Case { path: "/banner", expected: "succeeded", record: Some("banner") },
    Case { path: "/de", expected: "succeeded", record: Some("de") },
    Case { path: "/es", expected: "succeeded", record: Some("es") },
    Case { path: "/login", expected: "needs_manual", record: None },
    Case { path: "/captcha", expected: "needs_manual", record: None },
    Case { path: "/error", expected: "failed", record: None },
    Case { path: "/silent", expected: "needs_manual", record: None },
    Case { path: "/redirect-out", expected: "blocked", record: None },
    // Wording the rules do not know: left to a person unless an AI is configured (tests/api/unsubscribe.rs).
    Case { path: "/fi", expected: "needs_manual", record: None },
    Case { path: "/jatka", expected: "needs_manual", record: None },
];

/// The address the fixtures expect in forms.
pub const READER: &str = "reader@example.com";

struct Shared {
    records: Arc<Mutex<Vec<String>>>,
    forbidden_port: u16,
}

impl FixturePages {
    pub fn start() -> std::io::Result<FixturePages> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let forbidden = std::net::TcpListener::bind("127.0.0.1:0")?;
        let forbidden_port = forbidden.local_addr()?.port();
        let forbidden_connections = Arc::new(AtomicUsize::new(0));
        let counter = forbidden_connections.clone();
        std::thread::spawn(move || {
            for stream in forbidden.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        let records = Arc::new(Mutex::new(Vec::new()));
        let shared = web::Data::new(Shared { records: records.clone(), forbidden_port });
        let (sender, receiver) = std::sync::mpsc::channel();
        // Its own thread and actix system, so it serves whatever runtime the caller is on.
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server =
                    HttpServer::new(move || App::new().app_data(shared.clone()).default_service(web::to(page)))
                        .workers(2)
                        .disable_signals()
                        .listen(listener);
                match server {
                    Ok(server) => {
                        let server = server.run();
                        let _ = sender.send(Ok(server.handle()));
                        server.await
                    }
                    Err(error) => {
                        let _ = sender.send(Err(error));
                        Ok(())
                    }
                }
            })
        });
        let handle = receiver.recv().map_err(std::io::Error::other)??;
        Ok(FixturePages { port, forbidden_port, records, forbidden_connections, handle })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `127.0.0.1:PORT`, for `EMAILGATOR__UNSUBSCRIBE__TEST_ALLOW_LOOPBACK`.
    pub fn allow_pair(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn records(&self) -> Vec<String> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Records made by one fixture (`name` or `name:...`).
    pub fn records_of(&self, name: &str) -> Vec<String> {
        self.records().into_iter().filter(|r| r == name || r.starts_with(&format!("{name}:"))).collect()
    }

    pub fn forbidden_connections(&self) -> usize {
        self.forbidden_connections.load(Ordering::SeqCst)
    }
}

impl Drop for FixturePages {
    fn drop(&mut self) {
        std::mem::drop(self.handle.stop(false));
    }
}

fn html(body: &str) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Newsletter</title></head><body>{body}</body></html>"
    ))
}

fn form(body: &str) -> HashMap<String, Vec<String>> {
    let mut fields: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
        fields.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    fields
}

const DONE: &str = "<h1>Done</h1><p>You have been unsubscribed from Weekly News.</p>";

async fn page(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let record = |what: String| {
        if let Ok(mut records) = shared.records.lock() {
            records.push(what);
        }
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    let is_post = request.method() == actix_web::http::Method::POST;
    match (request.path(), is_post) {
        ("/one-click", true) => {
            let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
            let is_exact = body == "List-Unsubscribe=One-Click"
                && content_type.starts_with("application/x-www-form-urlencoded")
                && request.headers().get("cookie").is_none();
            record(if is_exact { "one-click".into() } else { format!("one-click-refused:{body}") });
            if is_exact { HttpResponse::Ok().body("ok") } else { HttpResponse::BadRequest().body("not RFC 8058") }
        }
        ("/one-click-redirect", true) => {
            record("one-click-redirect".into());
            HttpResponse::Found().insert_header(("location", "/one-click")).finish()
        }
        ("/confirm", false) => html(
            "<p>Do you want to stop receiving Weekly News?</p>\
             <form method=post action=/confirm><button type=submit>Confirm unsubscribe</button></form>",
        ),
        ("/confirm", true) => {
            record("confirm".into());
            html(DONE)
        }
        ("/form", false) => html(
            "<p>Enter your address to leave the list.</p><form method=post action=/form>\
             <label for=e>Email address</label> <input id=e type=email name=email>\
             <button type=submit>Unsubscribe</button></form>",
        ),
        ("/form", true) => {
            let email = form(&body).get("email").and_then(|v| v.first().cloned()).unwrap_or_default();
            record(format!("form:{email}"));
            html(DONE)
        }
        ("/prefs", false) => html(
            "<h1>Email preferences</h1><form method=post action=/prefs>\
             <label><input type=checkbox name=list value=news checked> Weekly news</label><br>\
             <label><input type=checkbox name=list value=offers checked> Special offers</label><br>\
             <label><input type=checkbox name=list value=events checked> Events near you</label><br>\
             <button type=submit>Save preferences</button></form>",
        ),
        ("/prefs", true) => {
            let lists = form(&body).remove("list").unwrap_or_default();
            record(format!("prefs:{}", lists.join(",")));
            if lists.is_empty() {
                html("<p>Your preferences have been saved.</p>")
            } else {
                html(&format!("<p>Your preferences have been saved. You still receive: {}.</p>", lists.join(", ")))
            }
        }
        ("/two-step", false) => {
            html("<p>Manage your subscription to Weekly News.</p><a href=/two-step/sure>Unsubscribe</a>")
        }
        ("/two-step/sure", false) => html(
            "<p>Are you sure you want to unsubscribe? You will no longer receive Weekly News.</p>\
             <form method=post action=/two-step/done><button type=submit>Yes, unsubscribe me</button></form>\
             <a href=/two-step>No, keep me subscribed</a>",
        ),
        ("/two-step/done", true) => {
            record("two-step".into());
            html(DONE)
        }
        ("/delayed", false) => html(
            "<p id=msg>Loading your subscription…</p><script>\
             setTimeout(function () {\
               var b = document.createElement('button'); b.textContent = 'Unsubscribe';\
               b.onclick = function () { fetch('/delayed/done', {method: 'POST'}).then(function () {\
                 document.body.innerHTML = '<p>You have been unsubscribed.</p>'; }); };\
               document.body.appendChild(b); document.getElementById('msg').textContent = 'Weekly News';\
             }, 1200);</script>",
        ),
        ("/delayed/done", true) => {
            record("delayed".into());
            HttpResponse::Ok().body("ok")
        }
        ("/banner", false) => html(
            "<p>Leave Weekly News?</p><form method=post action=/banner><button type=submit>Unsubscribe</button></form>\
             <div id=cookie-banner style='position:fixed;inset:0;background:rgba(0,0,0,.8);color:#fff;z-index:10'>\
             <p>We use cookies.</p><button onclick=\"document.getElementById('cookie-banner').remove()\">Accept all</button></div>",
        ),
        ("/banner", true) => {
            record("banner".into());
            html(DONE)
        }
        ("/de", false) => html(
            "<p>Möchten Sie den Newsletter nicht mehr erhalten?</p>\
             <form method=post action=/de><button type=submit>Newsletter abbestellen</button></form>",
        ),
        ("/de", true) => {
            record("de".into());
            html("<p>Sie wurden erfolgreich abgemeldet.</p>")
        }
        ("/es", false) => html(
            "<p>¿Ya no quieres recibir nuestro boletín?</p>\
             <form method=post action=/es><button type=submit>Darse de baja</button></form>",
        ),
        ("/es", true) => {
            record("es".into());
            html("<p>Te has dado de baja correctamente.</p>")
        }
        ("/login", false) => html(
            "<p>Sign in to manage your subscriptions.</p><form method=post action=/login>\
             <input type=email name=email placeholder=Email><input type=password name=password>\
             <button type=submit>Sign in</button></form>",
        ),
        ("/login", true) => {
            record("login".into());
            html("<p>Signed in</p>")
        }
        ("/captcha", false) => html(
            "<p>Leave Weekly News?</p><form method=post action=/captcha><div class=g-recaptcha \
             style='width:300px;height:80px;border:1px solid'>I'm not a robot</div>\
             <button type=submit>Unsubscribe</button></form>",
        ),
        ("/captcha", true) => {
            record("captcha".into());
            html(DONE)
        }
        ("/error", _) => {
            HttpResponse::InternalServerError().content_type("text/html").body("<h1>Internal Server Error</h1>")
        }
        // An icon button named only in Finnish, and an address field the rules do not recognise.
        ("/fi", false) => html(
            "<p>Viikkokirje</p><p>Etkö halua enää viestejämme?</p><form method=post action=/fi>\
             <label for=o>Sähköpostiosoite</label> <input id=o type=text name=osoite>\
             <button type=submit aria-label=\"Peru tilaus\"><svg width=16 height=16><circle cx=8 cy=8 r=6 /></svg>\
             </button></form>",
        ),
        ("/fi", true) => {
            let address = form(&body).get("osoite").and_then(|v| v.first().cloned()).unwrap_or_default();
            record(format!("fi:{address}"));
            html(DONE)
        }
        // A "continue" the rules do not know, next to a card-number field nothing may type into.
        ("/jatka", false) => html(
            "<p>Viikkokirje</p><form method=post action=/jatka>\
             <label>Kortin numero <input type=text name=cardnumber autocomplete=cc-number></label>\
             <button type=submit>Jatka</button></form>",
        ),
        ("/jatka", true) => {
            let card = form(&body).get("cardnumber").and_then(|v| v.first().cloned()).unwrap_or_default();
            record(format!("jatka:{card}"));
            html(DONE)
        }
        ("/silent", false) => html("<h1>Thanks for reading Weekly News!</h1><p>See you next week.</p>"),
        ("/redirect-out", false) => HttpResponse::Found()
            .insert_header(("location", format!("http://127.0.0.1:{}/unsubscribe", shared.forbidden_port)))
            .finish(),
        _ => HttpResponse::NotFound().body("no such fixture"),
    }
}
