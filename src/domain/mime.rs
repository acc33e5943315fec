//! Turns the raw bytes of one email into the display-ready fields the app stores:
//! headers, text and sanitized HTML bodies, list and unsubscribe data.
//! Pure (no I/O), and no input makes it panic: what cannot be read is noted in `problems`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::panic::catch_unwind;
use std::sync::LazyLock;

use mail_parser::{Header, HeaderName, Message, MessageParser, MimeHeaders, PartType};

/// Caps what one message may put in the database, whatever the sender sent.
const MAX_BODY_CHARS: usize = 1_000_000;
/// HTML is cleaned before it is stored, and the HTML serializer slows sharply on long runs of
/// entities (about 13 s of CPU for a hostile 1,000,000-character body, 0.6 s at 200,000), so HTML
/// gets a smaller cap: large real newsletters fit, and a hostile one costs a worker seconds at most.
const MAX_HTML_CHARS: usize = 500_000;
/// Unparseable input is kept only as a hint of what arrived, so less of it is enough.
const MAX_GARBAGE_CHARS: usize = 100_000;
const SNIPPET_CHARS: usize = 200;
const MAX_UNSUBSCRIBE_URLS: usize = 10;
const TEXT_WIDTH: usize = 100;
/// ammonia can change attribute values but not rename attributes, so remote image URLs are
/// tagged with this prefix while cleaning and moved to `data-remote-src` afterwards.
const REMOTE_IMAGE_MARKER: &str = "emailgator-remote-image:";

/// What could be read from one message. Every field is display-ready; nothing here panics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedEmail {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    pub from_name: Option<String>,
    /// Lower-cased.
    pub from_address: Option<String>,
    /// To addresses, lower-cased.
    pub to_addresses: Vec<String>,
    /// Decoded (RFC 2047), "" when missing.
    pub subject: String,
    /// The Date header in UTC.
    pub sent_at: Option<chrono::NaiveDateTime>,
    /// The id inside `<...>` of List-Id, e.g. "news.shop.example".
    pub list_id: Option<String>,
    /// https:, http: and mailto: URLs from List-Unsubscribe, in header order.
    pub list_unsubscribe: Vec<String>,
    /// RFC 8058: List-Unsubscribe-Post asks for one-click and an https URL is present.
    pub is_one_click: bool,
    /// The Authentication-Results header value(s), joined with "; ".
    pub auth_results: Option<String>,
    /// The text/plain body; else text made from the HTML; None if neither.
    pub text_body: Option<String>,
    /// The text/html body, sanitized; None if there is no HTML part.
    pub sanitized_html: Option<String>,
    /// The first 200 characters of the text body, whitespace collapsed.
    pub snippet: String,
    pub raw_size: usize,
    /// Plain-words notes on what could not be read; empty when all was fine.
    pub problems: Vec<String>,
}

/// Reads one raw message. Never fails: unreadable parts become `problems`.
pub fn parse(raw: &[u8]) -> ParsedEmail {
    // mail-parser slices its input by computed offsets; should one of them be wrong for some
    // odd message, that message is reported as unreadable instead of taking the worker down.
    let message = catch_unwind(|| MessageParser::default().parse(raw)).ok().flatten();
    let Some(message) = message else {
        return unparseable(raw, "the message could not be parsed as email");
    };
    // mail-parser takes any line with a colon for a header and skips other lines, so text or
    // binary noise comes back as a "message" with nonsense headers and half the bytes gone.
    // Without a real header there is no MIME structure to decode either: keep the bytes.
    if !has_readable_header(&message) {
        return unparseable(raw, "no headers could be read");
    }
    let mut parsed = ParsedEmail { raw_size: raw.len(), ..ParsedEmail::default() };
    read_headers(&message, &mut parsed);
    read_bodies(&message, &mut parsed);
    note_part_problems(&message, raw, &mut parsed.problems);
    parsed
}

fn unparseable(raw: &[u8], problem: &str) -> ParsedEmail {
    let mut parsed = ParsedEmail { raw_size: raw.len(), problems: vec![problem.to_owned()], ..ParsedEmail::default() };
    if !raw.is_empty() {
        let text = String::from_utf8_lossy(raw);
        let (text, _) = truncate_chars(&text, MAX_GARBAGE_CHARS);
        parsed.snippet = snippet_of(text);
        parsed.text_body = Some(text.to_owned());
    }
    parsed
}

/// RFC 5322 field names are printable ASCII without colons.
fn has_readable_header(message: &Message<'_>) -> bool {
    message.headers().iter().any(|header| {
        let name = header.name.as_str();
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
    })
}

