//! The network guard (FACTS "Network guard", OWASP SSRF): every request the agent makes, the
//! browser's included, goes only to a public address of an http(s) URL, after resolving the name
//! and checking every address it has; the caller then connects to exactly the checked address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::Url;

/// Why a destination is refused. The text is shown to the user as the attempt's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    #[error("only http and https links are followed, not {0}:")]
    Scheme(String),
    #[error("the link has no host")]
    NoHost,
    #[error("{0} is a local or internal name")]
    InternalName(String),
    #[error("{host} resolves to {address}, a {class} address")]
    Address { host: String, address: IpAddr, class: &'static str },
    #[error("{0} is not on the allowed domain list")]
    NotAllowlisted(String),
    #[error("{host} could not be resolved: {reason}")]
    Unresolvable { host: String, reason: String },
}

/// What kind of address an IP is; only `None` (public) may be reached.
pub fn non_public_class(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => Some("this-network"),
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => Some("private"),
        (100, 64..=127, _) => Some("carrier-grade NAT"),
        (127, _, _) => Some("loopback"),
        (169, 254, _) => Some("link-local (cloud metadata)"),
        (192, 0, 0) => Some("IETF protocol assignment"),
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Some("documentation"),
        (192, 88, 99) => Some("6to4 relay (deprecated)"),
        (198, 18..=19, _) => Some("benchmarking"),
        (224..=239, _, _) => Some("multicast"),
        (240..=255, _, _) => Some("reserved"),
        _ => None,
    }
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms reach the
    // embedded IPv4 address, so that address decides.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_class(v4);
    }
    if segments[..6] == [0; 6] {
        return Some("IPv4-compatible");
    }
    // IPv4-translated (::ffff:0:a.b.c.d, SIIT) reaches an IPv4 address too.
    if segments[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return Some("IPv4-translated");
    }
    match segments[0] {
        0xfc00..=0xfdff => Some("unique local (private)"),
        0xfe80..=0xfebf => Some("link-local"),
        0xfec0..=0xfeff => Some("site-local (deprecated)"),
        0xff00..=0xffff => Some("multicast"),
        // NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48) translates to any IPv4 address.
        0x0064 if segments[1] == 0xff9b => Some("NAT64"),
        // 2001:db8::/32 and 3fff::/20 documentation, 2002::/16 6to4 (embeds an IPv4 address),
        // 100::/64 discard.
        0x2001 if segments[1] == 0x0db8 => Some("documentation"),
        0x3fff if segments[1] < 0x1000 => Some("documentation"),
        // 2001::/23, IETF protocol assignments: Teredo (2001::/32, embeds an IPv4 address),
        // benchmarking, ORCHID; no web page an email links to lives there.
        0x2001 if segments[1] < 0x0200 => Some("IETF protocol assignment"),
        0x2002 => Some("6to4"),
        0x0100 if segments[1..4] == [0, 0, 0] => Some("discard"),
        // Only 2000::/3 is allocated as global unicast; nothing public answers elsewhere.
        first if first & 0xe000 != 0x2000 => Some("not global unicast"),
        _ => None,
    }
}

/// The guard's settings.
#[derive(Debug, Clone, Default)]
pub struct GuardSettings {
    /// When not empty, only these domains (and their subdomains, whole labels only) are reached.
    pub allowlist_domains: Vec<String>,
    /// Loopback `ip:port` pairs that tests serve fixture pages on. Empty in production: the
    /// configuration refuses it there, and only literal loopback addresses can be listed.
    pub test_loopback: Vec<SocketAddr>,
    pub resolve_timeout: Duration,
}

/// Checks destinations against the rules. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct NetworkGuard {
    settings: GuardSettings,
}

impl NetworkGuard {
    pub fn new(settings: GuardSettings) -> NetworkGuard {
        NetworkGuard { settings }
    }

    /// Checks an http(s) URL; returns the one address to connect to.
    pub async fn check_url(&self, url: &Url) -> Result<SocketAddr, Blocked> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Blocked::Scheme(url.scheme().to_owned()));
        }
        let port = url.port_or_known_default().ok_or(Blocked::NoHost)?;
        // `Url` has already parsed IP literals with the WHATWG rules (so `0x7f.1` is 127.0.0.1).
        match url.host().ok_or(Blocked::NoHost)? {
            url::Host::Ipv4(ip) => self.check_ip(&ip.to_string(), IpAddr::V4(ip), port),
            url::Host::Ipv6(ip) => self.check_ip(&ip.to_string(), IpAddr::V6(ip), port),
            url::Host::Domain(name) => self.check_host(name, port).await,
        }
    }

    /// Checks a `host` and `port` as a proxy request names them; returns the address to connect to.
    pub async fn check_host(&self, host: &str, port: u16) -> Result<SocketAddr, Blocked> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        // Only the strict parser decides that a host is an IP literal: `0177.0.0.1` is a name to
        // std, and whatever a resolver makes of it is checked below like any other answer.
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.check_ip(host, ip, port);
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() {
            return Err(Blocked::NoHost);
        }
        if is_internal_name(&name) {
            return Err(Blocked::InternalName(name));
        }
        self.check_allowlist(&name)?;
        let unresolvable = |reason: String| Blocked::Unresolvable { host: name.clone(), reason };
        let lookup = tokio::net::lookup_host((name.as_str(), port));
        let addresses: Vec<SocketAddr> =
            tokio::time::timeout(self.settings.resolve_timeout.max(Duration::from_millis(100)), lookup)
                .await
                .map_err(|_| unresolvable("timed out".into()))?
                .map_err(|e| unresolvable(e.to_string()))?
                .collect();
        // Every address must be public: a name with one private answer is refused whole, so a
        // second resolution cannot pick the private one.
        for address in &addresses {
            if let Some(class) = non_public_class(address.ip()) {
                return Err(Blocked::Address { host: name, address: address.ip(), class });
            }
        }
        addresses.first().copied().ok_or_else(|| unresolvable("no addresses".into()))
    }

    /// Whether `url` names one of the loopback pairs tests serve fixtures on.
    pub fn is_test_destination(&self, url: &Url) -> bool {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return false,
        };
        url.port_or_known_default()
            .is_some_and(|port| self.settings.test_loopback.contains(&SocketAddr::new(canonical(ip), port)))
    }

    fn check_ip(&self, host: &str, ip: IpAddr, port: u16) -> Result<SocketAddr, Blocked> {
        let address = SocketAddr::new(canonical(ip), port);
        if self.settings.test_loopback.contains(&address) {
            return Ok(address);
        }
        if let Some(class) = non_public_class(ip) {
            return Err(Blocked::Address { host: host.to_owned(), address: ip, class });
        }
        self.check_allowlist(host)?;
        Ok(address)
    }

    fn check_allowlist(&self, host: &str) -> Result<(), Blocked> {
        let list = &self.settings.allowlist_domains;
        if list.is_empty() || list.iter().any(|domain| is_within(host, domain)) {
            Ok(())
        } else {
            Err(Blocked::NotAllowlisted(host.to_owned()))
        }
    }
}

