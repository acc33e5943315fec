//! Properties of the guard's address checks, against a table of the IANA special-purpose ranges kept
//! here apart from the code: every IPv4 address is refused exactly when the table says so, every IPv6
//! form that reaches an IPv4 address follows (or is refused outright), every address in a refused
//! IPv6 range is refused, and random global unicast addresses are allowed. `PROPTEST_CASES` sets how
//! many addresses each property tries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::{GuardSettings, NetworkGuard, non_public_class};

/// IPv4 ranges that are not public hosts: (network, prefix length).
const V4_REFUSED: &[([u8; 4], u32)] = &[
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 24),
    ([192, 0, 2, 0], 24),
    ([192, 88, 99, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    ([224, 0, 0, 0], 4),
    ([240, 0, 0, 0], 4),
];

/// IPv6 ranges refused whatever follows the prefix: (network, prefix length).
const V6_REFUSED: &[(u128, u32)] = &[
    (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96),
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48),
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64),
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23),
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32),
    (0x2002_0000_0000_0000_0000_0000_0000_0000, 16),
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20),
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7),
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10),
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10),
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8),
];

fn in_v4_range(ip: u32, (network, prefix): ([u8; 4], u32)) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    ip & mask == u32::from_be_bytes(network) & mask
}

fn is_v4_refused(ip: u32) -> bool {
    V4_REFUSED.iter().any(|range| in_v4_range(ip, *range))
}

fn in_v6_range(ip: u128, (network, prefix): (u128, u32)) -> bool {
    let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
    ip & mask == network & mask
}

fn v6(bits: u128) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(bits))
}

/// An address inside one of `V4_REFUSED`, host bits random.
fn refused_v4() -> impl Strategy<Value = u32> {
    (prop::sample::select(V4_REFUSED), any::<u32>()).prop_map(|((network, prefix), host)| {
        let mask = u32::MAX << (32 - prefix);
        (u32::from_be_bytes(network) & mask) | (host & !mask)
    })
}

/// Global unicast (2000::/3) outside every refused range.
fn public_v6() -> impl Strategy<Value = u128> {
    any::<u128>()
        .prop_map(|bits| (bits & (u128::MAX >> 3)) | (0b001 << 125))
        .prop_filter("a refused range", |bits| !V6_REFUSED.iter().any(|range| in_v6_range(*bits, *range)))
}

/// The guard's answer for a URL naming `ip` literally, as the agent checks every link.
fn url_is_refused(ip: IpAddr) -> bool {
    let host = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    let url = url::Url::parse(&format!("https://{host}/unsubscribe")).expect("an IP URL parses");
    let guard = NetworkGuard::new(GuardSettings::default());
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    runtime.block_on(guard.check_url(&url)).is_err()
}

#[test]
fn the_reference_table_agrees_with_the_known_examples() {
    // The table is the oracle below; it must itself say what the standards say.
    for (ip, refused) in [
        ("127.0.0.1", true),
        ("169.254.169.254", true),
        ("100.64.0.1", true),
        ("192.88.99.1", true),
        ("8.8.8.8", false),
        ("100.128.0.1", false),
        ("172.32.0.1", false),
    ] {
        let ip: Ipv4Addr = ip.parse().expect("ip");
        assert_eq!(is_v4_refused(u32::from(ip)), refused, "{ip}");
    }
    assert!(in_v6_range(u128::from("2001:0:4136::1".parse::<Ipv6Addr>().expect("ip")), V6_REFUSED[3]));
    assert!(!in_v6_range(u128::from("2001:4860::8888".parse::<Ipv6Addr>().expect("ip")), V6_REFUSED[3]));
}

proptest! {
    #[test]
    fn an_ipv4_address_is_refused_exactly_when_the_table_says_so(bits in any::<u32>()) {
        let ip = Ipv4Addr::from(bits);
        prop_assert_eq!(non_public_class(IpAddr::V4(ip)).is_some(), is_v4_refused(bits), "{}", ip);
    }

    #[test]
    fn every_address_of_a_refused_ipv4_range_is_refused_in_every_spelling(bits in refused_v4()) {
        let ip = Ipv4Addr::from(bits);
        prop_assert!(non_public_class(IpAddr::V4(ip)).is_some(), "{}", ip);
        prop_assert!(non_public_class(IpAddr::V6(ip.to_ipv6_mapped())).is_some(), "{}", ip.to_ipv6_mapped());
        prop_assert!(url_is_refused(IpAddr::V4(ip)), "https://{}/", ip);
        prop_assert!(url_is_refused(IpAddr::V6(ip.to_ipv6_mapped())), "https://[{}]/", ip.to_ipv6_mapped());
    }

    #[test]
    fn ipv6_forms_that_reach_an_ipv4_address_follow_it_or_are_refused(bits in any::<u32>()) {
        let embedded = u128::from(bits);
        let mapped = v6(0xffff_0000_0000 | embedded);
        prop_assert_eq!(non_public_class(mapped).is_some(), is_v4_refused(bits), "{}", mapped);
        for (form, ip) in [
            ("IPv4-compatible", v6(embedded)),
            ("IPv4-translated", v6(0xffff_0000_0000_0000 | embedded)),
            ("NAT64", v6(0x0064_ff9b_0000_0000_0000_0000_0000_0000 | embedded)),
            ("local NAT64", v6(0x0064_ff9b_0001_0000_0000_0000_0000_0000 | embedded)),
            ("6to4", v6(0x2002_0000_0000_0000_0000_0000_0000_0000 | (embedded << 80))),
            ("Teredo", v6(0x2001_0000_0000_0000_0000_0000_0000_0000 | (u128::from(!bits)))),
        ] {
            prop_assert!(non_public_class(ip).is_some(), "{} {} must be refused", form, ip);
        }
    }

    #[test]
    fn every_address_of_a_refused_ipv6_range_is_refused(range in prop::sample::select(V6_REFUSED), host in any::<u128>()) {
        let (network, prefix) = range;
        let mask = u128::MAX << (128 - prefix);
        let ip = v6((network & mask) | (host & !mask));
        prop_assert!(non_public_class(ip).is_some(), "{}", ip);
        prop_assert!(url_is_refused(ip), "https://[{}]/", ip);
    }

    #[test]
    fn ipv6_outside_global_unicast_is_refused_unless_it_maps_a_public_ipv4(random in any::<u128>()) {
        // Out of 2000::/3 by flipping the top bit (001… becomes 101…), so no case is thrown away.
        let bits = if random >> 125 == 0b001 { random ^ (1 << 127) } else { random };
        let ip = Ipv6Addr::from(bits);
        let expected = match ip.to_ipv4_mapped() {
            Some(v4) => is_v4_refused(u32::from(v4)),
            None => true,
        };
        prop_assert_eq!(non_public_class(IpAddr::V6(ip)).is_some(), expected, "{}", ip);
    }

    #[test]
    fn a_random_public_address_is_allowed(v4 in any::<u32>().prop_filter("refused", |b| !is_v4_refused(*b)), v6_bits in public_v6()) {
        let v4 = IpAddr::V4(Ipv4Addr::from(v4));
        prop_assert_eq!(non_public_class(v4), None, "{}", v4);
        prop_assert!(!url_is_refused(v4), "https://{}/", v4);
        let v6 = v6(v6_bits);
        prop_assert_eq!(non_public_class(v6), None, "{}", v6);
        prop_assert!(!url_is_refused(v6), "https://[{}]/", v6);
    }
}
