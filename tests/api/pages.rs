//! The pages people use every day: a category's emails (newest first, paged, filtered), bulk
//! actions on a selection or on everything, an email in its locked-down frame, and the category
//! forms; a second user reaches none of the first one's data.

use diesel::prelude::*;
use emailgator::db::{
    self,
    emails::{Bodies, Email},
};

use crate::support::TestApp;
use crate::support::mail_data::{app_with_demo, category_named, seed};

fn email_ids_in_order(page: &str) -> Vec<String> {
    page.split("<a href=\"/emails/").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_owned).collect()
}

fn next_link(page: &str) -> Option<String> {
    let at = page.find("rel=\"next\"")?;
    let start = page[..at].rfind("href=\"")? + "href=\"".len();
    Some(page[start..].split('"').next()?.replace("&#38;", "&").replace("&amp;", "&"))
}

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.client.get(app.url(path)).send().await.expect("get");
    (response.status().as_u16(), response.text().await.expect("body"))
}

#[tokio::test]
async fn a_category_lists_its_emails_newest_first_with_summary_and_where_the_category_came_from() {
    let (app, user_id, _) = app_with_demo().await;
    let categories = db::categories::list_for_user(&mut app.conn(), &user_id).expect("categories");
    let home = get(&app, "/").await.1;
    for category in &categories {
        assert!(home.contains(&format!("href=\"/categories/{}\"", category.id)), "a card links to {}", category.name);
        let (status, page) = get(&app, &format!("/categories/{}", category.id)).await;
        assert_eq!(status, 200);
        let mut expected: Vec<Email> = db::emails::list_in_category(
            &mut app.conn(),
            &category.id,
            &Default::default(),
            None,
            1_000,
            Bodies::Loaded,
        )
        .expect("list");
        // The page reads the same rows without their bodies, every other column equal.
        let without_bodies =
            db::emails::list_in_category(&mut app.conn(), &category.id, &Default::default(), None, 1_000, Bodies::Left)
                .expect("list");
        let cleared: Vec<Email> =
            expected.iter().cloned().map(|e| Email { text_body: None, sanitized_html: None, ..e }).collect();
        assert_eq!(without_bodies, cleared);
        assert!(expected.iter().any(|e| e.text_body.is_some()) || expected.is_empty(), "the demo mail has bodies");
        expected.truncate(50);
        let expected_ids: Vec<String> = expected.iter().map(|e| e.id.clone()).collect();
        assert_eq!(email_ids_in_order(&page), expected_ids, "newest first in {}", category.name);
        if let Some(email) = expected.first() {
            assert!(page.contains("Sorted by local sorter") || page.contains("Sorted by sender memory"), "{page}");
            assert!(email.summary.as_deref().is_some_and(|s| !s.is_empty()));
        }
    }
}

#[tokio::test]
async fn pages_walk_every_email_once_and_filters_narrow_the_list() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Receipts & orders");
    let seeded = seed(&app, &mailbox_id, &category.id, 120, "Quokka");
    let all: Vec<String> =
        db::emails::list_in_category(&mut app.conn(), &category.id, &Default::default(), None, 10_000, Bodies::Loaded)
            .expect("all")
            .into_iter()
            .map(|e| e.id)
            .collect();
    assert!(all.len() > 120);

    let mut walked = Vec::new();
    let mut path = Some(format!("/categories/{}", category.id));
    while let Some(next) = path {
        let (status, page) = get(&app, &next).await;
        assert_eq!(status, 200, "{next}");
        walked.extend(email_ids_in_order(&page));
        assert!(walked.len() <= all.len(), "paging loops: {next}");
        path = next_link(&page);
    }
    assert_eq!(walked, all, "every email once, in order, across pages");

    let (_, page) = get(&app, &format!("/categories/{}?q=QUOKKA+11", category.id)).await;
    let found = email_ids_in_order(&page);
    assert!(found.contains(&seeded[120 - 1 - 11]), "case-insensitive text filter");
    assert!(found.len() < 20 && found.len() >= 11, "only the matching ones: {}", found.len());
    let (_, page) = get(&app, &format!("/categories/{}?q=100%25", category.id)).await;
    assert!(email_ids_in_order(&page).is_empty(), "a typed % is literal");
    let (status, _) = get(&app, &format!("/categories/{}?account={mailbox_id}", category.id)).await;
    assert_eq!(status, 200);
    let (status, _) = get(&app, &format!("/categories/{}?after=garbage", category.id)).await;
    assert_eq!(status, 422, "a broken page link is explained");
}

