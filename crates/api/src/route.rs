//! Path matching inside a component.
//!
//! Spin routes a request to a component by prefix (`/api/documents/...`); the
//! component then matches the rest against patterns such as `/api/documents/{id}`.

use std::collections::HashMap;

/// A path pattern like `/api/documents/{id}/versions`: literal segments and `{name}` captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern(pub &'static str);

/// Captured path parameters, by name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(HashMap<&'static str, String>);

impl Params {
    /// The captured value of `{name}`; patterns and handlers are written together,
    /// so a missing name is a programming error caught by tests, reported as "".
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or("")
    }
}

impl Pattern {
    /// Match `path` (without query string) against this pattern.
    pub fn matches(self, path: &str) -> Option<Params> {
        let mut want = segments(self.0);
        let mut have = segments(path);
        let mut params = Params::default();
        loop {
            match (want.next(), have.next()) {
                (None, None) => return Some(params),
                (Some(w), Some(h)) => {
                    if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                        if h.is_empty() {
                            return None;
                        }
                        params.0.insert(name, h.to_string());
                    } else if w != h {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_end_matches('/').split('/').skip(1)
}

/// Find the first pattern that matches `path`, returning its index and captures.
///
/// Handlers use the index to pick the method table; a path that matches no
/// pattern is a 404, one that matches but with the wrong method a 405.
pub fn match_route(patterns: &[Pattern], path: &str) -> Option<(usize, Params)> {
    patterns
        .iter()
        .enumerate()
        .find_map(|(i, p)| p.matches(path).map(|params| (i, params)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_captures() {
        let p = Pattern("/api/documents/{id}/versions");
        assert_eq!(
            p.matches("/api/documents/abc/versions").unwrap().get("id"),
            "abc"
        );
        assert!(p.matches("/api/documents/abc").is_none());
        assert!(p.matches("/api/documents//versions").is_none());
        assert!(p.matches("/api/documents/abc/versions/x").is_none());
    }

    #[test]
    fn trailing_slash_is_ignored() {
        assert!(
            Pattern("/api/documents")
                .matches("/api/documents/")
                .is_some()
        );
    }

    #[test]
    fn first_match_wins() {
        let table = [Pattern("/api/keys"), Pattern("/api/keys/{id}")];
        assert_eq!(match_route(&table, "/api/keys").unwrap().0, 0);
        let (i, params) = match_route(&table, "/api/keys/k1").unwrap();
        assert_eq!((i, params.get("id")), (1, "k1"));
        assert!(match_route(&table, "/api/other").is_none());
    }
}
