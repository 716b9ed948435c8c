//! Every route of the API, declared once: method, pattern, the scope it
//! needs (or none: public), the rate budget it draws from, the body it
//! accepts, and the handler that serves it (which names its component).
//! Everything else derives from this table: `lode-common` resolves a
//! request against it once (404/405, scope, rate, body limit, metrics
//! label) and hands the component its handler to `match` on, so a route
//! missing here is refused, never open; `tests/access.rs` walks it against
//! `spin.toml` (every route served by the component its handler names) and
//! proves each authenticated route answers 401 without a key and 403 to a
//! key without its scope.

use lode_api::{ApiError, Params, Pattern};
pub use lode_ratelimit::Budget;

use crate::scopes::Scope;

/// One method on one path pattern: what it needs and who serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method.
    pub method: &'static str,
    /// The path pattern (`{name}` matches one segment).
    pub pattern: &'static str,
    /// The scope a caller must hold; `None`: public (the handler decides
    /// for itself, e.g. a session's own logout).
    pub scope: Option<Scope>,
    /// The rate-limit budget a call draws from.
    pub budget: Budget,
    /// The body it accepts.
    pub body: Body,
    /// What serves it.
    pub handler: Handler,
}

impl Route {
    /// Whether a caller must authenticate (any scope).
    pub fn is_authenticated(&self) -> bool {
        self.scope.is_some()
    }
}

/// The size class of a route's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// A JSON body (or none) up to the `max_body_bytes` variable.
    Json,
    /// A file up to the `max_upload_bytes` variable.
    Upload,
}

/// Declares the handler enums: one per component, a variant per route.
/// A component `match`es its own enum exhaustively, so a route added here
/// without code to serve it does not compile.
macro_rules! handlers {
    ($($component:literal => $name:ident { $($variant:ident),+ $(,)? })+) => {
        /// The handler of a route: its component's enum.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Handler { $($name($name)),+ }

        impl Handler {
            /// The `spin.toml` component that serves it.
            pub fn component(self) -> &'static str {
                match self { $(Handler::$name(_) => $component),+ }
            }
        }

        $(
            #[doc = concat!("The routes of the `", $component, "` component.")]
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            #[allow(missing_docs)]
            pub enum $name { $($variant),+ }

            impl Served for $name {
                fn from_handler(h: Handler) -> Option<Self> {
                    match h { Handler::$name(x) => Some(x), #[allow(unreachable_patterns)] _ => None }
                }
            }
        )+
    };
}

/// A component's handler enum, recovered from a [`Handler`].
pub trait Served: Copy {
    /// `Some` when `h` is one of this component's routes.
    fn from_handler(h: Handler) -> Option<Self>;
}

handlers! {
    "health" => HealthRoute { Check }
    "auth" => AuthRoute { Login, Register, Password, Logout, Me, ListUsers, UpdateUser, DeleteUser }
    "documents" => DocumentsRoute { List, Add, Upload, FromUrl, Get, Update, Delete, Versions, Version, Chunks }
    "search" => SearchRoute { Hybrid, Vector, Fulltext }
    "chat" => ChatRoute { Chat, PrepareContext, Conversations, Conversation, DeleteConversation, Models, Completions, Embeddings }
    "usage" => UsageRoute { Usage }
    "tools" => ToolsRoute { List, Run, RunOnDocument }
    "jobs" => JobsRoute { List, Dead, Redrive, Batch, Get, Retry, Events, Sweep }
    "keys" => KeysRoute { List, Create, Delete, Audit }
    "settings" => SettingsRoute { Get, Put }
    "metrics" => MetricsRoute { Scrape }
}

/// An ordinary route: the ordinary budget, a JSON body.
const fn rule(
    method: &'static str,
    pattern: &'static str,
    scope: Scope,
    handler: Handler,
) -> Route {
    Route {
        method,
        pattern,
        scope: Some(scope),
        budget: Budget::Api,
        body: Body::Json,
        handler,
    }
}

/// A route that calls a model (chat, completions, tool runs): the LLM
/// budget. Reading conversations, usage or the tool list does not.
const fn llm(pattern: &'static str, scope: Scope, handler: Handler) -> Route {
    Route {
        budget: Budget::Llm,
        ..rule("POST", pattern, scope, handler)
    }
}

/// A route that adds documents (extraction and embedding): the ingest budget.
const fn ingest(pattern: &'static str, body: Body, handler: Handler) -> Route {
    Route {
        budget: Budget::Ingest,
        body,
        ..rule("POST", pattern, Scope::DocumentsWrite, handler)
    }
}

/// A public route: no key; the handler limits and authenticates as it needs.
const fn public(method: &'static str, pattern: &'static str, handler: Handler) -> Route {
    Route {
        scope: None,
        ..rule(method, pattern, Scope::Chat, handler)
    }
}

use Handler as H;
use Scope::{Admin, Chat, DocumentsRead as Read, DocumentsWrite as Write, Search, Tools};