#[tokio::test]
async fn select_all_deletes_every_matching_email_not_only_the_page_and_undo_brings_them_back() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Receipts & orders");
    let seeded = seed(&app, &mailbox_id, &category.id, 120, "Zebracode");
    let csrf = app.csrf_token().await;
    let back = format!("/categories/{}?q=zebracode&account=", category.id);
    let response = app
        .post_form(
            "/emails/bulk",
            &[
                ("csrf", &csrf),
                ("action", "delete"),
                ("all", "1"),
                ("category_id", &category.id),
                ("q", "zebracode"),
                ("ids", &seeded[0]),
                ("back", &back),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().expect("location").to_owned();
    assert!(location.contains("done=deleted") && location.contains("count=120"), "{location}");
    for id in &seeded {
        assert!(db::emails::find(&mut app.conn(), id).expect("find").expect("row").trashed_at.is_some());
    }
    let others = db::emails::count_in_category(&mut app.conn(), &category.id, &Default::default()).expect("count");
    assert!(others > 0, "emails that did not match the filter stay");

    let page = get(&app, &location).await.1;
    assert!(page.contains("120 emails moved to Trash"), "{page}");
    let at = location.split("at=").nth(1).and_then(|r| r.split('&').next()).expect("at");
    let response = app.post_form("/emails/restore", &[("csrf", &csrf), ("deleted_at", at), ("back", &back)]).await;
    assert_eq!(response.status(), 303);
    for id in &seeded {
        assert!(db::emails::find(&mut app.conn(), id).expect("find").expect("row").trashed_at.is_none(), "undone");
    }
}

#[tokio::test]
async fn moving_and_marking_reviewed_are_the_persons_decisions() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let shopping = category_named(&app, &user_id, "Receipts & orders");
    let seeded = seed(&app, &mailbox_id, &shopping.id, 3, "Parcel");
    let target = db::categories::list_for_user(&mut app.conn(), &user_id)
        .expect("categories")
        .into_iter()
        .find(|c| c.id != shopping.id)
        .expect("another category");
    let csrf = app.csrf_token().await;
    let moved = app
        .post_form(
            "/emails/bulk",
            &[("csrf", &csrf), ("action", "move"), ("target", &target.id), ("ids", &seeded[0]), ("ids", &seeded[1])],
        )
        .await;
    assert_eq!(moved.status(), 303);
    let reviewed = app.post_form("/emails/bulk", &[("csrf", &csrf), ("action", "reviewed"), ("ids", &seeded[2])]).await;
    assert_eq!(reviewed.status(), 303);
    let find = |id: &str| db::emails::find(&mut app.conn(), id).expect("find").expect("row");
    for id in &seeded[..2] {
        assert_eq!(find(id).category_id.as_deref(), Some(target.id.as_str()));
        assert_eq!(find(id).sort_source.as_deref(), Some("you"));
    }
    assert_eq!(find(&seeded[2]).category_id.as_deref(), Some(shopping.id.as_str()));
    assert_eq!(find(&seeded[2]).sort_source.as_deref(), Some("you"));
    let page = get(&app, &format!("/emails/{}", seeded[2])).await.1;
    assert!(page.contains("sorted by you"), "{page}");

    let stale = app.post_form("/emails/bulk", &[("csrf", "stale"), ("action", "delete"), ("ids", &seeded[0])]).await;
    assert_eq!(stale.status(), 403, "a stale CSRF token changes nothing");
    assert!(find(&seeded[0]).trashed_at.is_none());
    let nothing = app.post_form("/emails/bulk", &[("csrf", &csrf), ("action", "delete")]).await;
    assert_eq!(nothing.status(), 422, "an empty selection is explained");
}

