//! What a sorter reads of an email: the body cleaned of quoted replies, signatures, footers and
//! tracking URLs (for the local sorter, the summariser and the LLM prompt alike), and word tokens.

use std::collections::HashSet;
use std::panic::catch_unwind;
use std::sync::LazyLock;

/// The parts of an email a sorter looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailText {
    pub from_name: String,
    pub from_address: String,
    pub list_id: Option<String>,
    pub subject: String,
    pub body: String,
}

/// Width html2text wraps to; wide, so sentences stay on one line.
const HTML_TEXT_WIDTH: usize = 200;
/// A footer marker only ends the body when it sits in this last share of the lines: near the top
/// the same words ("view in browser") are a header line, dropped on its own.
const FOOTER_ZONE: f64 = 0.6;

/// Body cleaned for sorting and for an LLM prompt: quoted replies, signatures, footers and
/// tracking URLs removed, whitespace collapsed (one blank line between paragraphs at most), then
/// capped to `max_chars` characters on a word boundary.
pub fn clean_body(body: &str, max_chars: usize) -> String {
    let text = if looks_like_html(body) { html_to_text(body) } else { body.replace("\r\n", "\n") };
    let lines = without_quotes_and_signature(&text);
    let lines = without_footer(lines);
    let mut cleaned = String::with_capacity(text.len().min(max_chars.saturating_mul(4)) + 16);
    let mut blank_pending = false;
    for line in lines {
        let line = collapse_whitespace(&collapse_urls(line));
        if !line.chars().any(char::is_alphanumeric) {
            // Blank lines and rules ("-----", "* * *") only separate paragraphs.
            blank_pending = !cleaned.is_empty();
            continue;
        }
        if !cleaned.is_empty() {
            cleaned.push_str(if blank_pending { "\n\n" } else { "\n" });
        }
        blank_pending = false;
        cleaned.push_str(&line);
    }
    cap_chars(&cleaned, max_chars)
}

/// Lower-cased word tokens for the classifier: letters and digits (any script), 2 to 30
/// characters, stop words and number-like tokens (order numbers, amounts) dropped.
pub fn tokens(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            if c.is_ascii() {
                current.push(c.to_ascii_lowercase());
            } else {
                current.extend(c.to_lowercase());
            }
        } else if !current.is_empty() {
            if is_kept_token(&current) {
                found.push(std::mem::take(&mut current));
            } else {
                current.clear();
            }
        }
    }
    found
}

/// A light English-first suffix stripper ("orders", "ordered", "ordering" → "order"), so a
/// category description and the emails meet on the same word; other languages mostly lose a plural.
pub fn stem(word: &mut String) {
    let count = word.chars().count();
    if count < 4 || !word.chars().all(char::is_alphabetic) || word == "news" {
        return;
    }
    if word.ends_with("ies") && count >= 5 {
        word.truncate(word.len() - 3);
        word.push('y');
    } else if word.ends_with("sses") {
        word.truncate(word.len() - 2);
    } else if word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") && !word.ends_with("is") {
        word.pop();
    }
    let count = word.chars().count();
    if word.ends_with("ing") && count >= 6 {
        word.truncate(word.len() - 3);
        undouble(word);
    } else if word.ends_with("ed") && count >= 5 {
        word.truncate(word.len() - 2);
        undouble(word);
    } else if word.ends_with('e') && count >= 4 {
        word.pop();
    }
}

/// "shipp" → "ship", "plann" → "plan"; "bill" and "pass" keep their pair.
fn undouble(word: &mut String) {
    let mut tail = word.chars().rev();
    if let (Some(last), Some(before)) = (tail.next(), tail.next())
        && last == before
        && last.is_ascii_alphabetic()
        && !"aeioulsz".contains(last)
    {
        word.pop();
    }
}

fn is_kept_token(token: &str) -> bool {
    let (mut letters, mut digits, mut count) = (0usize, 0usize, 0usize);
    for c in token.chars() {
        count += 1;
        if c.is_numeric() {
            digits += 1;
        } else {
            letters += 1;
        }
    }
    // Mostly-digit tokens are order numbers and amounts: unique per email, noise for a classifier.
    (2..=30).contains(&count) && letters > 0 && digits <= letters && !STOP_WORDS.contains(token)
}

