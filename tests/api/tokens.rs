//! OAuth tokens at rest: stored as AES-256-GCM ciphertext bound to their row and column, and sealed
//! again with the newest key after a key rotation.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use emailgator::db;
use emailgator::domain::EmailAddress;
use emailgator::encryption::Keyring;
use emailgator::jobs::ReencryptSecrets;
use emailgator::services::mailboxes::{self, Tokens};
use secrecy::{ExposeSecret, SecretString};

use crate::support::{TestApp, TestDb};

fn key(byte: u8) -> String {
    BASE64.encode([byte; 32])
}

fn keyring(app: &TestApp) -> Keyring {
    Keyring::new(&app.state.config.security.encryption_keys)
}

fn mailbox(app: &TestApp) -> db::mailboxes::Mailbox {
    let maildir = app.state.config.data_dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    let owner = EmailAddress::parse("owner@localhost").expect("email");
    mailboxes::add_maildir(&mut app.conn(), &owner, &maildir, app.now()).expect("mailbox")
}

fn tokens() -> Tokens {
    Tokens {
        access: Some(SecretString::from("ya29.access-secret".to_owned())),
        refresh: Some(SecretString::from("1//refresh-secret".to_owned())),
        expires_at: None,
    }
}

#[tokio::test]
async fn tokens_in_the_database_are_ciphertext_bound_to_their_row() {
    let keys = format!("k1:{}", key(1));
    let app = TestApp::spawn_with(&[("ENCRYPTION_KEYS", keys.as_str())]).await;
    let mailbox = mailbox(&app);

    mailboxes::store_tokens(&mut app.conn(), &keyring(&app), &mailbox.id, &tokens(), app.now()).expect("store");

    let row = db::mailboxes::find(&mut app.conn(), &mailbox.id).expect("q").expect("row");
    assert_eq!(row.token_key_id.as_deref(), Some("k1"));
    for stored in [&row.encrypted_access_token, &row.encrypted_refresh_token] {
        let stored = stored.as_deref().expect("stored");
        assert!(!stored.contains("secret") && !stored.contains("ya29"), "ciphertext only: {stored}");
    }
    let opened = mailboxes::load_tokens(&keyring(&app), &row).expect("open");
    assert_eq!(opened.refresh.expect("refresh").expose_secret(), "1//refresh-secret");

    // The same ciphertext moved to another mailbox's row does not open there.
    let mut moved = row.clone();
    moved.id = "another-mailbox".into();
    assert!(mailboxes::load_tokens(&keyring(&app), &moved).is_err());
}

#[tokio::test]
async fn a_key_rotation_seals_every_stored_token_with_the_newest_key() {
    let db = Arc::new(TestDb::new());
    let old_keys = format!("k1:{}", key(1));
    let before = TestApp::spawn_on(db.clone(), &[("ENCRYPTION_KEYS", old_keys.as_str())]).await;
    let mailbox = mailbox(&before);
    mailboxes::store_tokens(&mut before.conn(), &keyring(&before), &mailbox.id, &tokens(), before.now())
        .expect("store");

    let rotated_keys = format!("k2:{},k1:{}", key(2), key(1));
    let after = TestApp::spawn_on(db.clone(), &[("ENCRYPTION_KEYS", rotated_keys.as_str())]).await;
    after.enqueue(&ReencryptSecrets {});
    after.run_pending_jobs().await;

    let row = db::mailboxes::find(&mut after.conn(), &mailbox.id).expect("q").expect("row");
    assert_eq!(row.token_key_id.as_deref(), Some("k2"));
    let only_new_key = Keyring::new(
        &after.state.config.security.encryption_keys.iter().filter(|k| k.id == "k2").cloned().collect::<Vec<_>>(),
    );
    let opened = mailboxes::load_tokens(&only_new_key, &row).expect("opens without the old key");
    assert_eq!(opened.access.expect("access").expose_secret(), "ya29.access-secret");
}
