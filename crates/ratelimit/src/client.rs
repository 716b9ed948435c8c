//! Who the caller is, for per-address budgets, when Lode sits behind a
//! proxy: `X-Forwarded-For` and `Forwarded` are believed only from peers in
//! the operator's `trusted_proxies`, and IPv6 callers are bucketed by /64
//! (one subscriber usually holds a whole /64, so per-address buckets would
//! be free to multiply).

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parse a comma-separated list of CIDRs (`10.0.0.0/8, fd00::/8`; a bare
    /// address is its own /32 or /128). Empty trusts no one.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("trusted_proxies: {s:?} is not a CIDR or an address"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The bucket key of the caller: `peer` is the connection's address
    /// (Spin's `spin-client-addr`, `ip:port`); the headers are believed,
    /// right to left, only while each hop is a trusted proxy.
    pub fn client(
        &self,
        peer: &str,
        forwarded_for: Option<&str>,
        forwarded: Option<&str>,
    ) -> String {
        let Some(mut client) = parse_ip(peer) else {
            return "unknown".into();
        };
        if self.trusts(client) {
            let mut hops: Vec<IpAddr> = Vec::new();
            if let Some(f) = forwarded {
                hops.extend(forwarded_for_entries(f).filter_map(parse_ip));
            } else if let Some(x) = forwarded_for {
                hops.extend(x.split(',').filter_map(|h| parse_ip(h.trim())));
            }
            for hop in hops.into_iter().rev() {
                client = hop;
                if !self.trusts(hop) {
                    break;
                }
            }
        }
        bucket(client)
    }
}

/// The `for=` values of a `Forwarded` header (RFC 7239), in order.
fn forwarded_for_entries(header: &str) -> impl Iterator<Item = &str> {
    header
        .split(',')
        .flat_map(|element| element.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("for")
                .then(|| v.trim().trim_matches('"'))
        })
}

/// An address as `1.2.3.4`, `1.2.3.4:5`, `::1`, `[::1]` or `[::1]:5`.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| s.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// IPv4 as itself; IPv6 by its /64 (IPv4-mapped ones as IPv4).
fn bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client("10.0.0.2:5000", Some("203.0.113.7"), None),
            "10.0.0.2"
        );
        let lb = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1").unwrap();
        assert_eq!(
            lb.client("10.0.0.2:5000", Some("203.0.113.7"), None),
            "203.0.113.7"
        );
        // A client cannot pick its bucket by prepending addresses: the
        // right-most untrusted hop counts.
        assert_eq!(
            lb.client(
                "10.0.0.2:5000",
                Some("1.1.1.1, 203.0.113.7, 10.9.9.9"),
                None
            ),
            "203.0.113.7"
        );
        // Headers from an untrusted peer are ignored.
        assert_eq!(
            lb.client("198.51.100.4:1", Some("203.0.113.7"), None),
            "198.51.100.4"
        );
        assert_eq!(
            lb.client(
                "192.168.1.1:80",
                None,
                Some(r#"for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711""#)
            ),
            "2001:db8:cafe::/64"
        );
        assert_eq!(lb.client("nonsense", None, None), "unknown");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn ipv6_callers_share_their_64() {
        let none = TrustedProxies::default();
        let a = none.client("[2001:db8:1:2::1]:5000", None, None);
        let b = none.client("[2001:db8:1:2:ffff::9]:5000", None, None);
        let c = none.client("[2001:db8:1:3::1]:5000", None, None);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            none.client("[::ffff:203.0.113.9]:1", None, None),
            "203.0.113.9"
        );
    }
}