static STOP_WORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    const WORDS: &str = "
        a an the and or but if of to in on at by for with from as is are was were be been being it its
        this that these those there here i me my mine we our ours you your yours he him his she her
        they them their theirs us do does did doing done have has had having not so than then too very
        what which who whom whose when where why how all any both each few more most other some such
        only own same can could will would shall should may might must just also about into over under
        again further once up down out am im ive id youre were dont doesnt didnt isnt wasnt arent cant
        wont don doesn didn isn wasn aren ll ve via per yet still because while during before after
        above below between through until against etc one two
        www http https com org net html htm utm email mail e-mail
        der die das und oder ein eine einen einem einer ist sind zu mit von für auf den dem des im nicht
        sie wir ich es auch wie bei aus nach um sich
        le la les un une des et ou du est sont pour avec dans sur au aux ce cette ces vous nous je il
        elle pas que qui ne se son sa ses leur
        el los las una y o del es son para con en por su sus al lo nos mi
    ";
    WORDS.split_whitespace().collect()
});

fn looks_like_html(body: &str) -> bool {
    let head: String = body.trim_start().chars().take(400).collect::<String>().to_ascii_lowercase();
    head.starts_with('<')
        && ["<html", "<body", "<div", "<p>", "<p ", "<table", "<br", "<!doctype"].iter().any(|tag| head.contains(tag))
}

fn html_to_text(html: &str) -> String {
    // html2text has panicked on odd markup before; a bad message must not stop sorting.
    match catch_unwind(|| html2text::from_read(html.as_bytes(), HTML_TEXT_WIDTH)) {
        Ok(Ok(text)) => text,
        _ => html.to_owned(),
    }
}

/// The lines the sender wrote: stops at the first quoted-reply header, forwarded original or
/// signature separator, and skips "> " lines.
fn without_quotes_and_signature(text: &str) -> Vec<&str> {
    let all: Vec<&str> = text.lines().collect();
    let mut kept = Vec::with_capacity(all.len());
    for (index, line) in all.iter().enumerate() {
        let trimmed = line.trim();
        if line.trim_end() == "--" || is_reply_header(&all, index) || is_original_message(trimmed) {
            break;
        }
        if trimmed.starts_with('>') || is_device_signature(trimmed) {
            continue;
        }
        kept.push(*line);
    }
    kept
}

/// "On Tue, … wrote:" (possibly wrapped onto the next line) and its German, French and Spanish forms;
/// Outlook's "From: … / Sent: …" block.
fn is_reply_header(lines: &[&str], index: usize) -> bool {
    let line = lines[index].trim();
    let next = lines.get(index + 1).map_or("", |l| l.trim());
    let ends_header = |l: &str| {
        let l = l.trim_end_matches(':').trim_end();
        l.ends_with("wrote") || l.ends_with("schrieb") || l.ends_with("a écrit") || l.ends_with("escribió")
    };
    let starts_header = ["On ", "Am ", "Le ", "El "].iter().any(|p| line.starts_with(p));
    if starts_header && line.ends_with(':') && ends_header(line) {
        return true;
    }
    if starts_header && !line.ends_with('.') && next.ends_with(':') && ends_header(next) {
        return true;
    }
    line.starts_with("From:")
        && index > 0
        && lines.iter().skip(index + 1).take(3).any(|l| l.trim_start().starts_with("Sent:"))
}

fn is_original_message(line: &str) -> bool {
    line.starts_with("-----") && line.to_ascii_lowercase().contains("original message")
}

fn is_device_signature(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.starts_with("sent from my ") || lower.starts_with("get outlook for ")
}

