//! Every authenticated route of the API, the scope it needs and the rate
//! budget it draws from, in one table. `lode-common` checks it for every request before a component's
//! handler runs, so a route missing here is refused (404/405), never open;
//! and `tests/access.rs` walks this table against `spin.toml`, proving each
//! route answers 401 without a key and 403 to a key without its scope.

use lode_api::{ApiError, Pattern};
pub use lode_ratelimit::Budget;

use crate::scopes::Scope;

/// One method on one path pattern, and what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The HTTP method.
    pub method: &'static str,
    /// The path pattern (`{name}` matches one segment).
    pub pattern: &'static str,
    /// The scope a caller must hold.
    pub scope: Scope,
    /// The rate-limit budget a call draws from.
    pub budget: Budget,
}

/// An ordinary route: the ordinary budget.
const fn rule(method: &'static str, pattern: &'static str, scope: Scope) -> Rule {
    Rule {
        method,
        pattern,
        scope,
        budget: Budget::Api,
    }
}

/// A route that calls a model (chat, completions, tool runs): the LLM
/// budget. Reading conversations, usage or the tool list does not.
const fn llm(pattern: &'static str, scope: Scope) -> Rule {
    Rule {
        method: "POST",
        pattern,
        scope,
        budget: Budget::Llm,
    }
}

/// A route that adds documents (extraction and embedding): the ingest budget.
const fn ingest(pattern: &'static str) -> Rule {
    Rule {
        method: "POST",
        pattern,
        scope: Scope::DocumentsWrite,
        budget: Budget::Ingest,
    }
}

use Scope::{Admin, Chat, DocumentsRead as Read, DocumentsWrite as Write, Search, Tools};

/// The table. Public routes (`/health`) are not in it.
pub const RULES: &[Rule] = &[
    // documents
    rule("GET", "/api/documents", Read),
    ingest("/api/documents"),
    ingest("/api/documents/upload"),
    ingest("/api/documents/from-url"),
    rule("GET", "/api/documents/{id}", Read),
    rule("PUT", "/api/documents/{id}", Write),
    rule("DELETE", "/api/documents/{id}", Write),
    rule("GET", "/api/documents/{id}/versions", Read),
    rule("GET", "/api/documents/{id}/versions/{version}", Read),
    rule("GET", "/api/documents/{id}/chunks", Read),
    // search
    rule("POST", "/api/search", Search),
    rule("POST", "/api/search/vector", Search),
    rule("POST", "/api/search/fulltext", Search),
    // chat and the OpenAI-compatible surface
    llm("/api/chat", Chat),
    rule("POST", "/api/chat/prepare-context", Search),
    rule("GET", "/api/conversations", Chat),
    rule("GET", "/api/conversations/{id}", Chat),
    rule("DELETE", "/api/conversations/{id}", Chat),
    rule("GET", "/v1/models", Chat),
    llm("/v1/chat/completions", Chat),
    rule("POST", "/v1/embeddings", Search),
    rule("GET", "/api/usage", Chat),
    // LLM tools
    rule("GET", "/api/tools", Tools),
    llm("/api/tools/{tool}", Tools),
    llm("/api/documents/{id}/tools/{tool}", Tools),
    // jobs
    rule("GET", "/api/jobs", Read),
    rule("GET", "/api/jobs/dead", Read),
    rule("POST", "/api/jobs/redrive", Write),
    rule("GET", "/api/jobs/batches/{id}", Read),
    rule("GET", "/api/jobs/{id}", Read),
    rule("POST", "/api/jobs/{id}/retry", Write),
    rule("GET", "/api/jobs/{id}/events", Read),
    rule("POST", "/api/admin/jobs/sweep", Admin),
    // administration
    rule("GET", "/api/keys", Admin),
    rule("POST", "/api/keys", Admin),
    rule("DELETE", "/api/keys/{id}", Admin),
    rule("GET", "/api/admin/audit", Admin),
    rule("GET", "/api/settings", Read),
    rule("PUT", "/api/settings", Admin),
    // users (accounts that log in); /api/auth/* is public, see PUBLIC
    rule("GET", "/api/users", Admin),
    rule("PATCH", "/api/users/{id}", Admin),
    rule("DELETE", "/api/users/{id}", Admin),
    // operations
    rule("GET", "/metrics", Admin),
];

/// Routes the table does not check: health, logging in, registering (which
/// checks for itself whether the deployment requires an admin, see
/// `lode_auth::users::Registration`), and a session's own password and
/// sign-out, which need a user's session token whatever its scopes (the
/// handler checks it). Method and pattern.
pub const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/password"),
    ("POST", "/api/auth/logout"),
];

/// The methods served on `path` (for `Allow` and CORS preflights); empty
/// when no route matches.
pub fn methods(path: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = PUBLIC
        .iter()
        .filter(|(_, p)| Pattern(p).matches(path).is_some())
        .map(|(m, _)| *m)
        .collect();
    for r in RULES {
        if Pattern(r.pattern).matches(path).is_some() && !shadowed(r.pattern, path) {
            out.push(r.method);
        }
    }
    out
}

