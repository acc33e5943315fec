//! Personal API tokens for the GraphQL API (`Authorization: Bearer egt_…`): created with a name, shown
//! once, stored only as a SHA-256 hash, listed and revoked by their owner.

use chrono::NaiveDateTime;

use crate::db::api_tokens::ApiToken;
use crate::db::users::User;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::services::auth::{hash_token, random_token};

/// Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "egt_";
pub const MAX_NAME_CHARS: usize = 60;
pub const MAX_TOKENS_PER_USER: usize = 50;
/// How often a token's last use is written; uses in between do not write.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);
/// `egt_` and 32 random bytes in unpadded base64url.
const TOKEN_CHARS: usize = TOKEN_PREFIX.len() + 43;

/// A new token: the row, and the plaintext to show the person once.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub token: ApiToken,
    pub plaintext: String,
}

fn validated_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::invalid("name", "name the token after where it is used, e.g. “laptop script”"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::invalid("name", format!("use at most {MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::invalid("name", "use letters, digits and punctuation only"));
    }
    Ok(name.to_owned())
}

/// Creates a token for `user_id`; the plaintext is returned once and never stored.
pub fn create(conn: &mut DbConn, user_id: &str, name: &str, now: NaiveDateTime) -> Result<CreatedToken, AppError> {
    let name = validated_name(name)?;
    db::transaction(conn, |conn| {
        if db::api_tokens::list_for_user(conn, user_id)?.len() >= MAX_TOKENS_PER_USER {
            return Err(AppError::invalid(
                "name",
                format!("you can have at most {MAX_TOKENS_PER_USER} tokens; revoke one you no longer use"),
            ));
        }
        let plaintext = format!("{TOKEN_PREFIX}{}", random_token());
        let token = ApiToken {
            id: db::new_id(),
            user_id: user_id.to_owned(),
            name,
            token_hash: hash_token(&plaintext),
            created_at: now,
            last_used_at: None,
        };
        db::api_tokens::insert(conn, &token)?;
        Ok(CreatedToken { token, plaintext })
    })
}

/// The user's tokens, newest first.
pub fn list(conn: &mut DbConn, user_id: &str) -> Result<Vec<ApiToken>, AppError> {
    Ok(db::api_tokens::list_for_user(conn, user_id)?)
}

/// Revokes one of the user's tokens; another user's token is "not found".
pub fn revoke(conn: &mut DbConn, user_id: &str, id: &str) -> Result<(), AppError> {
    if db::api_tokens::delete(conn, user_id, id)? { Ok(()) } else { Err(AppError::NotFound) }
}

/// The user a token belongs to, or `None` for anything that is not a live token. The lookup is by
/// hash, so nothing is compared with the secret itself.
pub fn authenticate(conn: &mut DbConn, plaintext: &str, now: NaiveDateTime) -> Result<Option<User>, AppError> {
    if !plaintext.starts_with(TOKEN_PREFIX) || plaintext.len() != TOKEN_CHARS {
        return Ok(None);
    }
    let Some(token) = db::api_tokens::find_by_hash(conn, &hash_token(plaintext))? else { return Ok(None) };
    let Some(user) = db::users::find(conn, &token.user_id)? else { return Ok(None) };
    if token.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY) {
        db::api_tokens::touch(conn, &token.id, now)?;
    }
    Ok(Some(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(validated_name("  laptop ").ok().as_deref(), Some("laptop"));
        assert!(validated_name(" ").is_err());
        assert!(validated_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(validated_name("bad\nname").is_err());
    }

    #[test]
    fn tokens_are_prefixed_and_of_fixed_length() {
        let token = format!("{TOKEN_PREFIX}{}", random_token());
        assert_eq!(token.len(), TOKEN_CHARS);
    }
}
