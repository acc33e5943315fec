//! Finds unsubscribe links in an email's body, in any of the languages senders commonly write:
//! an `<a href>` whose text, URL or the words just before it speak of unsubscribing, and in plain
//! text a URL on or just after a line that does. Pure string work; it never panics.

/// At most this many links are kept per email.
const MAX_LINKS: usize = 5;
/// How much text before a link is read for words like "to unsubscribe, click".
const CONTEXT_CHARS: usize = 80;

/// Words (lower-case) that mean "unsubscribe" or "manage subscriptions".
const WORDS: &[&str] = &[
    "unsubscribe",
    "unsub",
    "opt out",
    "opt-out",
    "optout",
    "email preferences",
    "manage preferences",
    "manage subscription",
    "subscription preferences",
    "stop receiving",
    "abmelden",
    "abbestellen",
    "austragen",
    "abmeldung",
    "darse de baja",
    "dar de baja",
    "darte de baja",
    "cancelar suscripción",
    "cancelar la suscripción",
    "anular suscripción",
    "baja de la lista",
    "désinscri",
    "desinscri",
    "désabonner",
    "desabonner",
    "désabonnement",
    "disiscriv",
    "annulla iscrizione",
    "cancella iscrizione",
    "descadastr",
    "cancelar inscrição",
    "cancelar assinatura",
    "afmelden",
    "uitschrijven",
    "avregistrer",
    "avsluta prenumeration",
    "afmeld",
    "odhlásit",
    "wypisz",
    "отписаться",
    "отписки",
    "配信停止",
    "登録解除",
    "退订",
    "取消订阅",
    "구독 취소",
    "수신거부",
    "abonelikten çık",
    "إلغاء الاشتراك",
    "הסרה מרשימת",
];

/// Whether `text` speaks of unsubscribing in one of the known languages.
pub fn mentions_unsubscribe(text: &str) -> bool {
    let lower = text.to_lowercase();
    WORDS.iter().any(|word| lower.contains(word))
}

/// The body's unsubscribe links (http and https only), in order of appearance, without repeats.
pub fn extract(html: Option<&str>, text: Option<&str>) -> Vec<String> {
    let mut links = Vec::new();
    if let Some(html) = html {
        from_html(html, &mut links);
    }
    if let Some(text) = text {
        from_text(text, &mut links);
    }
    links
}

fn push(links: &mut Vec<String>, url: &str) {
    let url = decode_entities(url.trim());
    let lower = url.to_ascii_lowercase();
    if links.len() < MAX_LINKS
        && (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(char::is_whitespace)
        && url::Url::parse(&url).is_ok()
        && !links.contains(&url)
    {
        links.push(url);
    }
}

fn from_html(html: &str, links: &mut Vec<String>) {
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower.get(from..).and_then(|rest| rest.find("<a")) {
        let start = from + found;
        from = start + 2;
        // `<abbr>` and friends are not links.
        if !lower[from..].starts_with(|c: char| c.is_ascii_whitespace()) {
            continue;
        }
        let Some(tag_len) = lower[start..].find('>') else { break };
        let tag = &html[start..start + tag_len];
        let Some(href) = attribute(tag, "href") else { continue };
        let inner_start = start + tag_len + 1;
        let inner_end = lower[inner_start..].find("</a").map_or(lower.len(), |n| inner_start + n);
        let inner = strip_tags(&html[inner_start..inner_end]);
        let context = tail_chars(&strip_tags(&html[..start]), CONTEXT_CHARS);
        if mentions_unsubscribe(&inner) || mentions_unsubscribe(href) || mentions_unsubscribe(&context) {
            push(links, href);
        }
        from = inner_end.max(from);
    }
}

/// The value of `name="..."` (or single-quoted, or bare) in one tag's text.
fn attribute<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower.get(from..).and_then(|rest| rest.find(name)) {
        let at = from + found;
        from = at + name.len();
        let is_word_start = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = lower[from..].trim_start();
        if !is_word_start || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let value = tag[value_start..].trim_start();
        let offset = tag.len() - value.len();
        return match value.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let body = &tag[offset + 1..];
                Some(body.split(quote).next().unwrap_or_default())
            }
            Some(_) => value.split(|c: char| c.is_ascii_whitespace() || c == '>').next(),
            None => None,
        };
    }
    None
}

fn strip_tags(html: &str) -> String {
    let mut text = String::with_capacity(html.len().min(4096));
    let mut is_in_tag = false;
    for c in html.chars() {
        match c {
            '<' => is_in_tag = true,
            '>' => {
                is_in_tag = false;
                text.push(' ');
            }
            _ if !is_in_tag => text.push(c),
            _ => {}
        }
    }
    decode_entities(&text)
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    text.replace("&amp;", "&").replace("&#38;", "&").replace("&quot;", "\"").replace("&nbsp;", " ")
}