fn read_headers(message: &Message<'_>, parsed: &mut ParsedEmail) {
    let headers = message.headers();
    parsed.message_id = non_empty(message.message_id().unwrap_or_default());
    parsed.subject = message.subject().unwrap_or_default().trim().to_owned();

    if let Some(from) = message.from().and_then(|address| address.first()) {
        parsed.from_name = from.name().and_then(non_empty);
        parsed.from_address = from.address().and_then(non_empty).map(|a| a.to_lowercase());
    }
    if parsed.from_address.is_none() && headers.iter().any(|h| h.name == HeaderName::From) {
        parsed.problems.push("the From header has no readable address".to_owned());
    }
    parsed.to_addresses = message
        .all_to()
        .flat_map(|address| address.iter())
        .filter_map(|addr| addr.address().and_then(non_empty))
        .map(|address| address.to_lowercase())
        .collect();

    if let Some(date) = headers.iter().find(|h| h.name == HeaderName::Date) {
        parsed.sent_at = date
            .value
            .as_datetime()
            .filter(|d| d.is_valid())
            .and_then(|d| chrono::DateTime::from_timestamp(d.to_timestamp(), 0))
            .map(|d| d.naive_utc());
        if parsed.sent_at.is_none() {
            parsed.problems.push("the Date header is not a date".to_owned());
        }
    }

    // The list and authentication headers are read from their raw text: mail-parser treats
    // List-* as address lists, which loses URLs that are not written as addresses.
    let mut auth_results = Vec::new();
    let mut asks_one_click = false;
    for header in headers {
        match &header.name {
            HeaderName::ListId if parsed.list_id.is_none() => {
                parsed.list_id = list_id(&raw_value(message, header));
            }
            HeaderName::ListUnsubscribe => {
                push_unsubscribe_urls(&raw_value(message, header), &mut parsed.list_unsubscribe);
            }
            HeaderName::AuthenticationResults => {
                let value = collapse_whitespace(&raw_value(message, header));
                if !value.is_empty() {
                    auth_results.push(value);
                }
            }
            name if name.as_str().eq_ignore_ascii_case("List-Unsubscribe-Post") => {
                let value: String = raw_value(message, header).chars().filter(|c| !c.is_whitespace()).collect();
                asks_one_click |= value.to_ascii_lowercase().contains("list-unsubscribe=one-click");
            }
            _ => {}
        }
    }
    if !auth_results.is_empty() {
        parsed.auth_results = Some(auth_results.join("; "));
    }
    // RFC 8058 one-click is a POST to an https URL; mailto or plain http cannot carry it.
    parsed.is_one_click = asks_one_click && parsed.list_unsubscribe.iter().any(|url| has_prefix(url, &["https:"]));
}

fn read_bodies(message: &Message<'_>, parsed: &mut ParsedEmail) {
    // mail-parser lists the message's own inline bodies (at any multipart depth, but not
    // inside attached messages). When one kind is missing it lists the other kind in its
    // place, so the part type tells which is which.
    let part = |id: &u32| message.parts.get(*id as usize);
    // A blank text/plain next to real HTML is a placeholder, not the message.
    let plain = message.text_body.iter().filter_map(part).find_map(|part| match &part.body {
        PartType::Text(text) if !text.trim().is_empty() => Some(text.as_ref()),
        _ => None,
    });
    let html = message.html_body.iter().filter_map(part).find_map(|part| match &part.body {
        PartType::Html(html) => Some(html.as_ref()),
        _ => None,
    });

    let html = html.map(|html| {
        let (html, was_cut) = truncate_chars(html, MAX_HTML_CHARS);
        if was_cut {
            parsed.problems.push("the HTML body was cut to 500,000 characters".to_owned());
        }
        html
    });

    let text = match (plain, html) {
        (Some(plain), _) => Some(plain.replace("\r\n", "\n")),
        (None, Some(html)) => text_from_html(html, &mut parsed.problems),
        (None, None) => None,
    };
    if let Some(text) = text {
        let (text, was_cut) = truncate_chars(&text, MAX_BODY_CHARS);
        if was_cut {
            parsed.problems.push("the text body was cut to 1,000,000 characters".to_owned());
        }
        parsed.snippet = snippet_of(text);
        parsed.text_body = Some(text.to_owned());
    }
    parsed.sanitized_html = html.map(|html| sanitize_html(html, MAX_BODY_CHARS, &mut parsed.problems));
}

