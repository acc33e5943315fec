//! Properties of the HTML sanitizer over arbitrary and adversarial markup: no script-capable
//! element, no event handler, no script or data URL in a link, no remote fetch from `src`, `srcset`
//! or a style, and no panic. `PROPTEST_CASES` sets how many inputs each property tries.

use proptest::prelude::*;

use super::sanitize_html;

const TAGS: &[&str] = &[
    "script",
    "svg",
    "img",
    "a",
    "style",
    "iframe",
    "form",
    "input",
    "meta",
    "link",
    "object",
    "embed",
    "math",
    "template",
    "noscript",
    "base",
    "div",
    "p",
    "table",
    "td",
    "font",
    "video",
    "audio",
    "source",
    "body",
    "image",
    "use",
    "button",
    "textarea",
    "select",
    "frameset",
    "applet",
    "marquee",
    "isindex",
    "xmp",
    "plaintext",
];
const ATTRIBUTES: &[&str] = &[
    "onload",
    "onerror",
    "onclick",
    "OnMouseOver",
    "onfocus",
    "src",
    "href",
    "srcset",
    "style",
    "background",
    "poster",
    "action",
    "formaction",
    "xlink:href",
    "data",
    "lowsrc",
    "dynsrc",
    "http-equiv",
    "content",
    "title",
    "alt",
    "width",
    "target",
    "rel",
    "bgcolor",
    "ping",
    "manifest",
];
const VALUES: &[&str] = &[
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    " \u{1}javascript:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;avascript:alert(1)",
    "vbscript:msgbox(1)",
    "https://evil.example/x.gif",
    "http://evil.example/x.gif",
    "//evil.example/x.gif",
    "/relative/x.gif",
    "data:text/html,<script>alert(1)</script>",
    "data:image/png;base64,iVBORw0KGgo=",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "cid:logo@shop",
    "mailto:a@b.example",
    "https://evil.example/a.png 1x, https://evil.example/b.png 2x",
    "background:url(https://evil.example/bg.png)",
    "background: URL( '//evil.example/bg.png' )",
    "b\\61 ckground: u\\72 l(https://evil.example/)",
    "background-image: image-set('https://evil.example/x.png' 1x)",
    "@import 'https://evil.example/x.css'",
    "width: expression(alert(1))",
    "behavior: url(x.htc)",
    "-moz-binding: url(x.xml#xss)",
    "color: red",
    "0;url=https://evil.example/",
    "refresh",
    "alert(1)",
    "\"><script>alert(1)</script>",
    "'><img src=x onerror=alert(1)>",
];
const TEXTS: &[&str] = &[
    "Hello",
    "<!-- <script>alert(1)</script> -->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "</",
    "<",
    ">",
    "&lt;script&gt;",
    "&",
    "\u{0}",
    "<scr<script>ipt>alert(1)</script>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<style>@import url(https://evil.example/x.css); body { background: url(https://evil.example/x) }</style>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<svg onload=alert(1)>",
    "<img src=x onerror=alert(1)//",
];

/// One piece of hostile markup.
fn fragment() -> impl Strategy<Value = String> {
    let attribute = (prop::sample::select(ATTRIBUTES), prop::sample::select(VALUES), 0..3usize).prop_map(
        |(name, value, quoting)| match quoting {
            0 => format!(" {name}=\"{value}\""),
            1 => format!(" {name}='{value}'"),
            _ => format!(" {name}={}", value.replace(' ', "")),
        },
    );
    prop_oneof![
        (prop::sample::select(TAGS), prop::collection::vec(attribute, 0..4), any::<bool>()).prop_map(
            |(tag, attributes, closes)| {
                let open = format!("<{tag}{}>", attributes.concat());
                if closes { format!("{open}x</{tag}>") } else { open }
            }
        ),
        prop::sample::select(TEXTS).prop_map(str::to_owned),
        "[a-zA-Z <>=\"'/&;:()]{0,20}",
    ]
}

fn hostile_html() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.concat())
}

/// Every tag of the sanitizer's output: its name and attributes (name, value) in document order.
/// The output is html5ever's serialization: `<name a="v">` with `"` in values escaped, and every
/// `<` of text escaped, so a `<` always starts a tag.
fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        if rest.starts_with('/') {
            continue;
        }
        let name: String = rest.chars().take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/').collect();
        rest = &rest[name.len()..];
        let mut attributes = Vec::new();
        loop {
            rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('>') || rest.starts_with("/>") {
                break;
            }
            let attribute: String = rest.chars().take_while(|c| *c != '=' && *c != '>' && !c.is_whitespace()).collect();
            rest = &rest[attribute.len()..];
            let mut value = String::new();
            if let Some(quoted) = rest.strip_prefix("=\"") {
                let end = quoted.find('"').unwrap_or(quoted.len());
                value = quoted[..end].replace("&amp;", "&").replace("&quot;", "\"");
                rest = quoted.get(end + 1..).unwrap_or("");
            }
            attributes.push((attribute.to_ascii_lowercase(), value));
        }
        found.push((name.to_ascii_lowercase(), attributes));
    }
    found
}

