//! The product end to end in real headless chromium, driven by fantoccini against the real binary
//! (`emailgator serve`, its own job runner, local mode, SQLite or the suite's PostgreSQL): sign in, load
//! the demo, create a category, see new mail sorted into it, open a hostile email that must run and
//! load nothing, select all, delete and undo, unsubscribe and watch the status change. Screenshots
//! of the main pages go to `target/e2e-screenshots/`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use emailgator::db;
use emailgator::db::schema::{emails, jobs};
use fantoccini::{Client, Locator};

use crate::support::TestDb;
use crate::support::browser::{Browser, has_browser};
use crate::support::fixture_pages::FixturePages;

const CATEGORY: &str = "Mycology";
const CATEGORY_DESCRIPTION: &str =
    "Mycology club newsletters: mushroom foraging walks, fungi identification, spore print workshops";
const HOSTILE_SUBJECT: &str = "Mycology club: spore print workshop and mushroom foraging walk";
const NEWSLETTER_SUBJECT: &str = "Mycology club weekly: fungi of the month and foraging walk";

/// `emailgator serve` as a child process; stopped with SIGTERM on drop, as ops would stop it.
struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    url: String,
    login_link: String,
}

impl Server {
    async fn start(db: &TestDb, allow_loopback: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_emailgator"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("EMAILGATOR__DATA_DIR", db.dir.path())
            .env("DATABASE_URL", &db.url)
            .env("PORT", "0")
            .env("EMAILGATOR__JOBS__POLL_INTERVAL_MS", "100")
            // Sorted mail is archived at once, so the dashboard's banner empties when the work is done.
            .env("EMAILGATOR__SORTING__ARCHIVE_DELAY_SECS", "0")
            .env("EMAILGATOR__UNSUBSCRIBE__TEST_ALLOW_LOOPBACK", allow_loopback)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start emailgator serve");
        let stdout = child.stdout.take().expect("stdout");
        let login_link = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            let link = lines.find(|line| line.contains("/auth/local?token=")).map(|l| l.trim().to_owned());
            // Keep reading so the server never writes into a closed pipe.
            std::thread::spawn(move || lines.for_each(drop));
            link
        })
        .await
        .expect("read stdout")
        .expect("serve printed a sign-in link");
        let url = login_link.split("/auth/local").next().expect("a base URL").to_owned();
        Server { child, url, login_link }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..200 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback HTTP server that records every connection made to it: what a tracking pixel, a
