//! Each category's email count is kept by triggers, not counted: it must equal a real count after
//! every kind of change (import, delete, undo, move, select-all, deleting a category), and reading
//! it folds the change rows back to one per category and account. The admin overview's emails per mailbox and
//! state are kept the same way.

use emailgator::db::emails::ListFilter;
use emailgator::db::{self, DbConn};
use emailgator::services::categories::EmailsGoTo;
use emailgator::services::emails::Selection;
use emailgator::services::{bulk, categories, dashboard};

use crate::support::TestApp;
use crate::support::mail_data::{app_with_demo, seed};

/// Every category of the user: (kept count, real count).
fn kept_and_real(app: &TestApp, user_id: &str) -> Vec<(String, i64, i64)> {
    let conn: &mut DbConn = &mut app.conn();
    let ids: Vec<String> =
        db::categories::list_for_user(conn, user_id).expect("categories").into_iter().map(|c| c.id).collect();
    let kept = dashboard::count_emails(conn, &ids, app.now()).expect("counts");
    ids.into_iter()
        .map(|id| {
            let real = db::emails::count_in_category(conn, &id, &Default::default()).expect("count");
            let kept = kept.get(&id).map_or(0, |(total, _)| *total);
            (id, kept, real)
        })
        .collect()
}

fn assert_counts_right(app: &TestApp, user_id: &str, after: &str) {
    let mailboxes = db::mailboxes::list_for_user(&mut app.conn(), user_id).expect("mailboxes");
    for (id, kept, real) in kept_and_real(app, user_id) {
        assert_eq!(kept, real, "category {id} after {after}");
        // Per account too (the list filtered by account).
        for mailbox in &mailboxes {
            let conn: &mut DbConn = &mut app.conn();
            let filter = ListFilter { mailbox_id: Some(mailbox.id.clone()), text: None };
            let real = db::emails::count_in_category(conn, &id, &filter).expect("count");
            let kept = db::category_counts::total_in_mailbox(conn, &id, &mailbox.id).expect("kept");
            assert_eq!(kept, real, "category {id}, account {} after {after}", mailbox.address);
        }
    }
}

#[tokio::test]
async fn kept_counts_equal_real_counts_after_every_kind_of_change() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let all = db::categories::list_for_user(&mut app.conn(), &user_id).expect("categories");
    assert!(all.len() >= 2, "the demo has categories");
    let (first, second) = (all[0].id.clone(), all[1].id.clone());
    assert_counts_right(&app, &user_id, "the demo import");

    let ids = seed(&app, &mailbox_id, &first, 700, "Invoice");
    let (kept, real) =
        kept_and_real(&app, &user_id).into_iter().find(|(id, ..)| *id == first).map(|(_, k, r)| (k, r)).expect("first");
    assert!(real >= 700, "seeded");
    assert_eq!(kept, real, "after 700 inserts");
    let rows = db::category_counts::change_rows(&mut app.conn(), std::slice::from_ref(&first)).expect("rows");
    assert_eq!(rows, 1, "reading 700 changes folded them into one row");

    // A second account with mail in the same category: counted per account as well.
    let other = second_mailbox(&app, &mailbox_id);
    let other_ids = seed(&app, &other, &first, 40, "Receipt");
    assert_counts_right(&app, &user_id, "40 inserts in a second account");
    let rows = db::category_counts::change_rows(&mut app.conn(), std::slice::from_ref(&first)).expect("rows");
    assert!(rows <= 41, "at most one row per account besides the new changes: {rows}");

    let now = app.now();
    let deleted = bulk::delete(&mut app.conn(), &user_id, &Selection::Ids(ids[..50].to_vec()), now).expect("delete");
    assert_eq!(deleted.changed, 50);
    assert_counts_right(&app, &user_id, "deleting 50");
    // Deleting an email twice changes nothing.
    bulk::delete(&mut app.conn(), &user_id, &Selection::Ids(ids[..10].to_vec()), now).expect("delete again");
    assert_counts_right(&app, &user_id, "deleting deleted emails again");

    bulk::undo_delete(&mut app.conn(), &user_id, &ids[..20], now).expect("undo");
    assert_counts_right(&app, &user_id, "undoing 20");

    bulk::move_to(&mut app.conn(), &user_id, &Selection::Ids(ids[100..130].to_vec()), &second, 3, now).expect("move");
    assert_counts_right(&app, &user_id, "moving 30");
    bulk::delete(&mut app.conn(), &user_id, &Selection::Ids(other_ids[..5].to_vec()), now).expect("delete");
    bulk::move_to(&mut app.conn(), &user_id, &Selection::Ids(other_ids[5..15].to_vec()), &second, 3, now)
        .expect("move");
    assert_counts_right(&app, &user_id, "deleting and moving in the second account");
    // A deleted email moved to another category still counts nowhere.
    bulk::move_to(&mut app.conn(), &user_id, &Selection::Ids(ids[30..40].to_vec()), &second, 3, now).expect("move");
    assert_counts_right(&app, &user_id, "moving deleted emails");

    let filter = db::emails::ListFilter { mailbox_id: None, text: Some("Invoice 6".into()) };
    let everything = Selection::AllInCategory { category_id: first.clone(), filter };
    let outcome = bulk::delete(&mut app.conn(), &user_id, &everything, now).expect("select all");
    assert!(outcome.changed > 50, "select all reached past one page of 50: {}", outcome.changed);
    assert_counts_right(&app, &user_id, "deleting everything matching a filter");

    let moved = categories::delete(&mut app.conn(), &user_id, &first, &EmailsGoTo::Category(second.clone()), now)
        .expect("delete category");
    assert!(moved > 500);
    assert_counts_right(&app, &user_id, "deleting a category into another");
    assert_eq!(db::category_counts::change_rows(&mut app.conn(), std::slice::from_ref(&first)).expect("rows"), 0);

    categories::delete(&mut app.conn(), &user_id, &second, &EmailsGoTo::NeedsReview, now).expect("delete category");
    assert_counts_right(&app, &user_id, "deleting a category into Needs review");
    assert_eq!(db::category_counts::change_rows(&mut app.conn(), &[second]).expect("rows"), 0);
}