fn note_part_problems(message: &Message<'_>, raw: &[u8], problems: &mut Vec<String>) {
    // mail-parser also flags a message that has headers only; that is not a decoding problem.
    if message.parts.iter().any(|part| part.is_encoding_problem && part.offset_end > part.offset_body) {
        problems.push("some parts could not be decoded and are shown as sent".to_owned());
    }
    let unclosed = message
        .parts
        .iter()
        .filter(|part| matches!(part.body, PartType::Multipart(_)))
        .filter_map(|part| part.content_type()?.attribute("boundary"))
        .any(|boundary| !contains_bytes(raw, format!("--{boundary}--").as_bytes()));
    if unclosed {
        problems.push("the message ends before all its parts are closed; it may be cut off".to_owned());
    }
}

fn raw_value<'m>(message: &'m Message<'_>, header: &Header<'_>) -> Cow<'m, str> {
    message
        .raw_message
        .get(header.offset_start as usize..header.offset_end as usize)
        .map(String::from_utf8_lossy)
        .unwrap_or_default()
}

/// `Name <id>` gives `id`; a bare id is taken as it is.
fn list_id(value: &str) -> Option<String> {
    let id = match value.rsplit_once('<') {
        Some((_, rest)) => rest.split('>').next().unwrap_or_default(),
        None => value,
    };
    let id: String = id.chars().filter(|c| !c.is_whitespace()).collect();
    (!id.is_empty()).then_some(id)
}

/// The https:, http: and mailto: URLs of one List-Unsubscribe value (RFC 2369), in order.
pub fn parse_list_unsubscribe(value: &str) -> Vec<String> {
    let mut urls = Vec::new();
    push_unsubscribe_urls(value, &mut urls);
    urls
}

fn push_unsubscribe_urls(value: &str, urls: &mut Vec<String>) {
    // Senders fold lines inside URLs, forget commas and occasionally the angle brackets.
    let candidates: Vec<&str> = if value.contains('<') {
        value.split('<').skip(1).map(|chunk| chunk.split(['>', ',']).next().unwrap_or_default()).collect()
    } else {
        value.split(',').collect()
    };
    for candidate in candidates {
        let url: String = candidate.chars().filter(|c| !c.is_whitespace()).collect();
        if urls.len() < MAX_UNSUBSCRIBE_URLS
            && has_prefix(&url, &["https:", "http:", "mailto:"])
            && !urls.contains(&url)
        {
            urls.push(url);
        }
    }
}

fn text_from_html(html: &str, problems: &mut Vec<String>) -> Option<String> {
    // html2text has had panics on odd markup; one bad newsletter must not stop an import.
    match catch_unwind(|| html2text::from_read(html.as_bytes(), TEXT_WIDTH)) {
        Ok(Ok(text)) => Some(text.trim_end().to_owned()),
        _ => {
            problems.push("the HTML body could not be turned into text".to_owned());
            None
        }
    }
}

/// Cleans `html` into at most `max_chars` characters of safe markup.
fn sanitize_html(html: &str, max_chars: usize, problems: &mut Vec<String>) -> String {
    // Cutting cleaned markup could leave a tag open, so when cleaning makes the HTML longer
    // than the cap (added rel/target, escaped `&`), a shorter input is cleaned instead.
    let mut input = html;
    for _ in 0..4 {
        let cleaned =
            SANITIZER.clean(input).to_string().replace(&format!(" src=\"{REMOTE_IMAGE_MARKER}"), " data-remote-src=\"");
        let length = cleaned.chars().count();
        if length <= max_chars {
            if input.len() < html.len() {
                problems.push("the HTML body was shortened to stay within the size limit once cleaned".to_owned());
            }
            return cleaned;
        }
        let keep = input.chars().count() as f64 * 0.9 * max_chars as f64 / length as f64;
        input = truncate_chars(input, keep as usize).0;
    }
    problems.push("the HTML body is too large to show".to_owned());
    String::new()
}

const ALLOWED_TAGS: &str = "p br div span a b i strong em u s strike small sub sup ul ol li table thead tbody tfoot tr \
    td th caption h1 h2 h3 h4 h5 h6 blockquote pre code img hr font center";
