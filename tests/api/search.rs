//! The text filter of a category: on SQLite a trigram index finds substrings of the subject,
//! sender and summary; it must give exactly what reading every row would, stay right as emails
//! change, and treat the person's text literally.

use diesel::prelude::*;
use emailgator::db::{
    self,
    emails::{Bodies, ListFilter},
};

use crate::support::TestApp;
use crate::support::mail_data::{app_with_demo, category_named, seed};

/// What the filter must find: every live email of the category with the text (any case) in one
/// of the fields, read row by row in Rust.
fn expected(app: &TestApp, category_id: &str, text: &str) -> Vec<String> {
    let needle = text.to_lowercase();
    let mut ids: Vec<String> = db::emails::list_in_category(
        &mut app.conn(),
        category_id,
        &ListFilter::default(),
        None,
        100_000,
        Bodies::Loaded,
    )
    .expect("all")
    .into_iter()
    .filter(|e| {
        [Some(e.subject.clone()), e.from_name.clone(), e.from_address.clone(), e.summary.clone()]
            .into_iter()
            .flatten()
            .any(|field| field.to_lowercase().contains(&needle))
    })
    .map(|e| e.id)
    .collect();
    ids.sort();
    ids
}

fn found(app: &TestApp, category_id: &str, text: &str) -> Vec<String> {
    let filter = ListFilter { mailbox_id: None, text: Some(text.to_owned()) };
    let mut ids: Vec<String> =
        db::emails::list_in_category(&mut app.conn(), category_id, &filter, None, 100_000, Bodies::Loaded)
            .expect("filtered")
            .into_iter()
            .map(|e| e.id)
            .collect();
    let count = db::emails::count_in_category(&mut app.conn(), category_id, &filter).expect("count");
    assert_eq!(usize::try_from(count).expect("count"), ids.len(), "count and list agree for {text:?}");
    ids.sort();
    ids
}

#[tokio::test]
async fn the_text_filter_finds_exactly_the_emails_that_contain_the_text() {
    let (app, user_id, mailbox_id) = app_with_demo().await;
    let category = category_named(&app, &user_id, "Receipts & orders");
    let ids = seed(&app, &mailbox_id, &category.id, 120, "Invoice");
    diesel::update(db::schema::emails::table.find(&ids[3]))
        .set(db::schema::emails::subject.eq("Say \"hello\" 100% of_the time"))
        .execute(&mut *app.conn())
        .expect("odd subject");

    for text in [
        "invoice 7",            // subject, many
        "INVOICE 11",           // any case
        "sender11",             // sender address
        "Sender 10",            // sender name
        "summary of invoice 9", // summary
        "\"hello\"",            // quotes are literal
        "100% of_",             // LIKE's wildcards are literal
        "no such text anywhere",
        "in", // shorter than a trigram: read row by row
        "é",
    ] {
        assert_eq!(found(&app, &category.id, text), expected(&app, &category.id, text), "{text:?}");
    }
    assert!(!expected(&app, &category.id, "invoice 7").is_empty(), "the oracle finds something");

    // A new summary is found and the old one is not; a deleted email is not found at all.
    diesel::update(db::schema::emails::table.find(&ids[5]))
        .set(db::schema::emails::summary.eq(Some("Parcel tracking for the blue kettle")))
        .execute(&mut *app.conn())
        .expect("resummarise");
    assert_eq!(found(&app, &category.id, "blue kettle"), vec![ids[5].clone()]);
    let old_summary = db::emails::find(&mut app.conn(), &ids[6]).expect("find").expect("row").summary.expect("sum");
    diesel::update(db::schema::emails::table.find(&ids[6]))
        .set(db::schema::emails::summary.eq(Some("something else")))
        .execute(&mut *app.conn())
        .expect("resummarise");
    assert_eq!(found(&app, &category.id, &old_summary), expected(&app, &category.id, &old_summary));
    emailgator::services::trash::trash(&mut app.conn(), &user_id, &[ids[5].clone()], app.now()).expect("delete");
    assert!(found(&app, &category.id, "blue kettle").is_empty());
    diesel::delete(db::schema::emails::table.find(&ids[7])).execute(&mut *app.conn()).expect("gone");
    assert_eq!(found(&app, &category.id, "invoice 1"), expected(&app, &category.id, "invoice 1"));
}
