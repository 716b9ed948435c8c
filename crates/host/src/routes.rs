//! HTTP routing with Spin's rules and Spin's request headers.
//!
//! Rules (https://spinframework.dev/v4/http-trigger, and Spin's
//! crates/http/src/routes.rs): routes are exact (`/health`), may have `:name`
//! segments, and may end in the wildcard `/...`. When several match, segments
//! are compared left to right: exact beats `:name` beats the wildcard, so exact
//! routes beat wildcards and the longest wildcard prefix wins. Among duplicate
//! routes the last one declared wins.

use std::net::SocketAddr;

/// One segment of a route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Exact(String),
    Param(String),
}

/// A parsed `[[trigger.http]] route`.
#[derive(Debug, Clone)]
pub struct Route {
    /// The route as written (normalised), e.g. `/api/documents/...`.
    pub raw: String,
    segments: Vec<Segment>,
    wildcard: bool,
    /// The component that serves it.
    pub component: String,
}

/// What a request matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// The route as written.
    pub raw: String,
    /// The component to run.
    pub component: String,
    /// The part of the path the trailing wildcard captured ("" for exact routes).
    pub path_info: String,
    /// `:name` captures, in order.
    pub params: Vec<(String, String)>,
}

impl Route {
    /// Parse a route; a missing leading `/` is added and a trailing `/` dropped, as Spin does.
    pub fn parse(route: &str, component: &str) -> Route {
        let mut raw = format!("/{}", route.trim_start_matches('/'));
        if raw.len() > 1 && raw.ends_with('/') {
            raw.pop();
        }
        let (prefix, wildcard) = match raw.strip_suffix("/...") {
            Some(p) => (p.to_string(), true),
            None if raw == "/..." => (String::new(), true),
            None => (raw.clone(), false),
        };
        let segments = prefix
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| match s.strip_prefix(':') {
                Some(name) => Segment::Param(name.to_string()),
                None => Segment::Exact(s.to_string()),
            })
            .collect();
        Route {
            raw,
            segments,
            wildcard,
            component: component.to_string(),
        }
    }

    /// Match `path`; returns the precedence key and the captures.
    fn matches(&self, path: &str) -> Option<(Vec<u8>, RouteMatch)> {
        const WILD: u8 = 0;
        const END: u8 = 1;
        const PARAM: u8 = 2;
        const EXACT: u8 = 3;
        let trimmed = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let parts: Vec<&str> = trimmed
            .split('/')
            .skip(1)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.len() < self.segments.len()
            || (!self.wildcard && parts.len() != self.segments.len())
        {
            return None;
        }
        let mut key = Vec::with_capacity(self.segments.len() + 1);
        let mut params = Vec::new();
        for (seg, part) in self.segments.iter().zip(&parts) {
            match seg {
                Segment::Exact(lit) if lit == part => key.push(EXACT),
                Segment::Param(name) => {
                    key.push(PARAM);
                    params.push((name.clone(), part.to_string()));
                }
                _ => return None,
            }
        }
        let path_info = if self.wildcard {
            key.push(WILD);
            // Everything after the matched prefix, keeping a trailing slash (Spin's behaviour).
            let consumed: usize = parts[..self.segments.len()]
                .iter()
                .map(|p| p.len() + 1)
                .sum();
            path.get(consumed..).unwrap_or("").to_string()
        } else {
            key.push(END);
            String::new()
        };
        Some((
            key,
            RouteMatch {
                raw: self.raw.clone(),
                component: self.component.clone(),
                path_info,
                params,
            },
        ))
    }
}

/// All HTTP routes of an application.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
    /// Routes shadowed by a later duplicate: `(component, route)`, for a start-up warning.
    pub duplicates: Vec<(String, String)>,
}

impl Router {
    /// Build from `(route, component)` pairs in manifest order.
    pub fn new<'a>(triggers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Router {
        let mut router = Router::default();
        for (route, component) in triggers {
            let r = Route::parse(route, component);
            if let Some(i) = router.routes.iter().position(|x| x.raw == r.raw) {
                let old = router.routes.remove(i);
                router.duplicates.push((old.component, old.raw));
            }
            router.routes.push(r);
        }
        router
    }

    /// The most specific route matching `path` (no query string).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        self.routes
            .iter()
            .filter_map(|r| r.matches(path))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, m)| m)
    }

    /// The routes, for the start-up listing.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