#[tokio::test]
async fn categories_are_created_edited_and_deleted_without_orphaning_an_email() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let csrf = app.csrf_token().await;
    assert_eq!(get(&app, "/categories/new").await.0, 200);
    let created = app
        .post_form("/categories", &[("csrf", &csrf), ("name", " Hobbies "), ("description", "Flights, hotels, trains")])
        .await;
    assert_eq!(created.status(), 303);
    let hobbies = category_named(&app, &user_id, "Hobbies");
    assert_eq!(created.headers()["location"], format!("/categories/{}", hobbies.id).as_str());

    let duplicate =
        app.post_form("/categories", &[("csrf", &csrf), ("name", "HOBBIES"), ("description", "again")]).await;
    assert_eq!(duplicate.status(), 422);
    let body = duplicate.text().await.expect("body");
    assert!(body.contains("already have a category called") && body.contains("again"), "the form keeps the input");
    let empty = app.post_form("/categories", &[("csrf", &csrf), ("name", ""), ("description", "")]).await;
    assert_eq!(empty.status(), 422);

    let edited = app
        .post_form(
            &format!("/categories/{}", hobbies.id),
            &[("csrf", &csrf), ("name", "Pastimes"), ("description", "Flights and hotels")],
        )
        .await;
    assert_eq!(edited.status(), 303);
    assert_eq!(category_named(&app, &user_id, "Pastimes").description, "Flights and hotels");
    assert!(get(&app, &format!("/categories/{}/edit", hobbies.id)).await.1.contains("Delete “Pastimes”"));

    let seeded = seed(&app, &mailbox_id, &hobbies.id, 4, "Boarding pass");
    let shopping = category_named(&app, &user_id, "Receipts & orders");
    let deleted = app
        .post_form(&format!("/categories/{}/delete", hobbies.id), &[("csrf", &csrf), ("emails", &shopping.id)])
        .await;
    assert_eq!(deleted.status(), 303);
    for id in &seeded {
        let email = db::emails::find(&mut app.conn(), id).expect("find").expect("row");
        assert_eq!(email.category_id.as_deref(), Some(shopping.id.as_str()), "moved, not orphaned");
    }
    assert!(db::categories::find(&mut app.conn(), &hobbies.id).expect("find").is_none());

    let seeded = seed(&app, &mailbox_id, &shopping.id, 2, "Coupon");
    let to_review =
        app.post_form(&format!("/categories/{}/delete", shopping.id), &[("csrf", &csrf), ("emails", "review")]).await;
    assert_eq!(to_review.status(), 303);
    for id in &seeded {
        let email = db::emails::find(&mut app.conn(), id).expect("find").expect("row");
        assert_eq!((email.state.as_str(), email.category_id), ("needs_review", None));
    }
    assert!(get(&app, "/review").await.1.contains("Coupon 0"));
}

#[tokio::test]
async fn an_email_page_shows_its_content_in_a_frame_that_can_run_and_fetch_nothing() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let shopping = category_named(&app, &user_id, "Receipts & orders");
    let id = seed(&app, &mailbox_id, &shopping.id, 1, "Invoice").remove(0);
    diesel::update(db::schema::emails::table.find(&id))
        .set(
            db::schema::emails::sanitized_html.eq(Some(
                "<p style=\"color:red\">Your invoice</p><img data-remote-src=\"https://tracker.example/p.gif\">",
            )),
        )
        .execute(&mut *app.conn())
        .expect("html");
    let (status, page) = get(&app, &format!("/emails/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Summary of Invoice 0.") && page.contains("sorted by local sorter, 80% sure"), "{page}");
    assert!(page.contains(&format!("<iframe name=\"email-content\" class=\"content\" title=\"The email's content\" sandbox src=\"/emails/{id}/content\"")));

    let response = app.client.get(app.url(&format!("/emails/{id}/content"))).send().await.expect("content");
    let policy = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(policy.starts_with("default-src 'none'; img-src data:;") && policy.ends_with("sandbox"), "{policy}");
    let body = response.text().await.expect("body");
    assert!(body.contains("Your invoice") && !body.contains(" src=\"https://tracker"), "{body}");
    let response = app.client.get(app.url(&format!("/emails/{id}/content?images=1"))).send().await.expect("content");
    let policy = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(policy.contains("img-src data: https:") && !policy.contains("script"), "{policy}");
    let body = response.text().await.expect("body");
    assert!(body.contains("<img src=\"https://tracker.example/p.gif\">"), "Load images puts them back: {body}");
}

