//! Google sign-in and Gmail connection: each OAuth round trip starts with a single-use state bound
//! to the browser (and, to connect, to the signed-in user) and ends here, after the code exchange,
//! by finding or creating the user, or by storing the mailbox's sealed tokens.

use chrono::NaiveDateTime;

use crate::clients::google::{GMAIL_MODIFY, Pkce, TokenResponse, UserInfo};
use crate::db::mailboxes::Mailbox;
use crate::db::oauth_states::OAuthState;
use crate::db::users::User;
use crate::db::{self, DbConn};
use crate::domain::EmailAddress;
use crate::encryption::Keyring;
use crate::error::AppError;
use crate::jobs::{self, EnqueueOptions, sync_mailbox::SyncMailbox};
use crate::services::auth::{hash_token, random_token};
use crate::services::mailboxes::{self, Tokens};

/// How long a person has to answer Google's consent screen.
const ROUND_TRIP_TTL: chrono::Duration = chrono::Duration::minutes(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    Connect,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Connect => "connect",
        }
    }
}

/// A started round trip: `state` goes to Google, `browser_secret` into a cookie, `pkce` stays here.
#[derive(Debug, Clone)]
pub struct RoundTrip {
    pub state: String,
    pub browser_secret: String,
    pub pkce: Pkce,
}

/// A finished round trip, ready for the code exchange.
#[derive(Debug, Clone)]
pub struct Returned {
    pub purpose: Purpose,
    pub user_id: Option<String>,
    pub code_verifier: String,
}

/// Why a callback was not accepted; each gets its own friendly page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateProblem {
    /// No state, or one we never issued.
    Unknown,
    /// The state was already used: a replayed or double-submitted callback.
    Used,
    Expired,
    /// The callback arrived in another browser than the one that started it.
    OtherBrowser,
}

/// Records a new round trip.
pub fn begin(
    conn: &mut DbConn,
    purpose: Purpose,
    user_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<RoundTrip, AppError> {
    let trip = RoundTrip { state: random_token(), browser_secret: random_token(), pkce: Pkce::generate() };
    db::oauth_states::insert(
        conn,
        &OAuthState {
            state_hash: hash_token(&trip.state),
            purpose: purpose.as_str().into(),
            browser_hash: hash_token(&trip.browser_secret),
            user_id: user_id.map(str::to_owned),
            code_verifier: trip.pkce.verifier.clone(),
            created_at: now,
            expires_at: now + ROUND_TRIP_TTL,
            used_at: None,
        },
    )?;
    Ok(trip)
}

/// Checks and spends the state of a callback.
pub fn finish(
    conn: &mut DbConn,
    state: &str,
    browser_secret: Option<&str>,
    now: NaiveDateTime,
) -> Result<Result<Returned, StateProblem>, AppError> {
    let state_hash = hash_token(state);
    db::transaction(conn, |conn| {
        let Some(row) = db::oauth_states::find(conn, &state_hash)? else { return Ok(Err(StateProblem::Unknown)) };
        if row.used_at.is_some() {
            return Ok(Err(StateProblem::Used));
        }
        if row.expires_at <= now {
            return Ok(Err(StateProblem::Expired));
        }
        let is_same_browser = browser_secret.is_some_and(|secret| {
            subtle::ConstantTimeEq::ct_eq(hash_token(secret).as_bytes(), row.browser_hash.as_bytes()).into()
        });
        if !is_same_browser {
            return Ok(Err(StateProblem::OtherBrowser));
        }
        if !db::oauth_states::consume(conn, &state_hash, now)? {
            // Another request with the same state won the race.
            return Ok(Err(StateProblem::Used));
        }
        let purpose = if row.purpose == Purpose::Connect.as_str() { Purpose::Connect } else { Purpose::SignIn };
        Ok(Ok(Returned { purpose, user_id: row.user_id, code_verifier: row.code_verifier }))
    })
}

/// Why Google's answer cannot be used to sign in or connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantProblem {
    UnverifiedEmail,
    /// The person unticked the Gmail permission on the consent screen.
    MissingGmailScope,
    /// Google sent no refresh token, so EmailGator could not read mail while the person is away.
    NoRefreshToken,
}