/// Drops footer lines: from the first strong footer marker in the last part of the body to the
/// end (with the address or copyright lines around it), and stray marker lines anywhere else.
fn without_footer(lines: Vec<&str>) -> Vec<&str> {
    let zone_start = (lines.len() as f64 * (1.0 - FOOTER_ZONE)).floor() as usize;
    let mut cut = lines.len();
    for (index, line) in lines.iter().enumerate().skip(zone_start) {
        if is_footer_line(line) {
            cut = index;
            break;
        }
    }
    // Short lines right above the footer (a postal address, a company name) belong to it.
    while cut < lines.len() && cut > zone_start {
        let above = lines[cut - 1].trim();
        let is_blank = above.is_empty();
        if !is_blank && !looks_like_address(above) {
            break;
        }
        cut -= 1;
    }
    lines.into_iter().take(cut).filter(|line| !is_footer_line(line)).collect()
}

fn is_footer_line(line: &str) -> bool {
    const MARKERS: &[&str] = &[
        "unsubscribe",
        "you received this",
        "you are receiving this",
        "you're receiving this",
        "you’re receiving this",
        "you're getting this",
        "you’re getting this",
        "you are getting this",
        "view in browser",
        "view in your browser",
        "view this email",
        "view it in your browser",
        "view online",
        "manage your preferences",
        "update your preferences",
        "email preferences",
        "manage preferences",
        "notification settings",
        "opt out",
        "opt-out",
        "no longer wish",
        "this email was sent to",
        "this message was sent to",
        "privacy policy",
        "all rights reserved",
        "copyright ©",
        "©",
        "abmelden",
        "abbestellen",
        "désabonner",
        "désinscrire",
        "darse de baja",
        "cancelar suscripción",
    ];
    let lower = line.to_lowercase();
    MARKERS.iter().any(|marker| lower.contains(marker)) || is_copyright_line(&lower)
}

/// "(c) 2026 Shop Inc." — the bare "(c)" only counts next to a year.
fn is_copyright_line(lower: &str) -> bool {
    lower.find("(c)").is_some_and(|at| lower[at + 3..].trim_start().chars().take(4).all(|c| c.is_ascii_digit()))
}

/// "88 Foundry Lane, Suite 4, Portland, OR 97209": short, with commas and a number.
fn looks_like_address(line: &str) -> bool {
    line.chars().count() <= 90
        && line.matches(',').count() >= 2
        && line.chars().any(|c| c.is_ascii_digit())
        && !line.ends_with('?')
}

/// Every http(s) URL replaced by its host: tracking parameters say nothing about the email, and
/// the host is what a reader (or a model) needs.
fn collapse_urls(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = find_url_start(rest) {
        out.push_str(&rest[..at]);
        let url = &rest[at..];
        let end = url.find(|c: char| c.is_whitespace() || "<>\"')]".contains(c)).unwrap_or(url.len());
        let after_scheme = url.find("://").map_or(0, |s| s + 3);
        let authority = url[after_scheme..end].split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit('@').next().unwrap_or_default().split(':').next().unwrap_or_default();
        let host = host.to_ascii_lowercase();
        out.push_str(host.trim_start_matches("www.").trim_end_matches('.'));
        rest = &url[end..];
    }
    out.push_str(rest);
    out
}