/// Tags outside the list above are dropped but keep their text; these lose their content too,
/// because it is code, hidden markup or form widgets rather than message text.
const DROPPED_WITH_CONTENT: &str =
    "script style title iframe frame frameset object embed applet svg math noscript template select textarea";

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(ALLOWED_TAGS.split_whitespace().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.split_whitespace().collect())
        .generic_attributes(HashSet::from(["title", "lang", "dir", "align", "style"]))
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href", "target"])),
            ("img", HashSet::from(["src", "alt", "width", "height", "border"])),
            ("table", HashSet::from(["width", "border", "cellpadding", "cellspacing", "bgcolor"])),
            ("tr", HashSet::from(["valign", "bgcolor"])),
            ("td", HashSet::from(["colspan", "rowspan", "width", "height", "valign", "bgcolor"])),
            ("th", HashSet::from(["colspan", "rowspan", "width", "height", "valign", "bgcolor"])),
            ("font", HashSet::from(["color", "face", "size"])),
            ("ol", HashSet::from(["start", "type"])),
        ]))
        // `data` and `cid` pass this first check only so that the filter below can keep
        // them on images; the filter drops them everywhere else.
        .url_schemes(HashSet::from(["http", "https", "mailto", "data", "cid"]))
        // A relative URL in an email has no base to resolve against.
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .set_tag_attribute_value("a", "target", "_blank")
        .attribute_filter(filter_attribute);
    builder
});

fn filter_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    match (element, attribute) {
        ("a", "href") => has_prefix(value, &["http:", "https:", "mailto:"]).then_some(value.into()),
        ("img", "src") if has_prefix(value, &["data:image/", "cid:"]) => Some(value.into()),
        // Remote images are trackers until the user asks to load them.
        ("img", "src") if has_prefix(value, &["http:", "https:"]) => {
            Some(format!("{REMOTE_IMAGE_MARKER}{}", value.trim()).into())
        }
        ("img", "src") => None,
        (_, "style") if is_unsafe_style(value) => None,
        _ => Some(value.into()),
    }
}

/// Styles that can fetch (and so track) or run something. A backslash is refused outright
/// because CSS escapes can spell `url(` without those letters.
fn is_unsafe_style(style: &str) -> bool {
    let compact: String = style.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect();
    compact.contains('\\')
        || ["url(", "image-set(", "expression(", "@import", "behavior:", "binding:"]
            .iter()
            .any(|needle| compact.contains(needle))
}

fn has_prefix(value: &str, prefixes: &[&str]) -> bool {
    let value = value.trim_start();
    prefixes.iter().any(|prefix| value.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix)))
}

/// Cuts `text` to at most `max` characters, on a char boundary; says whether it cut.
fn truncate_chars(text: &str, max: usize) -> (&str, bool) {
    match text.char_indices().nth(max) {
        Some((end, _)) => (text.get(..end).unwrap_or(text), true),
        None => (text, false),
    }
}

fn snippet_of(text: &str) -> String {
    let snippet: String = text
        .split_whitespace()
        .flat_map(|word| std::iter::once(' ').chain(word.chars()))
        .skip(1)
        .take(SNIPPET_CHARS)
        .collect();
    snippet.trim_end().to_owned()
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|window| window == needle)
}

