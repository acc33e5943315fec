//! Sign-in: one-time local sign-in links, server-side sessions (rotated at sign-in, idle and absolute
//! expiry), sign-out. Only hashes of links and session ids are stored.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::login_tokens::LoginToken;
use crate::db::sessions::Session;
use crate::db::users::User;
use crate::db::{self, DbConn};
use crate::domain::EmailAddress;
use crate::error::AppError;

/// How often a session's last-seen time is written; reads in between do not write.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// Session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

/// A signed-in session with its user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: Session,
    pub user: User,
}

/// A fresh session: the cookie value goes to the browser, only its hash is stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie_value: String,
    pub session: Session,
}

/// Why a sign-in link did not work, for a friendly page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    Unknown,
    Used,
    Expired,
}

pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a secret token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Finds or creates the local owner (an admin) for local sign-in.
pub fn ensure_local_owner(conn: &mut DbConn, email: &EmailAddress, now: NaiveDateTime) -> Result<User, AppError> {
    db::transaction(conn, |conn| {
        if let Some(user) = db::users::find_by_email(conn, email.as_str())? {
            if !user.is_admin {
                db::users::set_admin(conn, &user.id, true, now)?;
                return Ok(User { is_admin: true, ..user });
            }
            return Ok(user);
        }
        let user = User {
            id: db::new_id(),
            email: email.as_str().to_owned(),
            name: "Owner".into(),
            is_admin: true,
            ai_settings: "{}".into(),
            created_at: now,
            updated_at: now,
            google_subject: None,
            is_keeping_inbox: false,
            is_labelling: true,
        };
        db::users::insert(conn, &user)?;
        Ok(user)
    })
}

/// Creates a one-time sign-in token for `user_id`; returns the token to put in the link.
pub fn create_login_token(
    conn: &mut DbConn,
    user_id: &str,
    ttl: Duration,
    now: NaiveDateTime,
) -> Result<String, AppError> {
    let token = random_token();
    db::login_tokens::insert(
        conn,
        &LoginToken {
            token_hash: hash_token(&token),
            user_id: user_id.to_owned(),
            created_at: now,
            expires_at: now + duration(ttl),
            used_at: None,
        },
    )?;
    Ok(token)
}

/// Tells whether a link can still be used, without using it (the confirmation page).
pub fn check_login_token(conn: &mut DbConn, token: &str, now: NaiveDateTime) -> Result<Option<LinkProblem>, AppError> {
    Ok(match db::login_tokens::find(conn, &hash_token(token))? {
        None => Some(LinkProblem::Unknown),
        Some(t) if t.used_at.is_some() => Some(LinkProblem::Used),
        Some(t) if t.expires_at <= now => Some(LinkProblem::Expired),
        Some(_) => None,
    })
}

/// Uses a sign-in link: marks it used, ends any previous session of this browser and starts a new
/// one (a new id at sign-in stops session fixation).
pub fn sign_in_with_token(
    conn: &mut DbConn,
    token: &str,
    previous_cookie: Option<&str>,
    policy: SessionPolicy,
    now: NaiveDateTime,
) -> Result<Result<NewSession, LinkProblem>, AppError> {
    let token_hash = hash_token(token);
    db::transaction(conn, |conn| {
        if !db::login_tokens::consume(conn, &token_hash, now)? {
            let problem = check_login_token(conn, token, now)?.unwrap_or(LinkProblem::Used);
            return Ok(Err(problem));
        }
        let Some(login) = db::login_tokens::find(conn, &token_hash)? else {
            return Ok(Err(LinkProblem::Unknown));
        };
        if let Some(previous) = previous_cookie {
            db::sessions::delete(conn, &hash_token(previous))?;
        }
        Ok(Ok(start_session(conn, &login.user_id, policy, now)?))
    })
}

/// Starts a new session for `user_id`.
pub fn start_session(
    conn: &mut DbConn,
    user_id: &str,
    policy: SessionPolicy,
    now: NaiveDateTime,
) -> Result<NewSession, AppError> {
    let cookie_value = random_token();
    let session = Session {
        id_hash: hash_token(&cookie_value),
        user_id: user_id.to_owned(),
        csrf_token: random_token(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + duration(policy.absolute),
    };
    db::sessions::insert(conn, &session)?;
    Ok(NewSession { cookie_value, session })
}

/// Signs `user_id` in with a fresh session, ending the browser's previous one (no session fixation).
pub fn rotate_session(
    conn: &mut DbConn,
    user_id: &str,
    previous_cookie: Option<&str>,
    policy: SessionPolicy,
    now: NaiveDateTime,
) -> Result<NewSession, AppError> {
    db::transaction(conn, |conn| {
        if let Some(previous) = previous_cookie {
            db::sessions::delete(conn, &hash_token(previous))?;
        }
        start_session(conn, user_id, policy, now)
    })
}

/// Looks up the session behind a cookie; an expired or idle session is deleted and not returned.
pub fn load_session(
    conn: &mut DbConn,
    cookie_value: &str,
    policy: SessionPolicy,
    now: NaiveDateTime,
) -> Result<Option<SignedIn>, AppError> {
    let id_hash = hash_token(cookie_value);
    // One query for both: a session without its user (never kept: deleting a user deletes its
    // sessions) would find nothing, as before.
    let Some((session, user)) = db::sessions::find_with_user(conn, &id_hash)? else {
        return Ok(None);
    };
    if session.expires_at <= now || session.last_seen_at + duration(policy.idle) <= now {
        db::sessions::delete(conn, &id_hash)?;
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY {
        db::sessions::touch(conn, &id_hash, now)?;
    }
    Ok(Some(SignedIn { session, user }))
}

pub fn sign_out(conn: &mut DbConn, cookie_value: &str) -> Result<(), AppError> {
    db::sessions::delete(conn, &hash_token(cookie_value))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), a);
    }
}
