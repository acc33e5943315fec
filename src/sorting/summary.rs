//! The local summary: the one or two most informative sentences of the cleaned body, in their
//! original order, or the subject when the body has nothing usable. No model, no network.

use std::collections::HashSet;

use super::text::{cap_chars, clean_body, stem, tokens};

/// How much of a body is read for a summary; the informative part of an email comes early.
const BODY_CHARS: usize = 6000;
/// Sentences past this many are not considered: in long newsletters they are rarely the gist.
const MAX_SENTENCES: usize = 40;
/// A second sentence is kept only when it scores at least this share of the best one.
const SECOND_SENTENCE_SHARE: f64 = 0.6;
/// Wrapped prose lines are at least this long; shorter lines are headings, rows or list items.
const WRAPPED_LINE_CHARS: usize = 45;

/// One or two sentences (at most `max_chars` characters) that say what the email is about, as one
/// plain line; the subject when the body has nothing usable.
pub fn summarize(subject: &str, body: &str, max_chars: usize) -> String {
    let subject_words = stemmed_set(subject);
    let candidates = candidate_sentences(&clean_body(body, BODY_CHARS));
    let scored: Vec<(usize, f64)> =
        candidates.iter().enumerate().map(|(index, s)| (index, score(s, index, &subject_words))).collect();
    let Some(&(best, best_score)) = scored.iter().max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0))) else {
        return fit(&one_line(subject), max_chars);
    };
    let second = scored
        .iter()
        .filter(|(index, score)| {
            *index != best
                && *score >= SECOND_SENTENCE_SHARE * best_score
                && is_complete(&candidates[*index])
                && candidates[best].chars().count() + 2 + candidates[*index].chars().count() <= max_chars
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(index, _)| *index);
    let summary = match second {
        Some(second) if second < best => join(&candidates[second], &candidates[best]),
        Some(second) => join(&candidates[best], &candidates[second]),
        None => candidates[best].clone(),
    };
    fit(&summary, max_chars)
}

/// Two sentences as one line; a heading without a full stop gets one, so they do not run together.
fn join(first: &str, second: &str) -> String {
    let stop = if is_complete(first) { " " } else { ". " };
    format!("{first}{stop}{second}")
}

/// Sentences worth considering, in order: wrapped lines joined, greetings, sign-offs and
/// boilerplate lines dropped, list bullets stripped.
fn candidate_sentences(cleaned: &str) -> Vec<String> {
    let mut sentences = Vec::new();
    for unit in units(cleaned) {
        if is_sign_off(&unit) && !sentences.is_empty() {
            break; // what follows a sign-off is a name or a signature
        }
        if is_boilerplate(&unit) {
            continue;
        }
        for sentence in split_sentences(&unit) {
            let trimmed = sentence.trim_start_matches(['*', '-', '•', '·', '>', '#', ' ']);
            let sentence = without_greeting(trimmed);
            if sentence.split_whitespace().count() >= 3 && has_enough_letters(sentence) {
                // "Hi Ann, dinner is at 7" reads "Dinner is at 7".
                sentences.push(if sentence.len() < trimmed.len() {
                    capitalized(sentence)
                } else {
                    sentence.to_owned()
                });
            }
            if sentences.len() >= MAX_SENTENCES {
                return sentences;
            }
        }
    }
    sentences
}

/// Paragraph lines joined where a long line without closing punctuation wraps onto the next: the
/// wrapped line ends in a lower-case word or a comma, or the next one starts in lower case. (Table
/// rows are long too, but they end in a number and the next row starts with a capital.)
fn units(cleaned: &str) -> Vec<String> {
    let mut units: Vec<String> = Vec::new();
    let mut joining = false;
    for line in cleaned.lines() {
        let line = line.trim();
        if line.is_empty() {
            joining = false;
            continue;
        }
        match units.last_mut() {
            Some(last) if joining && !starts_list_item(line) && (continues(last) || starts_lower(line)) => {
                last.push(' ');
                last.push_str(line);
            }
            _ => units.push(line.to_owned()),
        }
        joining = line.chars().count() >= WRAPPED_LINE_CHARS && !line.ends_with(['.', '!', '?', ':', ';']);
    }
    units
}

