//! The import path: record what a sync found (and enqueue its import) in one transaction, then store
//! each fetched message, parsed, exactly once. A message that cannot be read is stored with what
//! could be read and a note; it is never dropped.

use chrono::NaiveDateTime;

use crate::clients::mail::{FetchedMessage, NewMessages};
use crate::db::emails::ImportedFields;
use crate::db::{self, DbConn};
use crate::domain::mime::{self, ParsedEmail};
use crate::error::AppError;
use crate::jobs::{EnqueueOptions, ImportMessages, enqueue};

/// How many messages one import job fetches.
pub const IMPORT_BATCH: usize = 50;

/// In one transaction: a `discovered` row for every id not seen before, the mailbox's new cursor and
/// sync time, and import jobs for the new ids. A crash before the commit leaves everything as it
/// was; after it, every message is recorded and queued. Returns how many ids were new.
pub fn record_new_messages(
    conn: &mut DbConn,
    mailbox_id: &str,
    found: &NewMessages,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    db::transaction(conn, |conn| {
        let mut new_ids = Vec::new();
        for id in &found.ids {
            if db::emails::insert_if_new(conn, &db::emails::discovered(mailbox_id, id, now))? {
                new_ids.push(id.clone());
            }
        }
        db::mailboxes::record_sync(conn, mailbox_id, found.cursor.as_deref(), now)?;
        for batch in new_ids.chunks(IMPORT_BATCH) {
            let job = ImportMessages { mailbox_id: mailbox_id.to_owned(), ids: batch.to_vec() };
            enqueue(conn, &job, EnqueueOptions::default(), now)?;
        }
        Ok(new_ids.len())
    })
}

/// What the import of one message found.
pub enum Fetched {
    Message(FetchedMessage),
    /// The message left the mailbox before it could be fetched.
    Gone,
}

/// Parses and stores a batch of fetched messages in one transaction; returns how many emails changed
/// (a message imported before is left as it is).
pub fn store_imports(
    conn: &mut DbConn,
    mailbox_id: &str,
    fetched: Vec<(String, Fetched)>,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let parsed: Vec<(String, ImportedFields)> = fetched
        .into_iter()
        .map(|(provider_id, fetched)| {
            let fields = match fetched {
                Fetched::Message(message) => imported_fields(mime::parse(&message.raw), &message, now),
                Fetched::Gone => ImportedFields {
                    parse_problems: Some("the message was no longer in the mailbox when it was imported".into()),
                    ..imported_fields(ParsedEmail::default(), &FetchedMessage::default(), now)
                },
            };
            (provider_id, fields)
        })
        .collect();
    db::transaction(conn, |conn| {
        let mut stored = Vec::new();
        for (provider_id, fields) in &parsed {
            if db::emails::store_import(conn, mailbox_id, provider_id, fields)? > 0 {
                stored.push(provider_id.clone());
            }
        }
        crate::services::unsubscribe::note_arrivals(conn, mailbox_id, &stored, now)?;
        Ok(stored.len())
    })
}

fn imported_fields(parsed: ParsedEmail, message: &FetchedMessage, now: NaiveDateTime) -> ImportedFields {
    ImportedFields {
        thread_id: message.thread_id.clone(),
        message_id_header: parsed.message_id.map(storable),
        from_name: parsed.from_name.map(storable),
        from_address: parsed.from_address.map(storable),
        to_addresses: storable(parsed.to_addresses.join(", ")),
        subject: storable(parsed.subject),
        sent_at: parsed.sent_at,
        received_at: message.received_at,
        snippet: storable(parsed.snippet),
        text_body: parsed.text_body.map(storable),
        sanitized_html: parsed.sanitized_html.map(storable),
        raw_size: i64::try_from(parsed.raw_size).unwrap_or(i64::MAX),
        list_id: parsed.list_id.map(storable),
        list_unsubscribe_urls: serde_json::to_string(&parsed.list_unsubscribe).unwrap_or_else(|_| "[]".into()),
        is_one_click: parsed.is_one_click,
        auth_result: parsed.auth_results.map(storable),
        labels: message.labels.join(" "),
        parse_problems: (!parsed.problems.is_empty()).then(|| storable(parsed.problems.join("; "))),
        // Sorting is the next step; until a sorter runs, the email waits here, unsorted.
        state: "imported".into(),
        listed_at: listed_at(parsed.sent_at, message.received_at, now),
        updated_at: now,
    }
}

/// The date an email is listed by: its own Date header, unless that claims a time more than a day
/// after it arrived (a forged future date would pin spam to the top of every list).
fn listed_at(sent_at: Option<NaiveDateTime>, received_at: Option<NaiveDateTime>, now: NaiveDateTime) -> NaiveDateTime {
    let arrived = received_at.unwrap_or(now);
    match sent_at {
        Some(sent) if sent <= arrived + chrono::Duration::days(1) => sent,
        _ => arrived,
    }
}

/// PostgreSQL text cannot hold NUL characters, and mail may contain them; they become U+FFFD.
fn storable(text: String) -> String {
    if text.contains('\0') { text.replace('\0', "\u{FFFD}") } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_replaced_so_postgresql_can_store_the_text() {
        assert_eq!(storable("a\0b".into()), "a\u{FFFD}b");
        assert_eq!(storable("plain".into()), "plain");
    }
}