/// Another mailbox of the same user, with no mail yet.
fn second_mailbox(app: &TestApp, mailbox_id: &str) -> String {
    let conn: &mut DbConn = &mut app.conn();
    let first = db::mailboxes::find(conn, mailbox_id).expect("find").expect("the first mailbox");
    let mailbox = db::mailboxes::Mailbox {
        id: db::new_id(),
        address: "second@example.com".into(),
        maildir_path: Some("/nonexistent/second".into()),
        ..first
    };
    db::mailboxes::insert(conn, &mailbox).expect("insert");
    mailbox.id
}

/// A text search's first page comes with its count from one query (a window over the matches);
/// it must equal the page and the count read separately, with and without the account filter.
#[tokio::test]
async fn a_searchs_first_page_and_count_equal_the_list_and_count_read_apart() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = db::categories::list_for_user(&mut app.conn(), &user_id).expect("categories").remove(0).id;
    seed(&app, &mailbox_id, &category, 300, "Invoice");
    let other = second_mailbox(&app, &mailbox_id);
    seed(&app, &other, &category, 80, "Invoice from the other account");
    let conn: &mut DbConn = &mut app.conn();
    for (mailbox, text) in [
        (None, "invoice 1"),
        (None, "INVOICE 25"),
        (None, "nothing matches this"),
        (None, "sender"),
        (Some(other.clone()), "invoice"),
        (Some(mailbox_id.clone()), "invoice 7"),
        (Some(other.clone()), "in"),
    ] {
        let filter = ListFilter { mailbox_id: mailbox, text: Some(text.into()) };
        for bodies in [db::emails::Bodies::Left, db::emails::Bodies::Loaded] {
            let (page, total) =
                db::emails::list_first_in_category_counted(conn, &category, &filter, 51, bodies).expect("counted");
            let apart = db::emails::list_in_category(conn, &category, &filter, None, 51, bodies).expect("list");
            let count = db::emails::count_in_category(conn, &category, &filter).expect("count");
            let ids = |emails: &[db::emails::Email]| emails.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(&page), ids(&apart), "the page for {text:?}");
            assert_eq!(page, apart, "the rows for {text:?}");
            assert_eq!(total, count, "the count for {text:?}");
        }
    }
}

/// The admin overview's emails per mailbox and state (kept) against a real count of the table.
fn assert_states_right(app: &TestApp, after: &str) {
    use diesel::prelude::*;
    use emailgator::db::schema::emails;
    let conn: &mut DbConn = &mut app.conn();
    let mut real: Vec<(String, String, i64)> = emails::table
        .group_by((emails::mailbox_id, emails::state))
        .select((emails::mailbox_id, emails::state, diesel::dsl::count_star()))
        .load(conn)
        .expect("real counts");
    real.sort();
    let kept: Vec<(String, String, i64)> = emailgator::services::admin::overview(conn, 500)
        .expect("overview")
        .mailboxes
        .into_iter()
        .flat_map(|line| line.states.into_iter().map(move |(state, n)| (line.mailbox.id.clone(), state, n)))
        .collect();
    assert_eq!(kept, real, "emails per mailbox and state after {after}");
}

