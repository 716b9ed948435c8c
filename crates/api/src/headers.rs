//! Rules for request headers that Lode echoes or trusts: `X-Request-Id`,
//! which ends up in every log line, and `Origin`, which decides CORS.

/// A caller's `X-Request-Id`, when it is 1-128 characters of
/// `[A-Za-z0-9._:-]`: anything else (quotes, spaces, newlines) could forge
/// or break log lines, and is replaced by an id Lode makes.
pub fn accept_request_id(header: Option<&str>) -> Option<&str> {
    let id = header?.trim();
    let ok = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    ok.then_some(id)
}

/// Whether `origin` may read API responses, given the
/// `cors_allowed_origins` setting: comma-separated exact origins (scheme,
/// host and port, a trailing slash ignored) or `*`. Empty allows none.
pub fn origin_allowed(allowed: &str, origin: &str) -> bool {
    allowed
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .any(|a| a == "*" || a.trim_end_matches('/') == origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_accepted_only_when_well_formed() {
        assert_eq!(
            accept_request_id(Some(" abc-123_x.y:z ")),
            Some("abc-123_x.y:z")
        );
        for bad in [
            None,
            Some(""),
            Some("a b"),
            Some("a\"b"),
            Some("line\nbreak"),
            Some("é"),
        ] {
            assert_eq!(accept_request_id(bad), None, "{bad:?}");
        }
        assert_eq!(accept_request_id(Some(&"x".repeat(129))), None);
        assert!(accept_request_id(Some(&"x".repeat(128))).is_some());
    }

    #[test]
    fn origins_match_exactly() {
        let allowed = "https://app.example.com, http://localhost:5173/";
        assert!(origin_allowed(allowed, "https://app.example.com"));
        assert!(origin_allowed(allowed, "http://localhost:5173"));
        for other in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://evil.example.com",
            "null",
            "",
        ] {
            assert!(!origin_allowed(allowed, other), "{other}");
        }
        assert!(!origin_allowed("", "https://app.example.com"));
        assert!(origin_allowed("*", "https://anything.example"));
    }
}