/// script or a form in a hostile email would reach.
struct Beacon {
    port: u16,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Beacon {
    fn start() -> Beacon {
        let listener = TcpListener::bind("127.0.0.1:0").expect("beacon listener");
        let port = listener.local_addr().expect("address").port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = hits.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut head = [0u8; 2048];
                let n = stream.read(&mut head).unwrap_or(0);
                let line = String::from_utf8_lossy(&head[..n]).lines().next().unwrap_or("(no request)").to_owned();
                seen.lock().expect("hits").push(line);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Beacon { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().expect("hits").clone()
    }
}

/// Everything an HTML email could use to run code or reach a server, each aimed at the beacon.
fn hostile_email(beacon: &Beacon) -> String {
    let b = |path: &str| beacon.url(path);
    let html = format!(
        r#"<!doctype html><html><head>
<meta http-equiv="refresh" content="0;url={refresh}">
<base href="{base}">
<link rel="stylesheet" href="{stylesheet}">
<link rel="prefetch" href="{prefetch}">
<style>@import url({import}); body {{ background: url({background}); }}</style>
<script>
  document.title = "PWNED-script";
  try {{ parent.document.title = "PWNED-parent"; }} catch (e) {{}}
  document.documentElement.setAttribute("data-pwned", "script");
  new Image().src = "{script_image}";
  fetch("{script_fetch}");
</script>
<script src="{script_src}"></script>
</head>
<body onload="document.title='PWNED-onload'; new Image().src='{onload}'">
<h1>Spore print workshop</h1>
<p>Mycology club members: bring mushrooms for the spore print workshop, then join the foraging walk to
identify fungi in the woods.</p>
<img src="{pixel}" width="1" height="1" alt="">
<img src="x" onerror="document.title='PWNED-onerror'; new Image().src='{onerror}'">
<div style="background-image: url({inline_style})">Fungi of the month</div>
<a id="js-link" href="javascript:document.title='PWNED-link'">The workshop schedule</a>
<form action="{form}" method="post"><input name="q" value="spores"><button>Send</button></form>
<iframe src="{iframe}"></iframe>
<object data="{object}"></object>
<embed src="{embed}">
<svg><image href="{svg}" /></svg>
<svg onload="document.title='PWNED-svg-onload'; new Image().src='{svg_onload}'"><script>new Image().src = "{svg_script}";</script><use href="{svg_use}#icon"/></svg>
<video poster="{poster}" src="{video}" autoplay></video>
<audio src="{audio}" autoplay></audio>
<input type="image" src="{input_image}">
<table background="{table}"><tr><td background="{td}">Foraging walk</td></tr></table>
<img srcset="{srcset} 2x" alt="">
</body></html>"#,
        refresh = b("/meta-refresh"),
        base = b("/base/"),
        stylesheet = b("/stylesheet.css"),
        prefetch = b("/prefetch"),
        import = b("/import.css"),
        background = b("/style-background.png"),
        script_image = b("/script-image.gif"),
        script_fetch = b("/script-fetch"),
        script_src = b("/script.js"),
        onload = b("/onload.gif"),
        pixel = b("/pixel.gif"),
        onerror = b("/onerror.gif"),
        inline_style = b("/inline-style.png"),
        form = b("/form"),
        iframe = b("/iframe"),
        object = b("/object"),
        embed = b("/embed"),
        svg = b("/svg-image.png"),
        svg_onload = b("/svg-onload.gif"),
        svg_script = b("/svg-script.gif"),
        svg_use = b("/svg-use.svg"),
        poster = b("/poster.png"),
        video = b("/video.mp4"),
        audio = b("/audio.mp3"),
        input_image = b("/input-image.png"),
        table = b("/table.png"),
        td = b("/td.png"),
        srcset = b("/srcset.png"),
    );
    format!(
        "Authentication-Results: mx.emailgator.local; dkim=pass header.d=sporeworks.example\r\n\
         From: Sporeworks Mycology Club <club@sporeworks.example>\r\n\
         To: Demo User <demo@emailgator.local>\r\n\
         Subject: {HOSTILE_SUBJECT}\r\n\
         Date: Thu, 12 Nov 2026 08:00:00 +0000\r\n\
         Message-ID: <hostile-1@sporeworks.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    )
}

/// A DKIM-signed newsletter whose List-Unsubscribe page (plain http, so not RFC 8058 one-click) is a
/// fixture page with a confirm button: the agent in the server opens it in its own chromium.
fn newsletter(fixtures: &FixturePages) -> String {
    format!(
        "Authentication-Results: mx.emailgator.local; dkim=pass header.d=sporeworks.example; spf=pass\r\n\
         From: Sporeworks Mycology Club <news@sporeworks.example>\r\n\
         To: Demo User <demo@emailgator.local>\r\n\
         Subject: {NEWSLETTER_SUBJECT}\r\n\
         Date: Thu, 12 Nov 2026 07:00:00 +0000\r\n\
         Message-ID: <weekly-1@sporeworks.example>\r\n\
         List-Id: Sporeworks mycology club <club.sporeworks.example>\r\n\
         List-Unsubscribe: <{}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         This week in the mycology club: the fungi of the month, a mushroom foraging walk and a spore\r\n\
         print workshop. Bring a basket.\r\n",
        fixtures.url("/confirm")
    )
}

/// Where screenshots go: `target/e2e-screenshots/` next to the binary under test.
fn screenshot_dir() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_emailgator"));
    let target = binary.parent().and_then(Path::parent).expect("the binary is in target/<profile>/");
    let dir = target.join("e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// Saves the whole page (the viewport grown to the page's height, up to a limit) as `name.png`.
async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let number = |script: &'static str| async move {
        client.execute(script, vec![]).await.ok().and_then(|v| v.as_f64()).unwrap_or(0.0) as u32
    };
    let page_height = number("return document.documentElement.scrollHeight;").await.clamp(600, 5000);
    let frame = number("return window.outerHeight - window.innerHeight;").await;
    client.set_window_size(1280, page_height + frame).await.expect("resize");
    eventually(5, "the window has its new size", || async {
        number("return window.innerHeight;").await + 1 >= page_height
    })
    .await;
    let png = client.screenshot().await.expect("screenshot");
    client.set_window_size(1280, 800).await.expect("resize back");
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    println!("screenshot: {}", path.display());
    path
}

/// Polls `check` every 250 ms until it returns true or `seconds` pass; fails the test on time-out.
async fn eventually<F, Fut>(seconds: u64, what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_or_report(seconds, what, check, String::new).await;
}

/// `eventually` for work the server's job runner does: a time-out also shows its jobs and emails by
/// state, since the server's own log is not in the test's output.
async fn eventually_in_pipeline<F, Fut>(seconds: u64, what: &str, db: &TestDb, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_or_report(seconds, what, check, || format!("; {}", pipeline_report(db))).await;
}

async fn eventually_or_report<F, Fut>(seconds: u64, what: &str, mut check: F, report: impl Fn() -> String)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        if Instant::now() >= deadline {
            panic!("timed out after {seconds} s waiting until {what}{}", report());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn pipeline_report(db: &TestDb) -> String {
    let pool = match db::connect_pool(&db.url, 1, Duration::from_secs(5), true) {
        Ok(pool) => pool,
        Err(error) => return format!("the database could not be read: {error}"),
    };
    let Ok(mut conn) = pool.get() else { return "no connection to the database".into() };
    let by_state: Vec<(String, String, i64)> = jobs::table
        .group_by((jobs::kind, jobs::state))
        .select((jobs::kind, jobs::state, diesel::dsl::count_star()))
        .load(&mut conn)
        .unwrap_or_default();
    let errors: Vec<(String, Option<String>)> = jobs::table
        .filter(jobs::last_error.is_not_null())
        .select((jobs::kind, jobs::last_error))
        .limit(10)
        .load(&mut conn)
        .unwrap_or_default();
    let new_mail: Vec<(String, String, Option<String>)> = emails::table
        .filter(emails::subject.like("Mycology%"))
        .select((emails::subject, emails::state, emails::category_id))
        .load(&mut conn)
        .unwrap_or_default();
    format!("jobs by kind and state: {by_state:?}; job errors: {errors:?}; the new mail: {new_mail:?}")
}

async fn text_of(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn click(client: &Client, css: &str) {
    client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.expect("click");
}

/// Clicks a link, or a button that submits a form, and waits for the next page to have loaded.
async fn click_to_next_page(client: &Client, css: &str) {
    let old = client.find(Locator::Css("html")).await.expect("the current page");
    click(client, css).await;
    // The old page's root goes stale once the browser has navigated.
    eventually(30, &format!("the page after {css} loads"), || async { old.tag_name().await.is_err() }).await;
    eventually(30, "the page is complete", || async {
        client.execute("return document.readyState;", vec![]).await.is_ok_and(|s| s == "complete")
    })
    .await;
}

/// The link to the email with this subject on the current list page, as a path.
async fn email_link(client: &Client, subject: &str) -> Option<String> {
    for link in client.find_all(Locator::Css("table.emails a[href^='/emails/']")).await.ok()? {
        if link.text().await.ok()?.contains(subject) {
            return link.attr("href").await.ok()?;
        }
    }
    None
}

async fn listed_subjects(client: &Client) -> Vec<String> {
    let mut subjects = Vec::new();
    for link in client.find_all(Locator::Css("table.emails a[href^='/emails/']")).await.unwrap_or_default() {
        subjects.push(link.text().await.unwrap_or_default());
    }
    subjects
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sorts_reads_deletes_restores_and_unsubscribes_in_a_real_browser() {
    if !has_browser() {
        return;
    }
    let started = Instant::now();
    let db = TestDb::new();
    let fixtures = FixturePages::start().expect("fixture pages");
    let beacon = Beacon::start();
    let server = Server::start(&db, &fixtures.allow_pair()).await;
    let browser = Browser::start().await;
    let client = browser.client();

    // Sign in with the link the server printed.
    client.goto(&server.login_link).await.expect("open the sign-in link");
    click_to_next_page(client, "form[action='/auth/local'] button").await;
    let heading = text_of(client, "h1").await;
    assert!(
        heading.starts_with("Hello"),
        "the dashboard after signing in, not {heading:?} at {:?}",
        client.current_url().await
    );

    // The demo mailbox: the live banner (refreshed by the page itself) follows the sync, imports,
    // sorting and archiving, and empties when all is done. A "Sync now" while the first sync still
    // runs would be a no-op, so new mail is delivered only after that.
    click_to_next_page(client, "form[action='/demo'] button").await;
    assert!(!text_of(client, "#sync-banner").await.is_empty(), "the banner shows the work starting");
    // Sixty-odd demo emails through the debug binary while the rest of the suite shares the cores.
    eventually_in_pipeline(120, "the demo mail is imported, sorted and archived", &db, || async {
        text_of(client, "#sync-banner").await.is_empty()
    })
    .await;
    client.refresh().await.expect("reload");
    let cards = client.find_all(Locator::Css("ul.cards li.card a[href^='/categories/']")).await.expect("cards");
    assert!(cards.len() >= 5, "the starter categories are on the dashboard");

    // A new category, through the form.
    click_to_next_page(client, "a[href='/categories/new']").await;
    client.find(Locator::Id("name")).await.expect("name").send_keys(CATEGORY).await.expect("type");
    client
        .find(Locator::Id("description"))
        .await
        .expect("description")
        .send_keys(CATEGORY_DESCRIPTION)
        .await
        .expect("type");
    click_to_next_page(client, "form[action='/categories'] button[type=submit]").await;
    assert_eq!(text_of(client, "h1").await, format!("{CATEGORY} 0"), "the new, empty category");
    let category_path = client.current_url().await.expect("url").path().to_owned();

    // New mail arrives in the Maildir; "Sync now" brings it in and it is sorted into the category.
    let inbox = db.dir.path().join("demo-mailbox").join("new");
    std::fs::write(inbox.join("1900000000.hostile.e2e"), hostile_email(&beacon)).expect("deliver");
    std::fs::write(inbox.join("1900000001.newsletter.e2e"), newsletter(&fixtures)).expect("deliver");
    client.goto(&server.url("/")).await.expect("dashboard");
    click_to_next_page(client, "form[action$='/sync'] button").await;
    screenshot(client, "dashboard").await;
    // Sync, import and sort run in the debug binary while the rest of the suite shares the two
    // cores: once in CI this took longer than 30 s (the retry passed), so it gets a minute.
    eventually_in_pipeline(60, "the new mail is sorted into the new category", &db, || async {
        client.goto(&server.url(&category_path)).await.expect("category");
        let subjects = listed_subjects(client).await;
        subjects.iter().any(|s| s.contains(HOSTILE_SUBJECT)) && subjects.iter().any(|s| s.contains(NEWSLETTER_SUBJECT))
    })
    .await;
    screenshot(client, "category").await;

    // The hostile email: it renders, and nothing in it runs or reaches the beacon.
    let hostile_path = email_link(client, HOSTILE_SUBJECT).await.expect("a link to the hostile email");
    client.goto(&server.url(&hostile_path)).await.expect("email page");
    let title = client.title().await.expect("title");
    assert_eq!(title, format!("{HOSTILE_SUBJECT} · EmailGator"));
    let frame = client.find(Locator::Css("iframe[name=email-content]")).await.expect("the frame");
    assert_eq!(frame.attr("sandbox").await.expect("attr").as_deref(), Some(""), "a sandbox that allows nothing");
    frame.enter_frame().await.expect("enter the frame");
    eventually(10, "the email's content shows in its frame", || async {
        text_of(client, "h1").await.contains("Spore print workshop")
    })
    .await;
    // Nothing can be awaited for "nothing happened": give a refresh, onload, onerror and the
    // images time to fire if they were going to.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let active = "script, form, iframe, object, embed, meta[http-equiv], link, style, video, audio, svg, input, \
                  [onerror], [onload], [style*='url'], [background], [srcset], img[src^='http'], a[href^='javascript']";
    let mut survivors = Vec::new();
    for element in client.find_all(Locator::Css(active)).await.expect("query the frame") {
        survivors.push(element.html(false).await.unwrap_or_default());
    }
    assert!(survivors.is_empty(), "no active element survives in the frame: {survivors:?}");
    // WebDriver runs its script in the frame even though the page's own may not run there.
    let inside = client
        .execute(
            "return [document.title, document.documentElement.getAttribute('data-pwned'), location.pathname];",
            vec![],
        )
        .await
        .expect("WebDriver reads the frame");
    let content_path = format!("{hostile_path}/content");
    assert_eq!(inside, serde_json::json!(["", null, content_path]), "no script ran in the frame, no refresh");
    client.enter_parent_frame().await.expect("leave the frame");
    assert_eq!(client.title().await.expect("title"), title, "no script changed the page's title");
    let marker = client
        .execute("return document.documentElement.getAttribute('data-pwned');", vec![])
        .await
        .expect("script in the top document");
    assert!(marker.is_null(), "no script marked the page");
    assert_eq!(client.current_url().await.expect("url").path(), hostile_path, "no refresh navigated away");
    assert!(beacon.hits().is_empty(), "the hostile email reached the network: {:?}", beacon.hits());
    screenshot(client, "email").await;

    // Select all → Delete → the list is empty with a notice → Undo → they are back.
    client.goto(&server.url(&category_path)).await.expect("category");
    let before = listed_subjects(client).await;
    assert_eq!(before.len(), 2, "{before:?}");
    click(client, "input[name=all][value='1']").await;
    let ticked = client.find_all(Locator::Css("input[name=ids]:checked")).await.expect("boxes");
    assert_eq!(ticked.len(), 2, "ticking All ticks the visible boxes too");
    click_to_next_page(client, "button[name=action][value=delete]").await;
    assert!(text_of(client, ".notice").await.contains("2 emails moved to Trash."), "the notice");
    assert!(listed_subjects(client).await.is_empty(), "the list is empty");
    assert!(text_of(client, "main").await.contains("No emails in this category yet."));
    click_to_next_page(client, ".notice button").await;
    let mut after = listed_subjects(client).await;
    let mut expected = before.clone();
    after.sort();
    expected.sort();
    assert_eq!(after, expected, "Undo brings them back");

    // Unsubscribe from the newsletter on its page and watch the status change there.
    let newsletter_path = email_link(client, NEWSLETTER_SUBJECT).await.expect("a link to the newsletter");
    client.goto(&server.url(&newsletter_path)).await.expect("email page");
    click_to_next_page(client, "button[name=action][value=unsubscribe]").await;
    if client.current_url().await.expect("url").path() != newsletter_path {
        client.goto(&server.url(&newsletter_path)).await.expect("email page");
    }
    // The history refreshes itself every 3 s; the page is not reloaded. Its badge shows the status
    // in words ("unsubscribe pending", then "unsubscribed" for a success).
    // The server starts its own chromedriver and chromium from cold for this, on a busy machine.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut statuses: Vec<String> = Vec::new();
    loop {
        let status = text_of(client, "#unsubscribe-history .attempts .badge").await;
        if statuses.last() != Some(&status) {
            statuses.push(status.clone());
        }
        if status == "unsubscribed" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the unsubscribe did not succeed within 30 s: {statuses:?}; the history says {:?}",
            text_of(client, "#unsubscribe-history").await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(statuses.first().map(String::as_str), Some("unsubscribe pending"), "the status changed: {statuses:?}");
    let history = text_of(client, "#unsubscribe-history").await;
    assert!(history.contains("You have been unsubscribed"), "the evidence is shown: {history}");
    assert_eq!(fixtures.records(), ["confirm"], "the sender's server saw exactly one confirmed unsubscribe");
    screenshot(client, "email-unsubscribed").await;

    client.goto(&server.url("/subscriptions")).await.expect("subscriptions");
    let row = client
        .find(Locator::XPath("//tr[contains(., 'Sporeworks Mycology Club')]"))
        .await
        .expect("the list is on the subscriptions page");
    assert!(row.text().await.expect("text").contains("unsubscribed"), "and it shows as unsubscribed");
    screenshot(client, "subscriptions").await;
    client.goto(&server.url("/settings")).await.expect("settings");
    assert_eq!(text_of(client, "h1").await, "Settings");
    screenshot(client, "settings").await;

    assert!(beacon.hits().is_empty(), "the hostile email reached the network later: {:?}", beacon.hits());
    // The control: this very browser does reach the beacon, and the beacon counts it.
    client.goto(&beacon.url("/control")).await.expect("open the beacon");
    eventually(5, "the control request reaches the beacon", || async { !beacon.hits().is_empty() }).await;
    assert!(beacon.hits()[0].starts_with("GET /control "), "{:?}", beacon.hits());
    browser.close().await;
    println!("end-to-end test took {:.1} s", started.elapsed().as_secs_f64());
}
