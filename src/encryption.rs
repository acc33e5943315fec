//! Secrets at rest (OAuth tokens): AES-256-GCM with a random 96-bit nonce per value, associated
//! data that binds each value to its row and column, and the key id stored beside it so keys can
//! rotate: the newest key seals, every configured key opens.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::config::EncryptionKey;

const NONCE_BYTES: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptionError {
    #[error("no encryption key with id {0:?} is configured (ENCRYPTION_KEYS)")]
    UnknownKey(String),
    #[error("the stored value is damaged or belongs to another row")]
    Damaged,
}

/// A sealed value as stored: the id of the key that sealed it, and base64 of nonce + ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub text: String,
}

/// The configured keys, newest first.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "Keyring({ids:?})")
    }
}

impl Keyring {
    /// Builds the keyring; config validation already checked every key is 32 bytes.
    pub fn new(keys: &[EncryptionKey]) -> Self {
        let keys = keys
            .iter()
            .filter_map(|k| Aes256Gcm::new_from_slice(k.key.expose_secret()).ok().map(|cipher| (k.id.clone(), cipher)))
            .collect();
        Self { keys }
    }

    /// The id of the key new values are sealed with.
    pub fn newest_id(&self) -> Option<&str> {
        self.keys.first().map(|(id, _)| id.as_str())
    }

    /// Seals `secret` for the place named by `context` (table, row id and column).
    pub fn seal(&self, secret: &SecretString, context: &str) -> Result<Sealed, EncryptionError> {
        let (key_id, cipher) = self.keys.first().ok_or_else(|| EncryptionError::UnknownKey(String::new()))?;
        let mut nonce = [0u8; NONCE_BYTES];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = Payload { msg: secret.expose_secret().as_bytes(), aad: context.as_bytes() };
        let ciphertext = cipher.encrypt(&Nonce::from(nonce), payload).map_err(|_| EncryptionError::Damaged)?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&ciphertext);
        Ok(Sealed { key_id: key_id.clone(), text: BASE64.encode(stored) })
    }

    /// Opens a value sealed for `context`; a value copied to another row or column does not open.
    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<SecretString, EncryptionError> {
        let cipher = self
            .keys
            .iter()
            .find(|(id, _)| *id == sealed.key_id)
            .map(|(_, cipher)| cipher)
            .ok_or_else(|| EncryptionError::UnknownKey(sealed.key_id.clone()))?;
        let stored = BASE64.decode(&sealed.text).map_err(|_| EncryptionError::Damaged)?;
        if stored.len() <= NONCE_BYTES {
            return Err(EncryptionError::Damaged);
        }
        let (nonce, ciphertext) = stored.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| EncryptionError::Damaged)?;
        let payload = Payload { msg: ciphertext, aad: context.as_bytes() };
        let plaintext = cipher.decrypt(&Nonce::from(nonce), payload).map_err(|_| EncryptionError::Damaged)?;
        String::from_utf8(plaintext).map(SecretString::from).map_err(|_| EncryptionError::Damaged)
    }

    /// Whether a value should be sealed again with the newest key.
    pub fn is_outdated(&self, sealed: &Sealed) -> bool {
        self.newest_id().is_some_and(|newest| newest != sealed.key_id)
    }
}

/// The associated data for a column of a row, e.g. `mailboxes/<id>/refresh_token`.
pub fn context(table: &str, row_id: &str, column: &str) -> String {
    format!("{table}/{row_id}/{column}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> EncryptionKey {
        EncryptionKey { id: id.into(), key: vec![byte; 32].into() }
    }

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_own_place() {
        let keyring = Keyring::new(&[key("k1", 7)]);
        let place = context("mailboxes", "m1", "refresh_token");
        let sealed = keyring.seal(&secret("1//refresh-token"), &place).expect("seal");
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.text.contains("refresh"), "stored as ciphertext");
        assert_eq!(keyring.open(&sealed, &place).expect("open").expose_secret(), "1//refresh-token");
        let elsewhere = context("mailboxes", "m2", "refresh_token");
        assert_eq!(keyring.open(&sealed, &elsewhere).map(|_| ()), Err(EncryptionError::Damaged));
        let other_column = context("mailboxes", "m1", "access_token");
        assert_eq!(keyring.open(&sealed, &other_column).map(|_| ()), Err(EncryptionError::Damaged));
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let keyring = Keyring::new(&[key("k1", 7)]);
        let a = keyring.seal(&secret("same"), "c").expect("seal");
        let b = keyring.seal(&secret("same"), "c").expect("seal");
        assert_ne!(a.text, b.text);
    }

    #[test]
    fn old_keys_still_open_and_new_values_use_the_newest_key() {
        let old = Keyring::new(&[key("k1", 1)]);
        let sealed = old.seal(&secret("token"), "c").expect("seal");
        let rotated = Keyring::new(&[key("k2", 2), key("k1", 1)]);
        assert!(rotated.is_outdated(&sealed));
        assert_eq!(rotated.open(&sealed, "c").expect("open").expose_secret(), "token");
        assert_eq!(rotated.seal(&secret("token"), "c").expect("seal").key_id, "k2");
        let retired = Keyring::new(&[key("k2", 2)]);
        assert_eq!(retired.open(&sealed, "c").map(|_| ()), Err(EncryptionError::UnknownKey("k1".into())));
    }

    #[test]
    fn a_damaged_value_is_refused_not_panicked_on() {
        let keyring = Keyring::new(&[key("k1", 7)]);
        for text in ["", "AAAA", "not base64 !!", &BASE64.encode([0u8; 40])] {
            let sealed = Sealed { key_id: "k1".into(), text: text.into() };
            assert_eq!(keyring.open(&sealed, "c").map(|_| ()), Err(EncryptionError::Damaged), "{text:?}");
        }
    }
}