fn starts_with_any(value: &str, prefixes: &[&str]) -> bool {
    let value = value.trim_start().to_ascii_lowercase();
    prefixes.iter().any(|p| value.starts_with(p))
}

/// Checks one output against every rule; the first broken rule, in words.
fn broken_rule(output: &str) -> Option<String> {
    const ALLOWED_TAGS: &[&str] = &[
        "p",
        "br",
        "div",
        "span",
        "a",
        "b",
        "i",
        "strong",
        "em",
        "u",
        "s",
        "strike",
        "small",
        "sub",
        "sup",
        "ul",
        "ol",
        "li",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "caption",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "code",
        "img",
        "hr",
        "font",
        "center",
    ];
    for (tag, attributes) in tags(output) {
        if !ALLOWED_TAGS.contains(&tag.as_str()) {
            return Some(format!("a <{tag}> element"));
        }
        for (name, value) in attributes {
            let compact: String = value.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect();
            let bad = match name.as_str() {
                n if n.starts_with("on") => true,
                "href" => !starts_with_any(&value, &["http:", "https:", "mailto:"]),
                "src" => !starts_with_any(&value, &["data:image/", "cid:"]) || tag != "img",
                "data-remote-src" => tag != "img" || !starts_with_any(&value, &["http:", "https:"]),
                "style" => ["url(", "image-set(", "expression(", "@import", "behavior:", "binding:", "\\"]
                    .iter()
                    .any(|needle| compact.contains(needle)),
                "srcset" | "background" | "poster" | "action" | "formaction" | "xlink:href" | "data" | "lowsrc"
                | "dynsrc" | "http-equiv" | "ping" | "manifest" => true,
                // The rest (title, alt, width, color…) are text to a browser, never a URL.
                _ => false,
            };
            if bad {
                return Some(format!("<{tag} {name}=\"{value}\">"));
            }
        }
    }
    None
}

#[test]
fn the_rule_checker_catches_what_it_looks_for() {
    // The properties below are only as good as this checker: it must flag each kind of escape.
    for unsafe_output in [
        "<script>alert(1)</script>",
        "<p onclick=\"x\">a</p>",
        "<a href=\"javascript:alert(1)\">a</a>",
        "<a href=\" JAVASCRIPT:alert(1)\">a</a>",
        "<img src=\"https://evil.example/x.gif\">",
        "<img srcset=\"https://evil.example/x.gif 2x\">",
        "<div style=\"background: URL(https://evil.example)\">a</div>",
        "<svg></svg>",
        "<td background=\"https://evil.example/x.png\">a</td>",
    ] {
        assert!(broken_rule(unsafe_output).is_some(), "{unsafe_output} passed the checker");
    }
    let safe = "<p style=\"color: red\" title=\"a onload=b\">x &lt;script&gt;</p><img data-remote-src=\"https://a.example/x.gif\" alt=\"\">";
    assert_eq!(broken_rule(safe), None);
}

proptest! {
    #[test]
    fn hostile_markup_comes_out_inert(html in hostile_html(), max_chars in 50usize..5_000) {
        let mut problems = Vec::new();
        let output = sanitize_html(&html, max_chars, &mut problems);
        prop_assert!(output.chars().count() <= max_chars);
        if let Some(rule) = broken_rule(&output) {
            prop_assert!(false, "{} survived: {}\nfrom: {}", rule, output, html);
        }
    }

    #[test]
    fn arbitrary_text_never_panics_and_comes_out_inert(html in "\\PC{0,600}") {
        let mut problems = Vec::new();
        let output = sanitize_html(&html, 100_000, &mut problems);
        prop_assert_eq!(broken_rule(&output), None, "from {:?}", html);
    }

    #[test]
    fn a_whole_message_with_hostile_html_stores_inert_html(html in hostile_html()) {
        let raw = format!("Subject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}");
        let parsed = super::parse(raw.as_bytes());
        let stored = parsed.sanitized_html.unwrap_or_default();
        prop_assert_eq!(broken_rule(&stored), None, "from {:?}", html);
    }
}