#[tokio::test]
async fn another_user_reaches_none_of_the_first_users_categories_or_emails() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let shopping = category_named(&app, &user_id, "Receipts & orders");
    let ids = seed(&app, &mailbox_id, &shopping.id, 2, "Private");
    let (other, _) = app.other_browser("mallory@example.com").await;
    let other_home = other.get(app.url("/")).send().await.expect("home").text().await.expect("body");
    let marker = "name=\"csrf\" value=\"";
    let start = other_home.find(marker).expect("csrf") + marker.len();
    let csrf = other_home[start..].split('"').next().expect("token").to_owned();
    assert!(!other_home.contains(&shopping.id));

    for path in [
        format!("/categories/{}", shopping.id),
        format!("/categories/{}/edit", shopping.id),
        format!("/emails/{}", ids[0]),
        format!("/emails/{}/content", ids[0]),
    ] {
        let status = other.get(app.url(&path)).send().await.expect("get").status();
        assert_eq!(status, 404, "{path}");
    }
    let writes: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/categories/{}", shopping.id), vec![("name", "Mine"), ("description", "mine")]),
        (format!("/categories/{}/delete", shopping.id), vec![("emails", "review")]),
        ("/emails/bulk".into(), vec![("action", "delete"), ("ids", &ids[0])]),
        ("/emails/bulk".into(), vec![("action", "delete"), ("all", "1"), ("category_id", &shopping.id)]),
        ("/emails/bulk".into(), vec![("action", "reviewed"), ("ids", &ids[1])]),
        ("/emails/assign".into(), vec![("category_id", &shopping.id), ("ids", &ids[1])]),
    ];
    for (path, mut fields) in writes {
        fields.push(("csrf", &csrf));
        let status = other.post(app.url(&path)).form(&fields).send().await.expect("post").status();
        assert!(status == 404 || status == 422, "{path}: {status}");
    }
    let category = db::categories::find(&mut app.conn(), &shopping.id).expect("find").expect("still there");
    assert_eq!(category.name, "Receipts & orders");
    for id in &ids {
        let email = db::emails::find(&mut app.conn(), id).expect("find").expect("row");
        assert!(email.trashed_at.is_none() && email.sort_source.as_deref() == Some("local"), "untouched");
    }
}