fn continues(line: &str) -> bool {
    line.ends_with(',') || line.chars().next_back().is_some_and(char::is_lowercase)
}

fn starts_lower(line: &str) -> bool {
    line.chars().find(|c| c.is_alphanumeric()).is_some_and(char::is_lowercase)
}

fn starts_list_item(line: &str) -> bool {
    line.starts_with(['*', '-', '•', '·'])
        || line
            .split_once(['.', ')'])
            .is_some_and(|(n, _)| !n.is_empty() && n.len() <= 2 && n.chars().all(|c| c.is_ascii_digit()))
}

/// Splits after ".", "!" or "?" when the next word starts a sentence and the word before is not
/// an abbreviation.
fn split_sentences(unit: &str) -> Vec<&str> {
    let mut sentences = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = unit.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && matches!(chars[j].1, '"' | '\'' | ')' | '”' | '’') {
            j += 1;
        }
        let is_break = chars.get(j).is_some_and(|(_, c)| c.is_whitespace())
            && chars
                .get(j + 1)
                .is_some_and(|(_, c)| c.is_uppercase() || c.is_numeric() || matches!(c, '"' | '“' | '('));
        if !is_break || (c == '.' && is_abbreviation(&unit[start..at])) {
            continue;
        }
        let end = chars.get(j).map_or(unit.len(), |(at, _)| *at);
        sentences.push(unit[start..end].trim());
        start = end;
    }
    let rest = unit[start..].trim();
    if !rest.is_empty() {
        sentences.push(rest);
    }
    sentences
}

fn is_abbreviation(before: &str) -> bool {
    const ABBREVIATIONS: &[&str] = &[
        "mr", "mrs", "ms", "dr", "st", "e.g", "i.e", "etc", "vs", "no", "approx", "inc", "ltd", "jr", "sr", "a.m",
        "p.m", "ca", "z.b", "nr",
    ];
    let word = before.rsplit(char::is_whitespace).next().unwrap_or_default().to_lowercase();
    (word.chars().count() == 1 && word.chars().all(char::is_alphabetic)) || ABBREVIATIONS.contains(&word.as_str())
}

const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "greetings",
    "good morning",
    "good afternoon",
    "good evening",
    "hallo",
    "liebe",
    "lieber",
    "guten tag",
    "guten morgen",
    "bonjour",
    "bonsoir",
    "salut",
    "coucou",
    "hola",
    "querida",
    "querido",
    "estimada",
    "estimado",
    "buenos días",
    "buenas",
];

/// "Hi Ann, the boiler…" → "the boiler…"; a sentence that is only a greeting becomes empty.
fn without_greeting(sentence: &str) -> &str {
    let lower = sentence.to_lowercase();
    let Some(greeting) = GREETINGS
        .iter()
        .find(|g| lower.starts_with(*g) && lower[g.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric()))
    else {
        return sentence;
    };
    let Some(end) = sentence.find([',', '!', ':', '.']) else {
        // A greeting without punctuation is only dropped when it is short ("Hi there").
        return if sentence.split_whitespace().count() <= 3 { "" } else { sentence };
    };
    if sentence[..end].split_whitespace().count() > 4 || end < greeting.len() {
        return sentence;
    }
    sentence[end + 1..].trim_start()
}