/// The `spin-*` headers Spin adds to every request it passes to a component
/// (Spin's crates/trigger-http/src/headers.rs, `compute_default_headers`).
pub fn spin_headers(m: &RouteMatch, full_url: &str, client: SocketAddr) -> Vec<(String, String)> {
    let component_route = m.raw.strip_suffix("/...").unwrap_or(&m.raw).to_string();
    let mut headers = vec![
        ("spin-full-url".to_string(), full_url.to_string()),
        ("spin-path-info".to_string(), m.path_info.clone()),
        ("spin-matched-route".to_string(), m.raw.clone()),
        ("spin-base-path".to_string(), "/".to_string()),
        ("spin-raw-component-route".to_string(), m.raw.clone()),
        ("spin-component-route".to_string(), component_route),
        ("spin-client-addr".to_string(), client.to_string()),
    ];
    for (name, value) in &m.params {
        let name = name.to_ascii_lowercase().replace('_', "-");
        headers.push((format!("spin-path-match-{name}"), value.clone()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        Router::new(routes.iter().copied())
    }

    fn component(r: &Router, path: &str) -> Option<String> {
        r.route(path).map(|m| m.component)
    }

    #[test]
    fn most_specific_wins_regardless_of_order() {
        let r = router(&[
            ("/...", "all"),
            ("/one/...", "one"),
            ("/one/two/...", "two"),
            ("/one", "one-exact"),
            ("/users/:id", "user"),
            ("/users/admin", "admin"),
            ("/users/...", "users"),
        ]);
        assert_eq!(component(&r, "/one").as_deref(), Some("one-exact"));
        assert_eq!(component(&r, "/one/x").as_deref(), Some("one"));
        assert_eq!(component(&r, "/one/two/three").as_deref(), Some("two"));
        assert_eq!(component(&r, "/elsewhere").as_deref(), Some("all"));
        assert_eq!(component(&r, "/users/admin").as_deref(), Some("admin"));
        assert_eq!(component(&r, "/users/42").as_deref(), Some("user"));
        assert_eq!(component(&r, "/users/42/edit").as_deref(), Some("users"));
        assert_eq!(component(&r, "/users").as_deref(), Some("users"));
    }

    #[test]
    fn no_match_and_exactness() {
        let r = router(&[("/health", "h"), ("/api/documents/...", "d")]);
        assert_eq!(component(&r, "/health").as_deref(), Some("h"));
        assert_eq!(component(&r, "/health/x"), None);
        assert_eq!(component(&r, "/api"), None);
        assert_eq!(component(&r, "/api/documentsx"), None);
        assert_eq!(component(&r, "/api/documents").as_deref(), Some("d"));
    }

    #[test]
    fn path_info_keeps_trailing_slash() {
        let r = router(&[("/test/...", "t"), ("/...", "all")]);
        let info = |p: &str| r.route(p).unwrap().path_info;
        assert_eq!(info("/test"), "");
        assert_eq!(info("/test/"), "/");
        assert_eq!(info("/test/hello"), "/hello");
        assert_eq!(info("/test/hello/"), "/hello/");
        assert_eq!(info("/1/2/3"), "/1/2/3");
    }

    #[test]
    fn duplicates_last_wins() {
        let r = router(&[("/a", "first"), ("/a", "second")]);
        assert_eq!(component(&r, "/a").as_deref(), Some("second"));
        assert_eq!(r.duplicates, vec![("first".to_string(), "/a".to_string())]);
    }

    #[test]
    fn headers_match_spin() {
        let r = router(&[("/api/documents/...", "d"), ("/foo/:user_id/...", "u")]);
        let m = r.route("/api/documents/abc").unwrap();
        let client: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let h = spin_headers(&m, "http://localhost:3000/api/documents/abc?x=1", client);
        let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(
            get("spin-full-url"),
            Some("http://localhost:3000/api/documents/abc?x=1")
        );
        assert_eq!(get("spin-path-info"), Some("/abc"));
        assert_eq!(get("spin-matched-route"), Some("/api/documents/..."));
        assert_eq!(get("spin-component-route"), Some("/api/documents"));
        assert_eq!(get("spin-raw-component-route"), Some("/api/documents/..."));
        assert_eq!(get("spin-base-path"), Some("/"));
        assert_eq!(get("spin-client-addr"), Some("127.0.0.1:5000"));
        let m = r.route("/foo/42/bar").unwrap();
        let h = spin_headers(&m, "http://x/foo/42/bar", client);
        assert!(h.contains(&("spin-path-match-user-id".into(), "42".into())));
        assert!(h.contains(&("spin-component-route".into(), "/foo/:user_id".into())));
    }
}