#[cfg(test)]
mod sanitizer_properties;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    /// Fixtures are written with `\n` for readability; real mail travels with CRLF.
    fn eml(text: &str) -> Vec<u8> {
        text.replace('\n', "\r\n").into_bytes()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<chrono::NaiveDateTime> {
        NaiveDate::from_ymd_opt(y, mo, d).and_then(|date| date.and_hms_opt(h, mi, s))
    }

    fn html_of(html: &str) -> String {
        let raw =
            eml(&format!("From: a@example.com\nSubject: html\nContent-Type: text/html; charset=utf-8\n\n{html}\n"));
        parse(&raw).sanitized_html.unwrap_or_default()
    }

    const ALTERNATIVE: &str = "\
Return-Path: <orders@shop.example>
Message-ID: <20250114083000.ABC123@mail.shop.example>
Date: Tue, 14 Jan 2025 10:30:00 +0200
From: \"Shop Example\" <Orders@Shop.Example>
To: Jane Doe <Jane.Doe@Example.org>, bob@example.org
Subject: Your order #1234 has shipped
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=\"alt-boundary\"

--alt-boundary
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit

Hello Jane,

Your order #1234 is on its way.
--alt-boundary
Content-Type: text/html; charset=utf-8

<html><body><p>Hello Jane,</p><p>Your order <b>#1234</b> is on its way.</p></body></html>
--alt-boundary--
";

    #[test]
    fn a_multipart_alternative_message_yields_both_bodies_and_the_headers() {
        let raw = eml(ALTERNATIVE);
        let parsed = parse(&raw);
        assert_eq!(parsed.message_id.as_deref(), Some("20250114083000.ABC123@mail.shop.example"));
        assert_eq!(parsed.from_name.as_deref(), Some("Shop Example"));
        assert_eq!(parsed.from_address.as_deref(), Some("orders@shop.example"));
        assert_eq!(parsed.to_addresses, vec!["jane.doe@example.org", "bob@example.org"]);
        assert_eq!(parsed.subject, "Your order #1234 has shipped");
        assert_eq!(parsed.sent_at, at(2025, 1, 14, 8, 30, 0));
        assert_eq!(parsed.text_body.as_deref(), Some("Hello Jane,\n\nYour order #1234 is on its way."));
        let html = parsed.sanitized_html.unwrap_or_default();
        assert!(html.contains("<p>Your order <b>#1234</b> is on its way.</p>"), "{html}");
        assert_eq!(parsed.snippet, "Hello Jane, Your order #1234 is on its way.");
        assert_eq!(parsed.raw_size, raw.len());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    }

    #[test]
    fn a_nested_multipart_takes_the_main_body_and_ignores_attachments_and_forwarded_messages() {
        let raw = eml("\
From: Alice <alice@example.com>
To: team@example.com
Subject: Fwd: quarterly report
Date: Mon, 3 Feb 2025 09:15:00 -0500
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"outer\"

This is a multi-part message in MIME format.
--outer
Content-Type: multipart/alternative; boundary=\"inner\"

--inner
Content-Type: text/plain; charset=us-ascii

See the report attached, and the mail from Bob below.
--inner
Content-Type: text/html; charset=us-ascii

<p>See the report attached, and the mail from Bob below.</p>
--inner--

--outer
Content-Type: application/pdf; name=\"report.pdf\"
Content-Disposition: attachment; filename=\"report.pdf\"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==
--outer
Content-Type: message/rfc822
Content-Disposition: attachment; filename=\"original.eml\"

From: Bob <bob@example.com>
To: alice@example.com
Subject: the numbers
Content-Type: text/plain; charset=us-ascii

FORWARDED BODY MUST NOT BE THE MAIN BODY
--outer--
");
        let parsed = parse(&raw);
        assert_eq!(parsed.text_body.as_deref(), Some("See the report attached, and the mail from Bob below."));
        let html = parsed.sanitized_html.unwrap_or_default();
        assert!(html.contains("See the report attached"), "{html}");
        assert!(!html.contains("FORWARDED"));
        assert!(!parsed.snippet.contains("FORWARDED"));
        assert_eq!(parsed.subject, "Fwd: quarterly report");
        assert_eq!(parsed.sent_at, at(2025, 2, 3, 14, 15, 0));
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    }

    #[test]
    fn an_iso_8859_1_quoted_printable_body_is_decoded() {
        let raw = eml("\
From: cafe@example.fr
Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 au lait, cr=E8me br=FBl=E9e.
");
        let parsed = parse(&raw);
        assert_eq!(parsed.subject, "Café crème");
        assert_eq!(parsed.text_body.as_deref(), Some("Café au lait, crème brûlée.\n"));
        assert_eq!(parsed.snippet, "Café au lait, crème brûlée.");
    }

    #[test]
    fn a_windows_1252_body_is_decoded() {
        let mut raw = eml("\
From: billing@example.com
Subject: Invoice
Content-Type: text/plain; charset=windows-1252
Content-Transfer-Encoding: 8bit

");
        raw.extend_from_slice(b"Total: \x80 42 \x96 \x93thank you\x94\r\n");
        let parsed = parse(&raw);
        assert_eq!(parsed.text_body.as_deref(), Some("Total: € 42 – “thank you”\n"));
    }

    #[test]
    fn an_iso_2022_jp_subject_and_a_shift_jis_body_are_decoded() {
        let mut raw = eml("\
From: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?= <info@shop.example.jp>
Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=
Content-Type: text/plain; charset=Shift_JIS
Content-Transfer-Encoding: 8bit

");
        raw.extend_from_slice(b"\x82\xa8\x92m\x82\xe7\x82\xb9: \x94z\x91\x97\r\n");
        let parsed = parse(&raw);
        assert_eq!(parsed.subject, "こんにちは");
        assert_eq!(parsed.from_name.as_deref(), Some("こんにちは"));
        assert_eq!(parsed.text_body.as_deref(), Some("お知らせ: 配送\n"));
    }

    #[test]
    fn a_utf_8_base64_encoded_word_subject_is_decoded() {
        let raw = eml("\
From: reisen@example.de
Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=

Servus.
");
        assert_eq!(parse(&raw).subject, "Grüße aus München");
    }

    #[test]
    fn a_base64_body_is_decoded() {
        let raw = eml("\
From: robot@example.com
Subject: b64
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

SGVsbG8gZnJvbSBiYXNlNjQgbGFuZC4NClNlY29uZCBsaW5lLg0K
");
        let parsed = parse(&raw);
        assert_eq!(parsed.text_body.as_deref(), Some("Hello from base64 land.\nSecond line.\n"));
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    }

    #[test]
    fn an_html_only_message_gets_its_text_and_snippet_from_the_html() {
        let raw = eml("\
From: News <news@shop.example>
Subject: Winter sale
Content-Type: text/html; charset=utf-8

<html><head><title>Sale</title><style>p { color: red }</style></head>
<body><h1>Winter   sale</h1><p>Everything   is 50% off this week.</p></body></html>
");
        let parsed = parse(&raw);
        let text = parsed.text_body.unwrap_or_default();
        assert!(text.contains("Winter sale"), "{text}");
        assert!(text.contains("Everything is 50% off this week."), "{text}");
        assert!(!text.contains("color: red"), "{text}");
        assert!(parsed.snippet.contains("Winter sale"), "{}", parsed.snippet);
        assert!(parsed.snippet.contains("Everything is 50% off this week."));
        assert!(!parsed.snippet.contains("  "));
        assert!(parsed.sanitized_html.is_some_and(|html| html.contains("<h1>Winter   sale</h1>")));
    }

    const LIST_HEADERS: &str = "\
From: news@shop.example
Subject: News
List-Id: Shop News <news.shop.example>
List-Unsubscribe: <mailto:unsub@shop.example?subject=unsubscribe>,
 <https://shop.example/unsub?u=42>
";

    #[test]
    fn list_headers_with_https_and_a_one_click_post_header_are_one_click() {
        let raw = eml(&format!("{LIST_HEADERS}List-Unsubscribe-Post: List-Unsubscribe=One-Click\n\nHi\n"));
        let parsed = parse(&raw);
        assert_eq!(parsed.list_id.as_deref(), Some("news.shop.example"));
        assert_eq!(
            parsed.list_unsubscribe,
            vec!["mailto:unsub@shop.example?subject=unsubscribe", "https://shop.example/unsub?u=42"]
        );
        assert!(parsed.is_one_click);
    }

    #[test]
    fn list_unsubscribe_without_the_post_header_is_not_one_click() {
        let parsed = parse(&eml(&format!("{LIST_HEADERS}\nHi\n")));
        assert_eq!(parsed.list_unsubscribe.len(), 2);
        assert!(!parsed.is_one_click);
    }

    #[test]
    fn a_mailto_only_list_unsubscribe_is_not_one_click_even_with_the_post_header() {
        let parsed = parse(&eml("\
From: news@shop.example
List-Unsubscribe: <mailto:unsub@shop.example>
List-Unsubscribe-Post: List-Unsubscribe=One-Click

Hi
"));
        assert_eq!(parsed.list_unsubscribe, vec!["mailto:unsub@shop.example"]);
        assert!(!parsed.is_one_click);
    }

    #[test]
    fn list_unsubscribe_tolerates_folding_and_missing_commas_and_keeps_only_web_and_mail_urls() {
        let mut header = String::from(
            "List-Unsubscribe: <https://a.example/u?id=1\n\t&x=2> <javascript:alert(1)>  <ftp://x.example/u>\n <HTTP://b.example/u>,<mailto:u@c.example>",
        );
        for n in 0..20 {
            header.push_str(&format!(", <https://many.example/{n}>"));
        }
        let parsed = parse(&eml(&format!("From: a@b.example\n{header}\nList-Id: bare.list.example \n\nHi\n")));
        assert_eq!(parsed.list_unsubscribe.len(), MAX_UNSUBSCRIBE_URLS);
        assert_eq!(
            parsed.list_unsubscribe.get(..3),
            Some(
                &[
                    "https://a.example/u?id=1&x=2".to_owned(),
                    "HTTP://b.example/u".to_owned(),
                    "mailto:u@c.example".to_owned()
                ][..]
            )
        );
        assert_eq!(parsed.list_id.as_deref(), Some("bare.list.example"));
    }

    #[test]
    fn authentication_results_headers_are_joined() {
        let parsed = parse(&eml("\
Authentication-Results: mx.example.org;
\tdkim=pass header.d=shop.example
Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=shop.example
From: a@shop.example

Hi
"));
        assert_eq!(
            parsed.auth_results.as_deref(),
            Some(
                "mx.example.org; dkim=pass header.d=shop.example; mx.example.org; spf=pass smtp.mailfrom=shop.example"
            )
        );
    }

    #[test]
    fn hostile_html_is_defused() {
        let html = html_of(
            r#"<meta http-equiv="refresh" content="0;url=https://evil.example/">
<script>alert('xss')</script>
<body onload="steal()"><div onclick="steal()" style="background:url(http://x.example/bg.png)">Hello</div>
<a href="javascript:alert(1)">click</a>
<form action="https://evil.example/login"><input name="password"><button>Log in</button></form>
<svg onload="alert(1)"><circle r="5"></circle></svg>
<iframe src="https://evil.example/frame"></iframe>
<p style="color: red">red text</p>
<img src="https://tracker.example/x.gif" alt="pixel" onerror="steal()">
</body>"#,
        );
        for bad in [
            "<script",
            "alert",
            "onload",
            "onclick",
            "onerror",
            "javascript:",
            "<form",
            "<input",
            "<meta",
            "refresh",
            "<svg",
            "<iframe",
            "url(",
            "evil.example",
            "<button",
        ] {
            assert!(!html.contains(bad), "{bad} survived in {html}");
        }
        assert!(html.contains("<p style=\"color: red\">red text</p>"), "{html}");
        assert!(html.contains(r#"<img data-remote-src="https://tracker.example/x.gif" alt="pixel">"#), "{html}");
        assert!(!html.contains(" src="), "{html}");
    }

    #[test]
    fn a_data_image_keeps_its_src_and_links_get_rel_and_target() {
        let html = html_of(
            r#"<p><img src="data:image/png;base64,iVBORw0KGgo=" alt="logo"><img src="cid:logo@shop"><img src="file:///etc/passwd"><img src="/relative.png"></p>
<a href="https://shop.example/deal" rel="opener" target="_self">Deal</a> <a href="mailto:help@shop.example">Mail us</a> <a href="data:text/html,hi">data</a> <a href="/relative">rel</a>"#,
        );
        assert!(html.contains(r#"<img src="data:image/png;base64,iVBORw0KGgo=" alt="logo">"#), "{html}");
        assert!(html.contains(r#"<img src="cid:logo@shop">"#), "{html}");
        assert!(!html.contains("passwd") && !html.contains("relative"), "{html}");
        assert!(
            html.contains(
                r#"<a href="https://shop.example/deal" target="_blank" rel="noopener noreferrer nofollow">Deal</a>"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"href="mailto:help@shop.example""#), "{html}");
        assert!(!html.contains("data:text"), "{html}");
    }

    #[test]
    fn empty_bytes_are_reported_as_unparseable() {
        let parsed = parse(b"");
        assert_eq!(parsed.raw_size, 0);
        assert_eq!(parsed.problems, vec!["the message could not be parsed as email"]);
        assert_eq!(parsed.text_body, None);
    }

    #[test]
    fn random_garbage_does_not_panic_and_is_kept_as_text() {
        // xorshift: reproducible noise without a dependency.
        let mut state = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..3000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            })
            .collect();
        let patterned: Vec<u8> = (0..3000u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for garbage in [noise, patterned] {
            let parsed = parse(&garbage);
            assert_eq!(parsed.raw_size, 3000);
            assert_eq!(parsed.problems.len(), 1, "{:?}", parsed.problems);
            assert!(parsed.text_body.is_some_and(|text| !text.is_empty()));
        }
    }

    #[test]
    fn text_without_headers_is_kept_whole_and_reported() {
        let parsed = parse(b"hello there, this is not an email at all\r\n\r\njust words\r\n");
        assert_eq!(parsed.problems, vec!["no headers could be read"]);
        assert!(parsed.text_body.is_some_and(|text| text.contains("hello there") && text.contains("just words")));
        assert_eq!(parsed.snippet, "hello there, this is not an email at all just words");
    }

    #[test]
    fn a_message_with_headers_only_has_no_body_and_no_problems() {
        let raw = eml("From: a@example.com\nSubject: just headers\nDate: Wed, 1 Jan 2025 00:00:00 +0000\n");
        let parsed = parse(&raw);
        assert_eq!(parsed.subject, "just headers");
        assert_eq!(parsed.sent_at, at(2025, 1, 1, 0, 0, 0));
        assert_eq!(parsed.sanitized_html, None);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    }

    #[test]
    fn a_truncated_multipart_keeps_what_was_read_and_says_it_may_be_cut_off() {
        let raw = eml("\
From: a@example.com
Subject: cut
Content-Type: multipart/alternative; boundary=\"b1\"

--b1
Content-Type: text/plain

The first part arrived whole.
--b1
Content-Type: text/html

<p>The second part was cut off in the mid");
        let parsed = parse(&raw);
        assert!(parsed.text_body.is_some_and(|text| text.contains("The first part arrived whole.")));
        assert!(parsed.problems.iter().any(|p| p.contains("cut off")), "{:?}", parsed.problems);
    }

    #[test]
    fn a_bad_date_header_is_reported_and_left_empty() {
        let parsed = parse(&eml("From: a@example.com\nDate: sometime last week\nSubject: when\n\nHi\n"));
        assert_eq!(parsed.sent_at, None);
        assert_eq!(parsed.problems, vec!["the Date header is not a date"]);
    }

    #[test]
    fn a_very_long_text_body_is_capped_and_the_snippet_is_200_characters() {
        let body = "é lorem ipsum ".repeat(80_000);
        let parsed = parse(&eml(&format!("From: a@example.com\nSubject: long\n\n{body}")));
        assert_eq!(parsed.text_body.map(|t| t.chars().count()), Some(MAX_BODY_CHARS));
        assert_eq!(parsed.snippet.chars().count(), SNIPPET_CHARS);
        assert!(parsed.problems.iter().any(|p| p.contains("text body was cut")));
    }

    #[test]
    fn html_that_grows_past_the_cap_when_cleaned_is_shortened_before_cleaning() {
        let html = format!("<p>{}</p>", "&".repeat(400));
        let mut problems = Vec::new();
        let cleaned = sanitize_html(&html, 1000, &mut problems);
        let length = cleaned.chars().count();
        assert!(length <= 1000 && length > 500, "{length}");
        assert!(cleaned.starts_with("<p>&amp;") && cleaned.ends_with("&amp;</p>"), "{cleaned}");
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn a_blank_text_part_next_to_html_gives_way_to_text_from_the_html() {
        let raw = eml("\
From: promo@shop.example
Subject: Deals
Content-Type: multipart/alternative; boundary=\"x\"

--x
Content-Type: text/plain; charset=utf-8

 
--x
Content-Type: text/html; charset=utf-8

<p>Real deals inside</p>
--x--
");
        let parsed = parse(&raw);
        assert_eq!(parsed.text_body.as_deref(), Some("Real deals inside"));
        assert_eq!(parsed.snippet, "Real deals inside");
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let parsed = parse(&raw);
            prop_assert_eq!(parsed.raw_size, raw.len());
            prop_assert!(parsed.snippet.chars().count() <= SNIPPET_CHARS);
        }

        #[test]
        fn parse_never_panics_on_arbitrary_text_in_subject_and_body(s in ".{0,1000}") {
            let raw = format!("Subject: {s}\r\n\r\n{s}");
            prop_assert_eq!(parse(raw.as_bytes()).raw_size, raw.len());
        }

        #[test]
        fn list_unsubscribe_gives_back_its_urls_however_it_is_folded(
            urls in proptest::collection::vec("(https://[a-z]{1,12}\\.example/[a-zA-Z0-9/?=&%-]{0,40}|mailto:[a-z]{1,10}@[a-z]{1,10}\\.example(\\?subject=[a-z]{1,10})?)", 1..6),
            folds in proptest::collection::vec(prop::sample::select(vec![", ", ",", ",\r\n ", ",\r\n\t", " ,  "]), 6),
        ) {
            let mut value = String::new();
            for (n, url) in urls.iter().enumerate() {
                if n > 0 {
                    value.push_str(folds[n]);
                }
                value.push_str(&format!("<{url}>"));
            }
            let mut expected: Vec<String> = Vec::new();
            for url in &urls {
                if !expected.contains(url) {
                    expected.push(url.clone());
                }
            }
            prop_assert_eq!(parse_list_unsubscribe(&value), expected);
        }

        #[test]
        fn list_unsubscribe_never_panics_and_keeps_only_web_and_mail_urls(value in ".{0,400}") {
            for url in parse_list_unsubscribe(&value) {
                prop_assert!(has_prefix(&url, &["https:", "http:", "mailto:"]));
                prop_assert!(!url.chars().any(char::is_whitespace));
            }
        }
    }
}