/// "Thanks,", "Best regards", "Love, Mom", "Cheers!"
fn is_sign_off(unit: &str) -> bool {
    const SIGN_OFFS: &[&str] = &[
        "thanks",
        "thank you",
        "best",
        "regards",
        "kind regards",
        "cheers",
        "sincerely",
        "love",
        "warmly",
        "talk soon",
        "see you",
        "all the best",
        "best wishes",
        "xo",
        "hugs",
        "viele grüße",
        "liebe grüße",
        "grüße",
        "gruß",
        "cordialement",
        "bisous",
        "bises",
        "amitiés",
        "saludos",
        "un abrazo",
        "besos",
        "atentamente",
    ];
    let lower = unit.to_lowercase();
    let lower = lower.trim_end_matches([',', '!', '.', ' ']);
    lower.split_whitespace().count() <= 3
        && SIGN_OFFS
            .iter()
            .any(|s| lower.starts_with(s) && lower[s.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric()))
}

/// Lines that are about the email rather than in it.
fn is_boilerplate(unit: &str) -> bool {
    const MARKERS: &[&str] = &[
        "view in browser",
        "view in your browser",
        "view this email",
        "view online",
        "unsubscribe",
        "privacy policy",
        "terms of service",
        "all rights reserved",
        "intended recipient",
        "do not reply",
        "don't reply",
        "do-not-reply",
        "click here",
        "download the app",
        "get the app",
        "follow us",
        "add us to your address book",
        "trouble viewing",
        "having trouble",
        "manage your",
        "notification settings",
        "sent from my",
    ];
    let lower = unit.to_lowercase();
    MARKERS.iter().any(|m| lower.contains(m))
}

fn has_enough_letters(sentence: &str) -> bool {
    let (mut letters, mut other) = (0usize, 0usize);
    for c in sentence.chars().filter(|c| !c.is_whitespace()) {
        if c.is_alphabetic() {
            letters += 1;
        } else {
            other += 1;
        }
    }
    letters >= 8 && letters >= other
}

/// Informativeness: early, a full sentence of a useful length, sharing words with the subject,
/// carrying numbers, dates or amounts; less for calls to action and housekeeping.
fn score(sentence: &str, index: usize, subject_words: &HashSet<String>) -> f64 {
    let position = 1.0 / (1.0 + 0.25 * index as f64);
    let words = sentence.split_whitespace().count();
    let length = match words {
        0..=3 => 0.3,
        4..=6 => 0.7,
        7..=35 => 1.0,
        _ => 0.6,
    };
    let own = stemmed_set(sentence);
    let shared = own.intersection(subject_words).count() as f64;
    let overlap = if subject_words.is_empty() { 0.0 } else { shared / subject_words.len() as f64 };
    // A line that only restates the subject (often the email's own heading) tells the reader nothing new.
    let restates_subject = if !own.is_empty() && shared / own.len() as f64 >= 0.8 { 0.4 } else { 1.0 };
    let lower = sentence.to_lowercase();
    let mut facts = 0.0;
    if sentence.chars().any(|c| c.is_ascii_digit()) {
        facts += 0.3;
    }
    if sentence.contains(['$', '€', '£', '¥', '%']) || mentions_date(&lower) {
        facts += 0.2;
    }
    let complete = match (is_complete(sentence), sentence.ends_with(|c: char| c.is_ascii_digit())) {
        (true, _) => 1.0,
        // A table row ("Total charged  $12.98") ends in a number.
        (false, true) => 0.4,
        (false, false) => 0.7,
    };
    const HOUSEKEEPING: &[&str] = &[
        "reply to this",
        "questions?",
        "contact us",
        "let us know",
        "help center",
        "visit ",
        "learn more",
        "read more",
        "see the",
        "log in",
        "sign in to",
        "this email",
        "this message",
        "forward",
        "share",
    ];
    let housekeeping = if HOUSEKEEPING.iter().any(|h| lower.contains(h)) { 0.5 } else { 1.0 };
    (0.8 * position + overlap + facts) * length * complete * housekeeping * restates_subject
}

fn is_complete(sentence: &str) -> bool {
    sentence.trim_end_matches(['"', '\'', ')', '”', '’']).ends_with(['.', '!', '?'])
}