/// The table.
pub const ROUTES: &[Route] = &[
    public("GET", "/health", H::HealthRoute(HealthRoute::Check)),
    // accounts: logging in, registering (which checks for itself whether
    // the deployment requires an admin, see `crate::users::Registration`),
    // a session's own password and sign-out, which need a user's session
    // token whatever its scopes, and `me` (the handlers authenticate)
    public("POST", "/api/auth/login", H::AuthRoute(AuthRoute::Login)),
    public(
        "POST",
        "/api/auth/register",
        H::AuthRoute(AuthRoute::Register),
    ),
    public(
        "POST",
        "/api/auth/password",
        H::AuthRoute(AuthRoute::Password),
    ),
    public("POST", "/api/auth/logout", H::AuthRoute(AuthRoute::Logout)),
    // any credential may ask what it is (a key narrowed to one scope too)
    public("GET", "/api/auth/me", H::AuthRoute(AuthRoute::Me)),
    rule(
        "GET",
        "/api/users",
        Admin,
        H::AuthRoute(AuthRoute::ListUsers),
    ),
    rule(
        "PATCH",
        "/api/users/{id}",
        Admin,
        H::AuthRoute(AuthRoute::UpdateUser),
    ),
    rule(
        "DELETE",
        "/api/users/{id}",
        Admin,
        H::AuthRoute(AuthRoute::DeleteUser),
    ),
    // documents
    rule(
        "GET",
        "/api/documents",
        Read,
        H::DocumentsRoute(DocumentsRoute::List),
    ),
    ingest(
        "/api/documents",
        Body::Json,
        H::DocumentsRoute(DocumentsRoute::Add),
    ),
    ingest(
        "/api/documents/upload",
        Body::Upload,
        H::DocumentsRoute(DocumentsRoute::Upload),
    ),
    ingest(
        "/api/documents/from-url",
        Body::Json,
        H::DocumentsRoute(DocumentsRoute::FromUrl),
    ),
    rule(
        "GET",
        "/api/documents/{id}",
        Read,
        H::DocumentsRoute(DocumentsRoute::Get),
    ),
    rule(
        "PUT",
        "/api/documents/{id}",
        Write,
        H::DocumentsRoute(DocumentsRoute::Update),
    ),
    rule(
        "DELETE",
        "/api/documents/{id}",
        Write,
        H::DocumentsRoute(DocumentsRoute::Delete),
    ),
    rule(
        "GET",
        "/api/documents/{id}/versions",
        Read,
        H::DocumentsRoute(DocumentsRoute::Versions),
    ),
    rule(
        "GET",
        "/api/documents/{id}/versions/{version}",
        Read,
        H::DocumentsRoute(DocumentsRoute::Version),
    ),
    rule(
        "GET",
        "/api/documents/{id}/chunks",
        Read,
        H::DocumentsRoute(DocumentsRoute::Chunks),
    ),
    // search
    rule(
        "POST",
        "/api/search",
        Search,
        H::SearchRoute(SearchRoute::Hybrid),
    ),
    rule(
        "POST",
        "/api/search/vector",
        Search,
        H::SearchRoute(SearchRoute::Vector),
    ),
    rule(
        "POST",
        "/api/search/fulltext",
        Search,
        H::SearchRoute(SearchRoute::Fulltext),
    ),
    // chat and the OpenAI-compatible surface
    llm("/api/chat", Chat, H::ChatRoute(ChatRoute::Chat)),
    rule(
        "POST",
        "/api/chat/prepare-context",
        Search,
        H::ChatRoute(ChatRoute::PrepareContext),
    ),
    rule(
        "GET",
        "/api/conversations",
        Chat,
        H::ChatRoute(ChatRoute::Conversations),
    ),
    rule(
        "GET",
        "/api/conversations/{id}",
        Chat,
        H::ChatRoute(ChatRoute::Conversation),
    ),
    rule(
        "DELETE",
        "/api/conversations/{id}",
        Chat,
        H::ChatRoute(ChatRoute::DeleteConversation),
    ),
    rule("GET", "/v1/models", Chat, H::ChatRoute(ChatRoute::Models)),
    llm(
        "/v1/chat/completions",
        Chat,
        H::ChatRoute(ChatRoute::Completions),
    ),
    rule(
        "POST",
        "/v1/embeddings",
        Search,
        H::ChatRoute(ChatRoute::Embeddings),
    ),
    rule("GET", "/api/usage", Chat, H::UsageRoute(UsageRoute::Usage)),
    // LLM tools
    rule("GET", "/api/tools", Tools, H::ToolsRoute(ToolsRoute::List)),
    llm("/api/tools/{tool}", Tools, H::ToolsRoute(ToolsRoute::Run)),
    llm(
        "/api/documents/{id}/tools/{tool}",
        Tools,
        H::ToolsRoute(ToolsRoute::RunOnDocument),
    ),
    // jobs
    rule("GET", "/api/jobs", Read, H::JobsRoute(JobsRoute::List)),
    rule("GET", "/api/jobs/dead", Read, H::JobsRoute(JobsRoute::Dead)),
    rule(
        "POST",
        "/api/jobs/redrive",
        Write,
        H::JobsRoute(JobsRoute::Redrive),
    ),
    rule(
        "GET",
        "/api/jobs/batches/{id}",
        Read,
        H::JobsRoute(JobsRoute::Batch),
    ),
    rule("GET", "/api/jobs/{id}", Read, H::JobsRoute(JobsRoute::Get)),
    rule(
        "POST",
        "/api/jobs/{id}/retry",
        Write,
        H::JobsRoute(JobsRoute::Retry),
    ),
    rule(
        "GET",
        "/api/jobs/{id}/events",
        Read,
        H::JobsRoute(JobsRoute::Events),
    ),
    rule(
        "POST",
        "/api/admin/jobs/sweep",
        Admin,
        H::JobsRoute(JobsRoute::Sweep),
    ),
    // administration
    rule("GET", "/api/keys", Admin, H::KeysRoute(KeysRoute::List)),
    rule("POST", "/api/keys", Admin, H::KeysRoute(KeysRoute::Create)),
    rule(
        "DELETE",
        "/api/keys/{id}",
        Admin,
        H::KeysRoute(KeysRoute::Delete),
    ),
    rule(
        "GET",
        "/api/admin/audit",
        Admin,
        H::KeysRoute(KeysRoute::Audit),
    ),
    rule(
        "GET",
        "/api/settings",
        Read,
        H::SettingsRoute(SettingsRoute::Get),
    ),
    rule(
        "PUT",
        "/api/settings",
        Admin,
        H::SettingsRoute(SettingsRoute::Put),
    ),
    // operations
    rule(
        "GET",
        "/metrics",
        Admin,
        H::MetricsRoute(MetricsRoute::Scrape),
    ),
];