/// `::ffff:1.2.3.4` is the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn is_internal_name(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name == "metadata.google.internal"
        || name.ends_with(".internal")
        || name.ends_with(".local")
        || !name.contains('.')
}

/// Whole-label domain match: `a.example.com` is within `example.com`, `evilexample.com` is not.
pub fn is_within(host: &str, domain: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim().trim_start_matches('.').trim_end_matches('.').to_ascii_lowercase();
    !domain.is_empty() && (host == domain || host.ends_with(&format!(".{domain}")))
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Option<&'static str> {
        non_public_class(text.parse().expect("an IP address"))
    }

    #[test]
    fn private_and_special_v4_ranges_are_refused() {
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "192.88.99.1",
            "255.255.255.255",
        ] {
            assert!(class(ip).is_some(), "{ip} must be refused");
        }
        for ip in
            ["8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1", "93.184.216.34"]
        {
            assert_eq!(class(ip), None, "{ip} is public");
        }
    }

    #[test]
    fn v6_loopback_private_link_local_multicast_mapped_and_nat64_are_refused() {
        for ip in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "::127.0.0.1",
            "2002:7f00:1::1",
            "::ffff:0:7f00:1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "3fff::1",
            "4000::1",
            "1::1",
        ] {
            assert!(class(ip).is_some(), "{ip} must be refused");
        }
        for ip in ["2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8"] {
            assert_eq!(class(ip), None, "{ip} is public");
        }
    }

    #[test]
    fn octal_hex_and_short_forms_are_not_ip_literals_to_the_strict_parser() {
        for text in ["0177.0.0.1", "0x7f.0.0.1", "2130706433", "127.1", "0x7f000001", "017700000001"] {
            assert!(text.parse::<IpAddr>().is_err(), "{text} is a name to std, so it is resolved and checked");
        }
    }

    #[tokio::test]
    async fn tricky_spellings_of_loopback_are_refused_after_resolving() {
        let guard = NetworkGuard::default();
        for host in [
            "0177.0.0.1",
            "0x7f.0.0.1",
            "2130706433",
            "127.1",
            "localhost",
            "LOCALHOST.",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "metadata.google.internal",
            "intranet",
        ] {
            let result = guard.check_host(host, 80).await;
            assert!(result.is_err(), "{host} must be refused, got {result:?}");
        }
        for url in [
            "http://0x7f.0.0.1/",
            "http://2130706433/",
            "http://[::ffff:7f00:1]/",
            "http://127.0.0.1:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "file:///etc/passwd",
            "ftp://example.com/",
        ] {
            let result = guard.check_url(&Url::parse(url).expect("url")).await;
            assert!(result.is_err(), "{url} must be refused, got {result:?}");
        }
    }

    #[tokio::test]
    async fn only_listed_loopback_pairs_are_let_through_for_tests() {
        let pair: SocketAddr = "127.0.0.1:4567".parse().expect("addr");
        let guard = NetworkGuard::new(GuardSettings { test_loopback: vec![pair], ..Default::default() });
        assert_eq!(guard.check_url(&Url::parse("http://127.0.0.1:4567/x").expect("url")).await, Ok(pair));
        assert!(guard.check_url(&Url::parse("http://127.0.0.1:4568/x").expect("url")).await.is_err());
        assert!(guard.check_url(&Url::parse("http://localhost:4567/x").expect("url")).await.is_err());
    }

    #[test]
    fn the_allowlist_matches_whole_labels() {
        assert!(is_within("example.com", "example.com"));
        assert!(is_within("news.Example.com.", "example.com"));
        assert!(!is_within("evilexample.com", "example.com"));
        assert!(!is_within("example.com.evil.net", "example.com"));
        assert!(!is_within("example.com", ""));
    }

    #[tokio::test]
    async fn a_host_off_the_allowlist_is_refused_before_it_is_resolved() {
        let guard =
            NetworkGuard::new(GuardSettings { allowlist_domains: vec!["example.com".into()], ..Default::default() });
        assert_eq!(
            guard.check_host("evilexample.com", 443).await,
            Err(Blocked::NotAllowlisted("evilexample.com".into()))
        );
        assert_eq!(guard.check_host("93.184.216.34", 443).await, Err(Blocked::NotAllowlisted("93.184.216.34".into())));
    }
}
