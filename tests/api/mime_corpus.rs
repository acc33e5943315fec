//! Real mail written by others (tests/fixtures/mime): every message parses without a panic, and
//! every one imports through a Maildir mailbox and is kept, on both database backends.

use std::path::{Path, PathBuf};

use emailgator::db;
use emailgator::domain::EmailAddress;
use emailgator::domain::mime;
use emailgator::jobs::SyncMailbox;
use emailgator::services::mailboxes;

use crate::support::TestApp;

/// The licence and README files that travel with the fixtures.
const NOT_MAIL: [&str; 4] = ["README.md", "COPYRIGHT", "MIT.txt", "Apache-2.0.txt"];

fn corpus(name: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("fixture folder").map(|e| e.expect("entry").path()) {
            if entry.is_dir() {
                walk(&entry, found);
            } else if !entry.file_name().is_some_and(|n| NOT_MAIL.iter().any(|skip| n == *skip)) {
                found.push(entry);
            }
        }
    }
    let mut found = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mime").join(name), &mut found);
    found.sort();
    found
}

/// Whether the message's own header block (before the first blank line) has a non-empty Subject.
fn has_top_level_subject(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw);
    let headers = text.split("\r\n\r\n").next().unwrap_or_default().split("\n\n").next().unwrap_or_default();
    headers
        .lines()
        .any(|line| line.to_ascii_lowercase().strip_prefix("subject:").is_some_and(|value| !value.trim().is_empty()))
}

#[test]
fn every_corpus_message_parses_without_a_panic() {
    for (name, at_least) in [("enmime", 90), ("cpython", 48), ("mail-parser", 50)] {
        let messages = corpus(name);
        assert!(messages.len() >= at_least, "{name}: {} messages found", messages.len());
        for path in messages {
            let raw = std::fs::read(&path).expect("read fixture");
            let parsed = std::panic::catch_unwind(|| mime::parse(&raw))
                .unwrap_or_else(|_| panic!("parsing {} panicked", path.display()));
            assert_eq!(parsed.raw_size, raw.len(), "{}", path.display());
        }
    }
}

#[tokio::test]
async fn every_corpus_message_imports_and_is_kept() {
    let app = TestApp::spawn().await;
    let maildir = tempfile::tempdir().expect("dir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.path().join(sub)).expect("maildir");
    }
    let messages: Vec<PathBuf> = ["enmime", "cpython", "mail-parser"].iter().flat_map(|name| corpus(name)).collect();
    for (n, path) in messages.iter().enumerate() {
        std::fs::copy(path, maildir.path().join("new").join(format!("{n:05}.corpus.host"))).expect("deliver");
    }
    let owner = EmailAddress::parse("owner@localhost").expect("email");
    let mailbox = mailboxes::add_maildir(&mut app.conn(), &owner, maildir.path(), app.now()).expect("mailbox");

    app.enqueue(&SyncMailbox { mailbox_id: mailbox.id.clone() });
    app.run_pending_jobs().await;

    let states = db::emails::count_by_state(&mut app.conn(), &mailbox.id).expect("count");
    assert_eq!(states, [("imported".to_owned(), messages.len() as i64)], "every message is kept");
    let emails = db::emails::list_for_mailbox(&mut app.conn(), &mailbox.id).expect("emails");
    for (email, path) in emails.iter().zip(&messages) {
        if has_top_level_subject(&std::fs::read(path).expect("read")) {
            assert!(!email.subject.is_empty(), "{} lost its subject", path.display());
        }
    }
    let with_problems = emails.iter().filter(|e| e.parse_problems.is_some()).count();
    assert!(with_problems > 0, "the malformed ones are flagged");
}
