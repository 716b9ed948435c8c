//! `allowed_outbound_hosts`: which destinations a component may reach.
//!
//! Grammar from Spin's crates/outbound-networking-config/src/allowed_hosts.rs
//! (https://spinframework.dev/v4/http-outbound): `scheme://host[:port]`, where
//! the scheme may be `*`, the host `*` or `*.domain`, the port `*`, a number or
//! a half-open range `a..b`; an omitted port means the scheme's well-known port.
//! A destination not matched by any entry is refused.

use anyhow::{Result, bail};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Any,
    Suffix(String),
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Port {
    Any,
    Range(u16, u16),
}

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: Host,
    port: Port,
}

/// The well-known port of a scheme, used when an entry or URL has none.
pub fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" => 80,
        "https" => 443,
        "redis" => 6379,
        "postgres" => 5432,
        "mysql" => 3306,
        "mqtt" => 1883,
        _ => return None,
    })
}

impl AllowedHost {
    /// Parse one entry, with Spin's error messages for the common mistakes.
    pub fn parse(entry: &str) -> Result<AllowedHost> {
        if entry == "*" {
            bail!(
                "{entry:?} is not an allowed outbound host; to allow every destination use '*://*:*'"
            );
        }
        let Some((scheme, rest)) = entry.split_once("://") else {
            bail!("{entry:?} does not contain a scheme (e.g., 'http://' or '*://')");
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            bail!("{entry:?} has a path; allowed outbound hosts are scheme://host[:port]");
        }
        let scheme = match scheme {
            "*" => None,
            s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(s.to_ascii_lowercase())
            }
            _ => bail!("{entry:?} has an invalid scheme"),
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (h, Some(p)),
            _ => (rest, None),
        };
        let host = match host {
            "*" => Host::Any,
            h if h.starts_with("*.") => Host::Suffix(h[1..].to_ascii_lowercase()),
            h if h.contains('*') => bail!("{entry:?}: '*' may only stand alone or as '*.domain'"),
            "" => bail!("{entry:?} has no host"),
            h => Host::Exact(
                h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase(),
            ),
        };
        let port = match port {
            Some("*") => Port::Any,
            Some(p) => match p.split_once("..") {
                Some((a, b)) => Port::Range(a.parse()?, b.parse::<u16>()?.saturating_sub(1)),
                None => {
                    let n: u16 = p
                        .parse()
                        .map_err(|_| anyhow::anyhow!("{entry:?}: invalid port {p:?}"))?;
                    Port::Range(n, n)
                }
            },
            None => match scheme.as_deref().and_then(default_port) {
                Some(n) => Port::Range(n, n),
                None => bail!(
                    "{entry:?}: no port was provided and the scheme does not have a known default port number"
                ),
            },
        };
        Ok(AllowedHost { scheme, host, port })
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme_ok = self.scheme.as_deref().is_none_or(|s| s == scheme);
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let host_ok = match &self.host {
            Host::Any => true,
            Host::Suffix(suffix) => host.ends_with(suffix.as_str()),
            Host::Exact(h) => *h == host,
        };
        let port_ok = match self.port {
            Port::Any => true,
            Port::Range(a, b) => (a..=b).contains(&port),
        };
        scheme_ok && host_ok && port_ok
    }
}

/// A component's whole allow-list.
#[derive(Debug, Clone, Default)]
pub struct AllowList(Vec<AllowedHost>);

impl AllowList {
    /// Parse every entry; one bad entry fails start-up.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<AllowList> {
        entries
            .into_iter()
            .map(AllowedHost::parse)
            .collect::<Result<_>>()
            .map(AllowList)
    }

    /// Whether `url` (absolute, with scheme and host) may be reached.
    pub fn allows_url(&self, url: &str) -> bool {
        let Ok(u) = url::Url::parse(url) else {
            return false;
        };
        let Some(host) = u.host_str() else {
            return false;
        };
        let Some(port) = u
            .port_or_known_default()
            .or_else(|| default_port(u.scheme()))
        else {
            return false;
        };
        self.allows(u.scheme(), host, port)
    }

    /// Whether `scheme://host:port` may be reached.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.0.iter().any(|h| h.allows(scheme, host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        AllowList::parse(entries.iter().copied()).unwrap()
    }

    #[test]
    fn matching() {
        let l = list(&[
            "https://api.example.com",
            "http://localhost:3000",
            "https://*.openai.com",
            "redis://127.0.0.1:*",
        ]);
        assert!(l.allows_url("https://api.example.com/v1"));
        assert!(l.allows_url("https://api.example.com:443/"));
        assert!(!l.allows_url("https://api.example.com:8443/"));
        assert!(!l.allows_url("http://api.example.com/"));
        assert!(l.allows_url("http://localhost:3000/x"));
        assert!(!l.allows_url("http://localhost:3001/x"));
        assert!(l.allows_url("https://a.b.openai.com/"));
        assert!(!l.allows_url("https://openai.com/"));
        assert!(!l.allows_url("https://myopenai.com/"));
        assert!(l.allows_url("redis://127.0.0.1:6380"));
        assert!(!l.allows_url("not a url"));
        assert!(list(&["*://*:*"]).allows_url("ftp://x:21"));
        assert!(!AllowList::default().allows_url("https://api.example.com/"));
    }

    #[test]
    fn ranges_are_half_open() {
        let l = list(&["http://localhost:8000..8002"]);
        assert!(l.allows_url("http://localhost:8000/") && l.allows_url("http://localhost:8001/"));
        assert!(!l.allows_url("http://localhost:8002/"));
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in [
            "*",
            "example.com",
            "localhost:3001",
            "http://x/a",
            "http://a*b.com",
            "foo://x",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
    }
}