fn tail_chars(text: &str, n: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(n)).collect()
}

fn from_text(text: &str, links: &mut Vec<String>) {
    let mut previous = "";
    for line in text.lines() {
        let is_about_unsubscribe = mentions_unsubscribe(line) || mentions_unsubscribe(previous);
        for (at, _) in line.match_indices("http") {
            let candidate: &str = line[at..]
                .split(|c: char| c.is_whitespace() || "<>\"'()[]".contains(c))
                .next()
                .unwrap_or_default()
                .trim_end_matches(['.', ',', ';', ':', '!', '?']);
            if is_about_unsubscribe || mentions_unsubscribe(candidate) {
                push(links, candidate);
            }
        }
        if !line.trim().is_empty() {
            previous = line;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn links_are_found_by_their_words_in_several_languages() {
        let html = r#"<p>Hello</p><a href="https://shop.example/buy">Buy</a>
            <a class=x href='https://shop.example/u?a=1&amp;b=2'>Unsubscribe</a>
            <p>Um sich abzumelden, <a href="https://de.example/x">klicken Sie hier</a></p>
            <a href=https://es.example/baja>Darse de baja</a>
            <A HREF="https://fr.example/optout">ici</A>
            <a href="mailto:u@x.example">unsubscribe by mail</a>"#;
        assert_eq!(
            extract(Some(html), None),
            vec![
                "https://shop.example/u?a=1&b=2",
                "https://de.example/x",
                "https://es.example/baja",
                "https://fr.example/optout"
            ]
        );
    }

    #[test]
    fn text_bodies_give_the_url_on_or_after_the_line_that_mentions_unsubscribing() {
        let text = "Read more at https://shop.example/blog\n\nTo unsubscribe, visit:\nhttps://shop.example/u/9.\n\
                    Abbestellen: https://de.example/a";
        assert_eq!(extract(None, Some(text)), vec!["https://shop.example/u/9", "https://de.example/a"]);
    }

    #[test]
    fn an_abbr_tag_or_a_link_about_something_else_is_not_taken() {
        assert!(
            extract(
                Some("<abbr href='https://x.example/unsubscribe'>x</abbr><a href='https://x.example/'>Shop</a>"),
                None
            )
            .is_empty()
        );
    }

    proptest! {
        #[test]
        fn extraction_never_panics(html in ".{0,600}", text in ".{0,600}") {
            let links = extract(Some(&html), Some(&text));
            prop_assert!(links.len() <= MAX_LINKS);
            for (n, link) in links.iter().enumerate() {
                let lower = link.to_ascii_lowercase();
                prop_assert!(lower.starts_with("https://") || lower.starts_with("http://"), "{}", link);
                prop_assert!(url::Url::parse(link).is_ok() && !link.chars().any(char::is_whitespace), "{}", link);
                prop_assert!(!links[..n].contains(link), "{} twice", link);
            }
        }

        #[test]
        fn a_link_the_agent_must_not_follow_is_never_extracted(
            scheme in prop::sample::select(vec![
                "javascript:", "JavaScript:", " javascript:", "data:text/html,", "vbscript:", "file:///", "ftp://",
                "mailto:", "//", "/", "chrome://", "about:",
            ]),
            rest in "[a-z0-9/.()=]{0,30}",
            word in prop::sample::select(vec!["Unsubscribe", "Abmelden", "Opt out", "配信停止"]),
        ) {
            let href = format!("{scheme}{rest}");
            let html = format!("<p><a href=\"{href}\">{word}</a> <a href='{href}'>{word}</a></p>");
            let text = format!("{word}: {href}");
            prop_assert_eq!(extract(Some(&html), Some(&text)), Vec::<String>::new(), "{}", href);
        }

        #[test]
        fn an_unsubscribe_anchor_is_found_amid_noise(
            before in "[a-zA-Z0-9 <>/=\"]{0,200}",
            path in "[a-z0-9/]{0,30}",
            word in prop::sample::select(vec!["Unsubscribe", "Abmelden", "Darse de baja", "Se désinscrire", "配信停止"]),
        ) {
            // Noise that leaves a tag open would swallow the anchor, as it would in a browser.
            let before = before.replace(['<', '>'], " ");
            let url = format!("https://list.example/{path}");
            let html = format!("{before}<p><a href=\"{url}\">{word}</a></p>");
            prop_assert_eq!(extract(Some(&html), None), vec![url]);
        }
    }
}