#[tokio::test]
async fn settings_change_the_backfill_window_and_remove_the_account_with_all_its_data() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let csrf = app.csrf_token().await;
    let (status, page) = get(&app, "/settings").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("/settings/mailboxes/{mailbox_id}/backfill")), "{page}");
    let path = format!("/settings/mailboxes/{mailbox_id}/backfill");
    assert_eq!(app.post_form(&path, &[("csrf", &csrf), ("backfill_days", "30")]).await.status(), 303);
    assert_eq!(db::mailboxes::find(&mut app.conn(), &mailbox_id).expect("find").expect("row").backfill_days, 30);
    assert_eq!(app.post_form(&path, &[("csrf", &csrf), ("backfill_days", "0")]).await.status(), 422);
    assert_eq!(app.post_form(&path, &[("csrf", &csrf), ("backfill_days", "many")]).await.status(), 422);

    let (other, _) = app.other_browser("eve@example.com").await;
    let other_csrf = {
        let home = other.get(app.url("/settings")).send().await.expect("get").text().await.expect("body");
        let start = home.find("name=\"csrf\" value=\"").expect("csrf") + "name=\"csrf\" value=\"".len();
        home[start..].split('"').next().expect("token").to_owned()
    };
    let status = other
        .post(app.url(&path))
        .form(&[("csrf", other_csrf.as_str()), ("backfill_days", "1")])
        .send()
        .await
        .expect("post");
    assert_eq!(status.status(), 404, "not someone else's mailbox");

    let wrong = app.post_form("/settings/account/delete", &[("csrf", &csrf), ("confirm", "someone@else")]).await;
    assert_eq!(wrong.status(), 422);
    assert!(db::users::find(&mut app.conn(), &user_id).expect("find").is_some());
    let owner = app.state.config.local.owner_email.clone();
    let removed = app.post_form("/settings/account/delete", &[("csrf", &csrf), ("confirm", &owner)]).await;
    assert_eq!(removed.status(), 303);
    assert!(db::users::find(&mut app.conn(), &user_id).expect("find").is_none());
    assert!(db::mailboxes::find(&mut app.conn(), &mailbox_id).expect("find").is_none());
    assert!(db::emails::list_for_mailbox(&mut app.conn(), &mailbox_id).expect("emails").is_empty());
    assert!(db::categories::list_for_user(&mut app.conn(), &user_id).expect("categories").is_empty());
    assert_eq!(get(&app, "/settings").await.0, 401, "signed out");
}

#[tokio::test]
async fn admins_see_users_and_mailboxes_and_others_are_refused() {
    let (app, _, _) = app_with_demo().await;
    let (status, page) = get(&app, "/admin").await;
    assert_eq!(status, 200);
    assert!(page.contains(&app.state.config.local.owner_email) && page.contains("maildir"), "{page}");
    let (other, _) = app.other_browser("nobody@example.com").await;
    assert_eq!(other.get(app.url("/admin")).send().await.expect("get").status(), 403);
    let anonymous = crate::support::http_client().build().expect("client");
    let status = anonymous.get(app.url("/admin")).send().await.expect("get").status();
    assert!(status == 401 || status == 303, "{status}");
}

