//! Which hosts a user-supplied URL may make Lode fetch from (SSRF).
//!
//! `POST /api/documents/from-url` makes Lode's own network position fetch
//! a URL chosen by a caller. Loopback, private, link-local (cloud metadata
//! at 169.254.169.254), carrier-grade NAT, unspecified, multicast and
//! reserved addresses, and names that only mean something inside a network
//! (`localhost`, `*.local`, `*.internal`), are refused unless the operator
//! allows private targets. A public name that resolves to a private address
//! is not caught here (the guest cannot resolve names); the manifest's
//! `allowed_outbound_hosts` is the outer fence (see SECURITY.md).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Host;

/// Why a host was refused, for the error message; `None` if it is public.
pub fn private_host(host: &Host<&str>) -> Option<&'static str> {
    match host {
        Host::Domain(name) => private_name(name),
        Host::Ipv4(ip) => private_v4(*ip),
        Host::Ipv6(ip) => private_v6(*ip),
    }
}

fn private_name(name: &str) -> Option<&'static str> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    // A name that is really an address ("127.1", "0x7f.1") is parsed as one.
    if let Ok(ip) = name.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(v4) => private_v4(v4),
            IpAddr::V6(v6) => private_v6(v6),
        };
    }
    // A single label (`metadata`, `instance-data`, `intranet`) is resolved
    // through the network's search domains: only ever an inside name.
    let local = name == "localhost"
        || !name.contains('.')
        || [
            ".localhost",
            ".local",
            ".internal",
            ".localdomain",
            ".home.arpa",
            ".lan",
        ]
        .iter()
        .any(|suffix| name.ends_with(suffix));
    local.then_some("a name that only resolves inside a network")
}

fn private_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address (cloud metadata lives there)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address")
    } else if a == 0 || ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("a reserved address")
    } else {
        None
    }
}

fn private_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return private_v4(v4);
    }
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("a reserved address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else {
        None
    }
}

/// The IPv4 address an IPv6 one carries and reaches: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated but still
/// routed by some stacks), NAT64 (`64:ff9b::/96`, RFC 6052, and the
/// local-use `64:ff9b:1::/48`, RFC 8215) and 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] => Some(low),
        [0, 0, 0, 0, 0, 0, ..] if !ip.is_loopback() && !ip.is_unspecified() => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(low),
        [0x64, 0xff9b, 1, ..] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(url: &str) -> Option<&'static str> {
        let u = url::Url::parse(url).unwrap();
        private_host(&u.host().unwrap())
    }

    #[test]
    fn internal_targets_are_refused_and_public_ones_pass() {
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://localhost:8080/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://printer.local/",
            "http://metadata.google.internal/",
            "http://10.0.0.5/",
            "http://172.16.3.4/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://255.255.255.255/",
            "http://224.0.0.1/",
            "http://[::1]/",
            "http://[::]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::127.0.0.1]/",
            "http://[::169.254.169.254]/",
            "http://[64:ff9b::10.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[64:ff9b:1::192.168.0.1]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://metadata/computeMetadata/v1/",
            "http://instance-data/latest/",
            "http://intranet./",
            "http://router.lan/",
        ] {
            assert!(host_of(url).is_some(), "{url} must be refused");
        }
        for url in [
            "https://example.com/",
            "https://arxiv.org/pdf/1706.03762",
            "http://93.184.216.34/",
            "http://[2606:2800:220:1::]/",
            "https://localhost.example.com/",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "http://[64:ff9b::93.184.216.34]/",
            "http://[2002:5db8:d822::1]/",
        ] {
            assert_eq!(host_of(url), None, "{url} is public");
        }
    }
}