/// Finds the user of a Google account, or creates them. An existing user with the same address
/// (say the local owner) is linked to the Google account.
pub fn sign_in_user(
    conn: &mut DbConn,
    info: &UserInfo,
    is_admin: bool,
    now: NaiveDateTime,
) -> Result<Result<User, GrantProblem>, AppError> {
    let Ok(email) = EmailAddress::parse(&info.email) else { return Ok(Err(GrantProblem::UnverifiedEmail)) };
    if !info.email_verified {
        return Ok(Err(GrantProblem::UnverifiedEmail));
    }
    db::transaction(conn, |conn| {
        let existing = match db::users::find_by_google_subject(conn, &info.sub)? {
            Some(user) => Some(user),
            None => db::users::find_by_email(conn, email.as_str())?,
        };
        if let Some(user) = existing {
            db::users::link_google(conn, &user.id, &info.sub, is_admin || user.is_admin, now)?;
            return Ok(Ok(db::users::find(conn, &user.id)?.ok_or(AppError::NotFound)?));
        }
        let user = User {
            id: db::new_id(),
            email: email.as_str().to_owned(),
            name: info
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| email.as_str().split('@').next().unwrap_or_default().to_owned()),
            is_admin,
            ai_settings: "{}".into(),
            created_at: now,
            updated_at: now,
            google_subject: Some(info.sub.clone()),
            is_keeping_inbox: false,
            is_labelling: true,
        };
        db::users::insert(conn, &user)?;
        Ok(Ok(user))
    })
}

/// Checks what Google granted for a Gmail connection.
pub fn check_grant(tokens: &TokenResponse) -> Result<(), GrantProblem> {
    if !tokens.granted_scopes().iter().any(|scope| scope == GMAIL_MODIFY) {
        return Err(GrantProblem::MissingGmailScope);
    }
    if tokens.refresh_token.is_none() {
        return Err(GrantProblem::NoRefreshToken);
    }
    Ok(())
}

/// Stores a connected Gmail account: a new mailbox, or the same address again (a reconnect keeps
/// its emails and sync position). Starts a sync either way.
pub fn connect_gmail(
    conn: &mut DbConn,
    keyring: &Keyring,
    user_id: &str,
    address: &str,
    tokens: &TokenResponse,
    now: NaiveDateTime,
) -> Result<Mailbox, AppError> {
    let address =
        EmailAddress::parse(address).map_err(|_| AppError::invalid("email", "Google sent no usable address"))?;
    let scopes = tokens.granted_scopes().join(" ");
    let sealed = Tokens {
        access: Some(tokens.access_token.clone()),
        refresh: tokens.refresh_token.clone(),
        expires_at: Some(now + chrono::Duration::seconds(tokens.expires_in.unwrap_or(3600))),
    };
    db::transaction(conn, |conn| {
        let mailbox = match db::mailboxes::find_by_address(conn, user_id, address.as_str())? {
            Some(existing) => {
                db::mailboxes::reactivate(conn, &existing.id, &scopes, now)?;
                existing
            }
            None => {
                let mailbox = Mailbox {
                    id: db::new_id(),
                    user_id: user_id.to_owned(),
                    kind: "gmail".into(),
                    address: address.as_str().to_owned(),
                    encrypted_access_token: None,
                    encrypted_refresh_token: None,
                    token_key_id: None,
                    token_expires_at: None,
                    granted_scopes: scopes.clone(),
                    sync_cursor: None,
                    status: "active".into(),
                    rate_limited_until: None,
                    last_synced_at: None,
                    last_error: None,
                    // 0: the server's window (EMAILGATOR__GMAIL__BACKFILL_DAYS) until the person sets one.
                    backfill_days: 0,
                    created_at: now,
                    updated_at: now,
                    maildir_path: None,
                };
                db::mailboxes::insert(conn, &mailbox)?;
                mailbox
            }
        };
        mailboxes::store_tokens(conn, keyring, &mailbox.id, &sealed, now)?;
        let sync = SyncMailbox { mailbox_id: mailbox.id.clone() };
        let options = EnqueueOptions { unique_key: Some(SyncMailbox::unique_key(&mailbox.id)), ..Default::default() };
        jobs::enqueue(conn, &sync, options, now)?;
        db::mailboxes::find(conn, &mailbox.id)?.ok_or(AppError::NotFound)
    })
}