#[tokio::test]
async fn unsubscribing_from_a_page_starts_one_attempt_shows_its_status_everywhere_and_skips_unverified_mail() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Newsletters");
    let ids = seed(&app, &mailbox_id, &category.id, 3, "Weekly digest");
    for (n, id) in ids.iter().enumerate() {
        let authenticated = n < 2;
        diesel::update(db::schema::emails::table.find(id))
            .set((
                db::schema::emails::list_id.eq(if authenticated { Some("digest.news.example") } else { None }),
                db::schema::emails::from_address.eq(if authenticated {
                    "news@news.example"
                } else {
                    "odd@spam.example"
                }),
                db::schema::emails::list_unsubscribe_urls.eq(r#"["https://news.example/u/1"]"#),
                db::schema::emails::is_one_click.eq(true),
                db::schema::emails::auth_result.eq(if authenticated {
                    Some("mx.example; dkim=pass header.d=news.example")
                } else {
                    None
                }),
            ))
            .execute(&mut *app.conn())
            .expect("make it a newsletter");
    }
    let csrf = app.csrf_token().await;
    let back = format!("/categories/{}", category.id);
    let fields = [
        ("csrf", csrf.as_str()),
        ("action", "unsubscribe"),
        ("ids", ids[0].as_str()),
        ("ids", ids[1].as_str()),
        ("ids", ids[2].as_str()),
        ("back", back.as_str()),
    ];
    let response = app.post_form("/emails/bulk", &fields).await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().expect("location").to_owned();
    assert!(location.ends_with("done=unsubscribe&count=1&skipped=1"), "one list, one unverified sender: {location}");
    let page = get(&app, &location).await.1;
    assert!(page.contains("Unsubscribing from 1 sender") && page.contains("1 email(s) were left alone"), "{page}");
    assert!(page.contains("unsubscribe pending"), "the rows carry the status: {page}");

    let email_page = get(&app, &format!("/emails/{}", ids[0])).await.1;
    assert!(email_page.contains("id=\"unsubscribe-history\"") && email_page.contains("unsubscribe pending"));
    assert!(!email_page.contains("value=\"unsubscribe\""), "no second unsubscribe while one is pending: {email_page}");
    let subscriptions = get(&app, "/subscriptions").await.1;
    assert!(subscriptions.contains("list:digest.news.example") && subscriptions.contains("unsubscribe pending"));
    assert!(subscriptions.contains("from:odd@spam.example"), "every bulk sender is listed: {subscriptions}");

    // The attempt finishes (as the agent would record it), with a screenshot.
    let attempt = db::unsubscribe_attempts::list_for_email(&mut app.conn(), &user_id, &ids[0])
        .expect("attempts")
        .into_iter()
        .chain(db::unsubscribe_attempts::list_for_email(&mut app.conn(), &user_id, &ids[1]).expect("attempts"))
        .next()
        .expect("one attempt");
    let folder = app.state.config.unsubscribe.screenshot_dir.clone();
    std::fs::create_dir_all(&folder).expect("folder");
    let shot = folder.join("final.png");
    std::fs::write(&shot, b"\x89PNG\r\n\x1a\nfake").expect("png");
    let finished = db::unsubscribe_attempts::Finished {
        method: "one_click".into(),
        url: Some("https://news.example/u/1".into()),
        status: "succeeded".into(),
        reason: Some("the sender answered 200 to the one-click POST".into()),
        steps: "[]".into(),
        screenshot_path: Some(shot.to_string_lossy().into_owned()),
        finished_at: Some(app.now()),
    };
    db::unsubscribe_attempts::finish(&mut app.conn(), &attempt.id, &finished).expect("finish");
    let subscription = db::subscriptions::find_by_key(&mut app.conn(), &user_id, &attempt.subscription_key)
        .expect("find")
        .expect("the subscription");
    db::subscriptions::record_outcome(&mut app.conn(), &subscription.id, "succeeded", app.now()).expect("outcome");
    let email_id = attempt.email_id.clone().expect("email");
    let email_page = get(&app, &format!("/emails/{email_id}")).await.1;
    assert!(email_page.contains("the sender answered 200 to the one-click POST"), "{email_page}");
    assert!(
        email_page.contains("You are unsubscribed from this sender") && !email_page.contains("value=\"unsubscribe\""),
        "the button gives way to the outcome: {email_page}"
    );
    let list_page = get(&app, &back).await.1;
    assert!(list_page.contains("<span class=\"badge\">unsubscribed</span>"), "not in the warning colour: {list_page}");
    let screenshot_url = format!("/unsubscribe/attempts/{}/screenshot", attempt.id);
    assert!(email_page.contains(&screenshot_url));
    let response = app.client.get(app.url(&screenshot_url)).send().await.expect("screenshot");
    assert_eq!(
        (response.status().as_u16(), response.headers()["content-type"].to_str().ok()),
        (200, Some("image/png"))
    );

    let (other, _) = app.other_browser("snoop@example.com").await;
    assert_eq!(other.get(app.url(&screenshot_url)).send().await.expect("get").status(), 404);
    let theirs = other.get(app.url("/subscriptions")).send().await.expect("get").text().await.expect("body");
    assert!(!theirs.contains("digest.news.example"), "subscriptions are per user");
}