fn mentions_date(lower: &str) -> bool {
    const DATE_WORDS: &[&str] = &[
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "today",
        "tomorrow",
        "tonight",
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan ",
        "feb ",
        "mar ",
        "apr ",
        "jun ",
        "jul ",
        "aug ",
        "sep ",
        "oct ",
        "nov ",
        "dec ",
    ];
    DATE_WORDS.iter().any(|d| lower.contains(d))
}

fn stemmed_set(text: &str) -> HashSet<String> {
    tokens(text)
        .into_iter()
        .map(|mut word| {
            stem(&mut word);
            word
        })
        .collect()
}

fn capitalized(sentence: &str) -> String {
    let mut chars = sentence.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max_chars` characters, on a word boundary, with "…" when something was cut.
fn fit(text: &str, max_chars: usize) -> String {
    let text = one_line(text);
    if text.chars().count() <= max_chars {
        return text;
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut cut = cap_chars(&text, max_chars - 1);
    cut.truncate(cut.trim_end_matches([',', ';', ':', '-', ' ']).len());
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_and_footer_are_dropped() {
        let body = "Hi Ann,\n\nThe boiler service is booked for Tuesday 14 November between 9 and 11am.\n\
            Please leave the side gate unlocked.\n\nThanks,\nMark\n\n\
            You received this because you are a tenant.\nUnsubscribe: https://x.example/u";
        let summary = summarize("Boiler service on Tuesday", body, 240);
        assert!(summary.starts_with("The boiler service is booked for Tuesday"), "{summary}");
        assert!(
            !summary.contains("Hi Ann") && !summary.contains("Unsubscribe") && !summary.contains("Mark"),
            "{summary}"
        );
    }

    #[test]
    fn an_inline_greeting_is_stripped() {
        let summary = summarize("Dinner", "Hi Ann, dinner is at 7pm on Saturday at our place.", 240);
        assert_eq!(summary, "Dinner is at 7pm on Saturday at our place.");
    }

    #[test]
    fn at_most_two_sentences_in_their_original_order_within_the_limit() {
        let body = "View in your browser: https://news.example/212\n\nGood morning! This week we tested 12 budget \
            laptops for battery life. The winner lasted 14 hours on a single charge. We also cover tablets. \
            Next week: phones. Some other filler sentence goes here.";
        let summary = summarize("Budget laptops: battery life tested", body, 240);
        assert!(summary.chars().count() <= 240);
        assert!(!summary.contains('\n'));
        assert!(summary.starts_with("This week we tested 12 budget laptops for battery life."), "{summary}");
        let sentences = summary.matches(['.', '!', '?']).count();
        assert!((1..=2).contains(&sentences), "{summary}");
        assert!(!summary.contains("View in"), "{summary}");
    }

    #[test]
    fn the_subject_stands_in_for_an_empty_body() {
        assert_eq!(summarize("  Your   statement is ready ", "", 240), "Your statement is ready");
        let footer_only = "Unsubscribe: https://x.example/u\n© 2026 Shop Inc. All rights reserved.";
        assert_eq!(summarize("Weekly deals", footer_only, 240), "Weekly deals");
        assert_eq!(summarize("A long subject line here", "ok", 10), "A long…");
    }

    #[test]
    fn long_sentences_are_cut_on_a_word_boundary() {
        let body = format!("Your order of {} has shipped and will arrive on Monday.", "very ".repeat(80));
        let summary = summarize("Shipped", &body, 60);
        assert!(summary.chars().count() <= 60, "{summary}");
        assert!(summary.ends_with('…') && summary.starts_with("Your order of very"), "{summary}");
    }

    #[test]
    fn abbreviations_do_not_end_a_sentence() {
        assert_eq!(
            split_sentences("Meet Dr. Lee at 3 p.m. Tuesday. Bring e.g. the slides."),
            ["Meet Dr. Lee at 3 p.m. Tuesday.", "Bring e.g. the slides."]
        );
    }
}