/// The route pattern `method path` is served by, as a metrics label: never
/// the path itself, whose ids would make a series per document.
pub fn label(method: &str, path: &str) -> &'static str {
    if let Some((_, p)) = PUBLIC
        .iter()
        .find(|(m, p)| *m == method && Pattern(p).matches(path).is_some())
    {
        return p;
    }
    RULES
        .iter()
        .find(|r| Pattern(r.pattern).matches(path).is_some() && !shadowed(r.pattern, path))
        .map(|r| r.pattern)
        .unwrap_or("unmatched")
}

/// The route `method` on `path` is, matched by pattern (so
/// `/api/documents/upload/` is the upload route, with its scope and
/// budget): 404 when no pattern matches, 405 (naming the allowed methods)
/// when the path matches but the method does not.
pub fn rule_for(method: &str, path: &str) -> Result<&'static Rule, ApiError> {
    let mut allowed: Vec<&str> = Vec::new();
    for r in RULES {
        // A literal segment wins over a `{name}` one (`/api/jobs/dead` is
        // not job "dead"): only the first pattern shape that matches counts.
        if Pattern(r.pattern).matches(path).is_none() || shadowed(r.pattern, path) {
            continue;
        }
        if r.method == method {
            return Ok(r);
        }
        allowed.push(r.method);
    }
    if allowed.is_empty() {
        Err(ApiError::not_found("route"))
    } else {
        Err(ApiError::method_not_allowed(&allowed))
    }
}

/// True when a more literal pattern than `pattern` also matches `path`.
fn shadowed(pattern: &str, path: &str) -> bool {
    let literal = |p: &str| p.split('/').filter(|s| !s.starts_with('{')).count();
    RULES.iter().any(|other| {
        other.pattern != pattern
            && literal(other.pattern) > literal(pattern)
            && Pattern(other.pattern).matches(path).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scope `method` on `path` needs.
    fn required_scope(method: &str, path: &str) -> Result<Scope, ApiError> {
        rule_for(method, path).map(|r| r.scope)
    }

    #[test]
    fn budgets_follow_the_matched_pattern_not_the_raw_path() {
        for path in [
            "/api/documents/upload",
            "/api/documents/upload/",
            "/api/documents/",
        ] {
            assert_eq!(
                rule_for("POST", path).unwrap().budget,
                Budget::Ingest,
                "{path}"
            );
        }
        assert_eq!(rule_for("POST", "/api/chat/").unwrap().budget, Budget::Llm);
        assert_eq!(rule_for("POST", "/api/search").unwrap().budget, Budget::Api);
        assert_eq!(
            rule_for("PUT", "/api/documents/d1/").unwrap().budget,
            Budget::Api
        );
        // Only calls that reach a model spend the LLM budget.
        for (method, path, budget) in [
            ("POST", "/api/tools/summarize", Budget::Llm),
            ("POST", "/v1/chat/completions", Budget::Llm),
            ("GET", "/api/usage", Budget::Api),
            ("GET", "/api/tools", Budget::Api),
            ("GET", "/api/conversations/c1", Budget::Api),
        ] {
            assert_eq!(rule_for(method, path).unwrap().budget, budget, "{path}");
        }
    }

    #[test]
    fn every_route_has_one_scope_per_method() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert!(
                    (a.method, a.pattern) != (b.method, b.pattern),
                    "{} {} is listed twice",
                    a.method,
                    a.pattern
                );
            }
        }
    }

    #[test]
    fn literal_segments_win_and_unknown_routes_are_refused() {
        assert_eq!(required_scope("GET", "/api/jobs/dead").unwrap(), Read);
        assert_eq!(required_scope("POST", "/api/jobs/redrive").unwrap(), Write);
        assert_eq!(
            required_scope("GET", "/api/jobs/redrive")
                .unwrap_err()
                .status(),
            405
        );
        assert_eq!(required_scope("GET", "/api/jobs/job_1").unwrap(), Read);
        assert_eq!(
            required_scope("POST", "/api/documents/upload").unwrap(),
            Write
        );
        assert_eq!(
            required_scope("GET", "/api/documents/upload")
                .unwrap_err()
                .status(),
            405,
            "upload is a route, not a document id"
        );
        assert_eq!(
            required_scope("POST", "/api/documents/d1/tools/summarize").unwrap(),
            Tools
        );
        let e = required_scope("PATCH", "/api/documents/d1").unwrap_err();
        assert_eq!(e.status(), 405);
        assert!(e.message.contains("GET, PUT, DELETE"), "{}", e.message);
        assert_eq!(
            required_scope("GET", "/api/nothing").unwrap_err().status(),
            404
        );
    }

    #[test]
    fn labels_and_methods() {
        assert_eq!(label("GET", "/api/documents/doc_1"), "/api/documents/{id}");
        assert_eq!(label("GET", "/api/jobs/dead"), "/api/jobs/dead");
        assert_eq!(label("POST", "/api/auth/login"), "/api/auth/login");
        assert_eq!(label("GET", "/health"), "/health");
        assert_eq!(label("GET", "/wp-admin/x"), "unmatched");
        assert_eq!(methods("/api/documents/d1"), ["GET", "PUT", "DELETE"]);
        assert_eq!(methods("/api/auth/login"), ["POST"]);
        assert!(methods("/nope").is_empty());
    }
}