#[tokio::test]
async fn sync_now_during_a_running_sync_is_followed_by_one_more_sync_not_lost() {
    use emailgator::db::schema::jobs;
    use emailgator::jobs::{EnqueueOptions, SyncMailbox};

    let (app, _user_id, mailbox_id) = app_with_demo().await;
    let key = SyncMailbox::unique_key(&mailbox_id);
    let sync = SyncMailbox { mailbox_id: mailbox_id.clone() };
    let running = app
        .enqueue_with(&sync, EnqueueOptions { unique_key: Some(key.clone()), ..Default::default() })
        .expect("a sync");
    // A worker elsewhere holds it; it may have asked the provider already.
    diesel::update(jobs::table.find(&running)).set(jobs::state.eq("running")).execute(&mut *app.conn()).expect("run");
    let csrf = app.csrf_token().await;
    for _ in 0..3 {
        let pressed = app.post_form(&format!("/mailboxes/{mailbox_id}/sync"), &[("csrf", &csrf)]).await;
        assert_eq!(pressed.status(), 303);
    }
    let follow_ups = || -> Vec<(String, String)> {
        jobs::table
            .filter(jobs::kind.eq("sync_again"))
            .select((jobs::id, jobs::state))
            .load(&mut *app.conn())
            .expect("jobs")
    };
    assert_eq!(follow_ups().len(), 1, "three presses during one sync make one follow-up");

    let report = app.run_pending_jobs().await;
    assert_eq!(report.snoozed, 1, "the follow-up waits while the sync runs");
    assert_eq!(follow_ups()[0].1, "scheduled");
    let syncs = || -> i64 {
        jobs::table.filter(jobs::kind.eq("sync_mailbox")).count().get_result(&mut *app.conn()).expect("count")
    };
    let syncs_before = syncs();

    diesel::update(jobs::table.find(&running)).set(jobs::state.eq("completed")).execute(&mut *app.conn()).expect("end");
    diesel::update(jobs::table.filter(jobs::kind.eq("sync_again")))
        .set(jobs::run_at.eq(app.now()))
        .execute(&mut *app.conn())
        .expect("due");
    app.run_pending_jobs().await;
    assert_eq!(follow_ups()[0].1, "completed");
    assert_eq!(syncs(), syncs_before + 1, "the follow-up started one more sync after the running one");
    let states: Vec<String> =
        jobs::table.filter(jobs::kind.eq("sync_mailbox")).select(jobs::state).load(&mut *app.conn()).expect("states");
    assert!(states.iter().all(|s| s == "completed"), "the new sync ran: {states:?}");
}

#[tokio::test]
async fn needs_review_pages_through_every_waiting_email_of_every_account_newest_first() {
    use emailgator::db::schema::emails;

    let (app, user_id, mailbox_id) = app_with_demo().await;
    let first = db::mailboxes::find(&mut app.conn(), &mailbox_id).expect("find").expect("mailbox");
    let second = db::mailboxes::Mailbox {
        id: db::new_id(),
        address: "maildir:/second".into(),
        maildir_path: None,
        ..first.clone()
    };
    db::mailboxes::insert(&mut app.conn(), &second).expect("second account");
    let category = category_named(&app, &user_id, "Receipts & orders");
    let mut waiting = seed(&app, &mailbox_id, &category.id, 70, "Unsure");
    waiting.extend(seed(&app, &second.id, &category.id, 65, "Doubtful"));
    diesel::update(emails::table.filter(emails::id.eq_any(&waiting)))
        .set((emails::state.eq("needs_review"), emails::category_id.eq(None::<String>)))
        .execute(&mut *app.conn())
        .expect("to review");
    let expected: Vec<String> = emails::table
        .filter(emails::state.eq("needs_review"))
        .filter(emails::trashed_at.is_null())
        .order((emails::listed_at.desc(), emails::id.desc()))
        .select(emails::id)
        .load(&mut *app.conn())
        .expect("all waiting");
    assert!(expected.len() >= 135);

    let (status, page) = get(&app, "/review").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("{} email(s) wait for review", expected.len())), "{page}");
    let mut walked = Vec::new();
    let mut path = Some("/review".to_owned());
    while let Some(next) = path {
        let (status, page) = get(&app, &next).await;
        assert_eq!(status, 200, "{next}");
        walked
            .extend(page.split("name=\"ids\" value=\"").skip(1).filter_map(|r| r.split('"').next()).map(str::to_owned));
        assert!(walked.len() <= expected.len(), "paging loops: {next}");
        path = next_link(&page);
    }
    assert_eq!(walked, expected, "every waiting email once, newest first, both accounts mixed");
}