#[tokio::test]
async fn the_admin_overviews_kept_state_counts_equal_real_counts_and_fold() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    assert_states_right(&app, "the demo import");
    let category = db::categories::list_for_user(&mut app.conn(), &user_id).expect("categories").remove(0).id;
    let ids = seed(&app, &mailbox_id, &category, 700, "Invoice");
    assert_states_right(&app, "700 inserts");
    let rows = db::mailbox_counts::change_rows(&mut app.conn()).expect("rows");
    assert!(rows < 20, "reading 700 changes folded them to one row per mailbox and state: {rows}");

    let now = app.now();
    bulk::delete(&mut app.conn(), &user_id, &Selection::Ids(ids[..50].to_vec()), now).expect("delete");
    assert_states_right(&app, "deleting 50");
    bulk::undo_delete(&mut app.conn(), &user_id, &ids[..20], now).expect("undo");
    assert_states_right(&app, "undoing 20");
    bulk::mark_reviewed(&mut app.conn(), &user_id, &Selection::Ids(ids[100..130].to_vec()), 3, now).expect("reviewed");
    assert_states_right(&app, "marking 30 reviewed");

    // Removing a mailbox removes its emails; its counts sum to nothing and fold away.
    assert!(db::mailboxes::delete(&mut app.conn(), &mailbox_id).expect("delete mailbox") == 1);
    assert_states_right(&app, "removing the mailbox");
    db::mailbox_counts::fold(&mut app.conn()).expect("fold");
    assert_eq!(db::mailbox_counts::change_rows(&mut app.conn()).expect("rows"), 0);
}

/// The category page reads narrow rows (`ListedEmail`) instead of whole emails: page after page,
/// with every filter, they must be the same emails in the same order, with the same cursors,
/// totals and shown fields as the full page API clients get.
#[tokio::test]
async fn the_category_pages_narrow_rows_are_the_same_emails_as_the_full_page() {
    use diesel::prelude::*;
    use emailgator::db::emails::{Bodies, Email, ListedEmail};
    use emailgator::db::schema::emails;
    use emailgator::services::emails::{Listing, list_category, list_category_rows};

    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = db::categories::list_for_user(&mut app.conn(), &user_id).expect("categories").remove(0).id;
    let seeded = seed(&app, &mailbox_id, &category, 130, "Invoice");
    let other = second_mailbox(&app, &mailbox_id);
    seed(&app, &other, &category, 40, "Receipt");
    // One still in the inbox, to see `is_archived` both ways.
    diesel::update(emails::table.find(&seeded[3]))
        .set(emails::archived_at.eq(None::<chrono::NaiveDateTime>))
        .execute(&mut app.conn())
        .expect("unarchive");
    // What a row shows, read from the full email and from the narrow row.
    let shown = |e: &Email| {
        let what = (&e.from_name, &e.from_address, &e.subject, &e.list_id, &e.sort_source, e.confidence, &e.summary);
        (
            e.id.clone(),
            e.mailbox_id.clone(),
            format!("{what:?}"),
            e.archived_at.is_some(),
            e.is_after_unsubscribe,
            e.listed_at,
        )
    };
    let listed = |e: &ListedEmail| {
        let what = (&e.from_name, &e.from_address, &e.subject, &e.list_id, &e.sort_source, e.confidence, &e.summary);
        (e.id.clone(), e.mailbox_id.clone(), format!("{what:?}"), e.is_archived, e.is_after_unsubscribe, e.listed_at)
    };
    let conn: &mut DbConn = &mut app.conn();
    for (mailbox, text) in
        [(None, None), (Some(other.clone()), None), (None, Some("invoice 1")), (Some(mailbox_id.clone()), Some("2"))]
    {
        let filter = ListFilter { mailbox_id: mailbox, text: text.map(str::to_owned) };
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let listing = Listing {
                user_id: &user_id,
                category_id: &category,
                filter: &filter,
                cursor: cursor.as_deref(),
                page_size: 25,
            };
            let full = list_category(conn, listing, Bodies::Left).expect("full page");
            let rows = list_category_rows(conn, listing).expect("rows");
            assert_eq!(
                full.emails.iter().map(shown).collect::<Vec<_>>(),
                rows.emails.iter().map(listed).collect::<Vec<_>>(),
                "page {pages} for {filter:?}"
            );
            assert_eq!((full.next_cursor.clone(), full.total), (rows.next_cursor, rows.total), "{filter:?}");
            pages += 1;
            cursor = full.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert!(pages > 1 || text.is_some(), "paged through {filter:?}");
    }
    let filter = ListFilter::default();
    let listing = Listing { user_id: &user_id, category_id: &category, filter: &filter, cursor: None, page_size: 25 };
    let page = list_category_rows(conn, listing).expect("rows").emails;
    assert!(page.iter().any(|e| !e.is_archived) && page.iter().any(|e| e.is_archived), "both kinds on the first page");
}
