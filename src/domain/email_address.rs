//! `EmailAddress`: a lower-cased, syntactically plausible address, parsed once at the edge.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an email address")]
pub struct InvalidEmailAddress(pub String);

impl EmailAddress {
    /// Accepts `local@domain` with no spaces or angle brackets; stores it lower-cased.
    pub fn parse(text: &str) -> Result<Self, InvalidEmailAddress> {
        let trimmed = text.trim();
        let invalid = || InvalidEmailAddress(text.to_owned());
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(invalid)?;
        let is_bad_char = |c: char| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c);
        if local.is_empty()
            || domain.is_empty()
            || trimmed.len() > 254
            || local.contains('@')
            || trimmed.chars().any(is_bad_char)
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(invalid());
        }
        Ok(Self(trimmed.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_lowercases() {
        assert_eq!(EmailAddress::parse(" Ann@Example.COM ").map(|e| e.0), Ok("ann@example.com".to_owned()));
        assert_eq!(EmailAddress::parse("owner@localhost").map(|e| e.0), Ok("owner@localhost".to_owned()));
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in ["", "ann", "@example.com", "ann@", "a b@example.com", "<a@b.c>", "a@b..c", "a@@b.c"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