fn find_url_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(offset) = text[from..].find(['h', 'H']) {
        let at = from + offset;
        let tail = &bytes[at..];
        let is_url = |scheme: &[u8]| tail.len() > scheme.len() && tail[..scheme.len()].eq_ignore_ascii_case(scheme);
        if is_url(b"https://") || is_url(b"http://") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn collapse_whitespace(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first `max_chars` characters, cut back to the last word boundary when there is one.
pub fn cap_chars(text: &str, max_chars: usize) -> String {
    let Some((cut, _)) = text.char_indices().nth(max_chars) else {
        return text.trim_end().to_owned();
    };
    let head = &text[..cut];
    let boundary = match text[cut..].chars().next() {
        Some(c) if c.is_whitespace() => cut,
        _ => head.rfind(char::is_whitespace).unwrap_or(cut),
    };
    head[..boundary].trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lower_cased_unicode_words_without_stop_words_or_numbers() {
        let found = tokens("Your ORDER #48213 has shipped: Größe 42, café, año, naïve — and the 2026 q3 BO48213");
        assert_eq!(found, ["order", "shipped", "größe", "café", "año", "naïve", "q3"]);
        assert!(tokens("the and der und le et el y").is_empty());
        assert!(tokens("x").is_empty());
        assert!(tokens(&"a".repeat(31)).is_empty());
    }

    #[test]
    fn stems_meet_on_the_same_word() {
        let stemmed = |w: &str| {
            let mut s = w.to_owned();
            stem(&mut s);
            s
        };
        assert_eq!(stemmed("orders"), stemmed("ordered"));
        assert_eq!(stemmed("shipping"), stemmed("ships"));
        assert_eq!(stemmed("deliveries"), "delivery");
        assert_eq!(stemmed("invoices"), stemmed("invoice"));
        assert_eq!(stemmed("news"), "news");
        assert_eq!(stemmed("q3"), "q3");
    }

    #[test]
    fn quoted_replies_are_dropped() {
        let body = "Sounds good, see you then.\n\nOn Tue, Nov 10, 2026 at 10:12 AM Priya <p@x.example> wrote:\n> Shall we meet?\n> Thursday?";
        assert_eq!(clean_body(body, 1000), "Sounds good, see you then.");
        let wrapped = "Yes.\nOn Tue, Nov 10, 2026 at 10:12 AM Priya Natarajan\n<p@x.example> wrote:\n> Hi";
        assert_eq!(clean_body(wrapped, 1000), "Yes.");
        let outlook = "Fine by me.\n-----Original Message-----\nFrom: Tom\nPlease review.";
        assert_eq!(clean_body(outlook, 1000), "Fine by me.");
        assert_eq!(clean_body("Agreed.\n> earlier text\nThanks", 1000), "Agreed.\nThanks");
    }

    #[test]
    fn signatures_and_footers_are_dropped() {
        let body = "Your parcel is on its way.\n\nThanks,\nThe Shop\n-- \nThe Shop Inc | 1 Main St\nCall us";
        assert_eq!(clean_body(body, 1000), "Your parcel is on its way.\n\nThanks,\nThe Shop");
        let newsletter = "View in your browser: https://news.example/i/1\n\nThis week: three stories.\n\
            Read them all.\nMore text here.\n\nThe Byte Ledger, 88 Foundry Lane, Suite 4, Portland, OR 97209\n\
            You're receiving this because you signed up.\nUnsubscribe: https://news.example/u?x=1";
        assert_eq!(clean_body(newsletter, 1000), "This week: three stories.\nRead them all.\nMore text here.");
        let legal = "Offer ends Sunday.\nShop now.\n© 2026 Glowly Ltd. All rights reserved.";
        assert_eq!(clean_body(legal, 1000), "Offer ends Sunday.\nShop now.");
    }

    #[test]
    fn tracking_urls_collapse_to_their_domain() {
        let body =
            "Track it at https://www.Parcels.example/t/123?utm_source=x&id=9 today (or <http://a.example:8080/x>).";
        assert_eq!(clean_body(body, 1000), "Track it at parcels.example today (or <a.example>).");
    }

    #[test]
    fn the_cap_falls_on_a_word_boundary_and_a_char_boundary() {
        assert_eq!(clean_body("Grüße aus München und Köln", 12), "Grüße aus");
        assert_eq!(clean_body("Grüße", 3), "Grü");
        assert_eq!(clean_body("日本語のテキスト", 4), "日本語の");
        assert_eq!(clean_body("short", 0), "");
        assert_eq!(clean_body("  lots   of\t\tspace  \n\n\n\nhere ", 100), "lots of space\n\nhere");
    }

    #[test]
    fn html_bodies_are_read_as_text() {
        let html =
            "<html><body><p>Your invoice is ready.</p><p><a href=\"https://x.example/i?t=1\">Pay</a></p></body></html>";
        let cleaned = clean_body(html, 1000);
        assert!(cleaned.contains("Your invoice is ready."), "{cleaned}");
        assert!(!cleaned.contains('<'), "{cleaned}");
    }
}