/// The methods served on `path` (for `Allow` and CORS preflights); empty
/// when no route matches.
pub fn methods(path: &str) -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|r| Pattern(r.pattern).matches(path).is_some() && !shadowed(r.pattern, path))
        .map(|r| r.method)
        .collect()
}

/// The route pattern `method path` is served by, as a metrics label: never
/// the path itself, whose ids would make a series per document.
pub fn label(method: &str, path: &str) -> &'static str {
    match find(method, path) {
        Ok((r, _)) => r.pattern,
        // A refused method still counts under the path's pattern.
        Err(_) => ROUTES
            .iter()
            .find(|r| Pattern(r.pattern).matches(path).is_some() && !shadowed(r.pattern, path))
            .map_or("unmatched", |r| r.pattern),
    }
}

/// The route `method` on `path` is, and its captures, matched by pattern
/// (so `/api/documents/upload/` is the upload route, with its scope and
/// budget): 404 when no pattern matches, 405 (naming the allowed methods)
/// when the path matches but the method does not.
pub fn find(method: &str, path: &str) -> Result<(&'static Route, Params), ApiError> {
    let mut allowed: Vec<&str> = Vec::new();
    for r in ROUTES {
        // A literal segment wins over a `{name}` one (`/api/jobs/dead` is
        // not job "dead"): only the first pattern shape that matches counts.
        let Some(params) = Pattern(r.pattern).matches(path) else {
            continue;
        };
        if shadowed(r.pattern, path) {
            continue;
        }
        if r.method == method {
            return Ok((r, params));
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
    ROUTES.iter().any(|other| {
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
        find(method, path).map(|(r, _)| r.scope.expect("authenticated"))
    }

    #[test]
    fn budgets_follow_the_matched_pattern_not_the_raw_path() {
        for path in [
            "/api/documents/upload",
            "/api/documents/upload/",
            "/api/documents/",
        ] {
            assert_eq!(
                find("POST", path).unwrap().0.budget,
                Budget::Ingest,
                "{path}"
            );
        }
        assert_eq!(find("POST", "/api/chat/").unwrap().0.budget, Budget::Llm);
        assert_eq!(find("POST", "/api/search").unwrap().0.budget, Budget::Api);
        assert_eq!(
            find("PUT", "/api/documents/d1/").unwrap().0.budget,
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
            assert_eq!(find(method, path).unwrap().0.budget, budget, "{path}");
        }
    }

    #[test]
    fn every_handler_serves_one_route() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert_ne!(a.handler, b.handler, "{} and {}", a.pattern, b.pattern);
            }
        }
        let (r, params) = find("GET", "/api/documents/d1/versions/3").unwrap();
        assert_eq!(r.handler, Handler::DocumentsRoute(DocumentsRoute::Version));
        assert_eq!((params.get("id"), params.get("version")), ("d1", "3"));
        assert_eq!(r.handler.component(), "documents");
        assert_eq!(SearchRoute::from_handler(r.handler), None);
        let (r, _) = find("POST", "/api/documents/upload").unwrap();
        assert_eq!(r.body, Body::Upload);
        assert!(
            !find("POST", "/api/auth/login")
                .unwrap()
                .0
                .is_authenticated()
        );
    }

    #[test]
    fn every_route_has_one_scope_per_method() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
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
