//! RFC 6068 `mailto:` URLs as List-Unsubscribe uses them, and the plain-text message that carries
//! out one: exactly the recipients, subject and body the URL names, from the user's own address.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::EmailAddress;

/// What a mailto URL asks to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailto {
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    pub subject: Option<String>,
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailtoError {
    #[error("not a mailto URL")]
    NotMailto,
    #[error("the mailto URL names no recipient")]
    NoRecipient,
    #[error("the mailto URL names an address that is not one: {0}")]
    BadAddress(String),
    #[error("the mailto URL is not valid percent-encoded UTF-8")]
    BadEncoding,
}

impl Mailto {
    pub fn parse(url: &str) -> Result<Mailto, MailtoError> {
        let rest = url
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("mailto:"))
            .map(|_| &url[7..])
            .ok_or(MailtoError::NotMailto)?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut mailto = Mailto { to: Vec::new(), cc: Vec::new(), subject: None, body: None };
        add_addresses(&mut mailto.to, &decode(path)?)?;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value)?;
            match decode(name)?.to_ascii_lowercase().as_str() {
                "to" => add_addresses(&mut mailto.to, &value)?,
                "cc" => add_addresses(&mut mailto.cc, &value)?,
                "subject" => mailto.subject = Some(value),
                "body" => mailto.body = Some(value),
                // Other header fields (bcc, in-reply-to, ...) are not needed to leave a list.
                _ => {}
            }
        }
        if mailto.to.is_empty() {
            return Err(MailtoError::NoRecipient);
        }
        Ok(mailto)
    }

    /// The raw RFC 5322 message, from `from`, dated `date` with the given Message-ID domain part.
    pub fn message(&self, from: &EmailAddress, date: chrono::DateTime<chrono::Utc>, message_id: &str) -> Vec<u8> {
        let list =
            |addresses: &[EmailAddress]| addresses.iter().map(EmailAddress::as_str).collect::<Vec<_>>().join(", ");
        let subject = self.subject.as_deref().filter(|s| !s.trim().is_empty()).unwrap_or("unsubscribe");
        let mut head = format!("From: {from}\r\nTo: {}\r\n", list(&self.to));
        if !self.cc.is_empty() {
            head.push_str(&format!("Cc: {}\r\n", list(&self.cc)));
        }
        head.push_str(&format!(
            "Subject: {}\r\nDate: {}\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n",
            encode_header(subject),
            date.to_rfc2822()
        ));
        let body = self.body.as_deref().unwrap_or_default().replace("\r\n", "\n").replace('\n', "\r\n");
        if body.is_ascii() {
            head.push_str("Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
            head.push_str(&body);
        } else {
            head.push_str("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
            let encoded = BASE64.encode(body.as_bytes());
            for line in encoded.as_bytes().chunks(76) {
                head.push_str(&String::from_utf8_lossy(line));
                head.push_str("\r\n");
            }
        }
        head.into_bytes()
    }
}

fn add_addresses(into: &mut Vec<EmailAddress>, text: &str) -> Result<(), MailtoError> {
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        into.push(EmailAddress::parse(part).map_err(|_| MailtoError::BadAddress(part.to_owned()))?);
    }
    Ok(())
}

fn decode(text: &str) -> Result<String, MailtoError> {
    // RFC 6068 percent-encodes; a `+` is a plus sign, not a space as in HTML forms.
    let bytes: Vec<u8> = percent_decode(text.as_bytes()).ok_or(MailtoError::BadEncoding)?;
    String::from_utf8(bytes).map_err(|_| MailtoError::BadEncoding)
}

fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hex = input.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A header value with no line breaks (no header injection); RFC 2047 when not ASCII.
fn encode_header(value: &str) -> String {
    let single_line: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if single_line.is_ascii() { single_line } else { format!("=?utf-8?B?{}?=", BASE64.encode(single_line.as_bytes())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_subject_and_body_are_read_and_percent_decoded() {
        let mailto = Mailto::parse(
            "mailto:leave@list.example,b@list.example?subject=unsub%20me%2Bnow&body=id%3D42%0Abye&cc=c@x.example",
        )
        .expect("valid");
        assert_eq!(mailto.to.iter().map(|a| a.as_str()).collect::<Vec<_>>(), ["leave@list.example", "b@list.example"]);
        assert_eq!(mailto.cc.len(), 1);
        assert_eq!(mailto.subject.as_deref(), Some("unsub me+now"));
        assert_eq!(mailto.body.as_deref(), Some("id=42\nbye"));
    }

    #[test]
    fn the_message_carries_exactly_what_the_url_asks_from_the_user() {
        let mailto = Mailto::parse(
            "MAILTO:leave@list.example?subject=Abbestellen%20%C3%BC%0D%0ABcc:%20x@evil.example&body=token%201",
        )
        .expect("valid");
        let from = EmailAddress::parse("me@example.com").expect("address");
        let raw = String::from_utf8(mailto.message(&from, chrono::Utc::now(), "x@emailgator")).expect("utf8");
        assert!(raw.starts_with("From: me@example.com\r\nTo: leave@list.example\r\n"), "{raw}");
        assert!(!raw.contains("\r\nBcc:"), "no header injection: {raw}");
        assert!(raw.ends_with("\r\n\r\ntoken 1"), "{raw}");
        let parsed = crate::domain::mime::parse(raw.as_bytes());
        assert_eq!(parsed.subject, "Abbestellen ü  Bcc: x@evil.example");
    }

    #[test]
    fn urls_without_a_recipient_or_with_bad_encoding_are_refused() {
        assert_eq!(Mailto::parse("mailto:?subject=x"), Err(MailtoError::NoRecipient));
        assert_eq!(Mailto::parse("mailto:a@b.example?subject=%ZZ"), Err(MailtoError::BadEncoding));
        assert_eq!(Mailto::parse("https://x.example"), Err(MailtoError::NotMailto));
        assert!(matches!(Mailto::parse("mailto:not-an-address"), Err(MailtoError::BadAddress(_))));
    }
}
