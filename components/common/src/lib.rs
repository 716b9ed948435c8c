//! The thin layer between Spin and Lode's libraries.
//!
//! A component's request path is: [`handle`] (request id, CORS) →
//! [`api_call`]: the route from `lode_auth::routes` (one match), [`store`]
//! (opened and migrated once per request), [`authenticate`], scope and
//! rate limit, [`read_body`] within the route's limit → the component's
//! handler, a call into a crate → [`http::finish`] (metrics on the same
//! store, access log) → [`respond`].

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use lode_api::{ApiError, BodyLimit, Params};
use lode_auth::Principal;
use lode_auth::routes::{Route, Served};
use lode_ratelimit::Budget;
use lode_store::ids::now_ms;
use lode_store::{Row, Sql, StoreError, Value};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::sqlite;
use spin_sdk::wasip3::http_compat::IncomingRequestBody;

mod caps;
pub mod context;
pub mod http;
pub mod job;
pub mod log;
pub mod metrics;
pub mod rate;
mod wake;
pub use caps::SpinHost;
pub use http::handle;
pub use lode_auth::routes;
pub use wake::wake;

#[doc(hidden)]
pub use serde_json as __serde_json;

/// A request whose body was read within the component's limit.
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Path without the query string.
    pub path: String,
    /// Raw query string ("" when absent).
    pub query: String,
    /// Request headers.
    pub headers: spin_sdk::http::HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl ApiRequest {
    /// A header's value as text, if present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Decode the JSON body (413/415/400/422 as `lode_api::parse_json` decides).
    pub fn json<T: serde::de::DeserializeOwned>(&self, limit: BodyLimit) -> Result<T, ApiError> {
        lode_api::parse_json(self.header("content-type"), &self.body, limit)
    }
}

/// Read a request, refusing bodies over `limit` with 413 as soon as that is
/// known: from `Content-Length` before reading, or while streaming.
pub async fn read_request(req: Request, limit: BodyLimit) -> Result<ApiRequest, ApiError> {
    let (head, body) = split_request(req);
    read_body(head, body, limit).await
}

/// The request's head (method, path, query, headers; no body yet) and its
/// unread body, so that a caller is authenticated before its body is read.
pub fn split_request(req: Request) -> (ApiRequest, IncomingRequestBody) {
    let (parts, body) = req.into_parts();
    let head = ApiRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body: Bytes::new(),
    };
    (head, body)
}

/// Read `body` into `head`, refusing (413) a declared or actual length over `limit`.
pub async fn read_body(
    mut head: ApiRequest,
    mut body: IncomingRequestBody,
    limit: BodyLimit,
) -> Result<ApiRequest, ApiError> {
    if let Some(len) = head
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        limit.check(len)?;
    }
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad_request(format!("reading body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            limit.check(buf.len() + data.len())?;
            buf.extend_from_slice(&data);
        }
    }
    head.body = Bytes::from(buf);
    Ok(head)
}

/// A response before it is encoded.
pub struct Reply {
    status: u16,
    body: Option<serde_json::Value>,
    location: Option<String>,
    /// A non-JSON body with its media type (e.g. Server-Sent Events).
    text: Option<(&'static str, String)>,
    headers: Vec<(String, String)>,
}

impl Reply {
    /// A JSON body with `status`.
    pub fn json(status: u16, body: impl serde::Serialize) -> Reply {
        let body = serde_json::to_value(body).unwrap_or(serde_json::Value::Null);
        Reply {
            status,
            body: Some(body),
            location: None,
            text: None,
            headers: Vec::new(),
        }
    }

    /// A text body of `media_type` (a `text/event-stream`, say).
    pub fn text(status: u16, media_type: &'static str, body: String) -> Reply {
        Reply {
            status,
            body: None,
            location: None,
            text: Some((media_type, body)),
            headers: Vec::new(),
        }
    }

    /// No body (e.g. 204).
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            location: None,
            text: None,
            headers: Vec::new(),
        }
    }

    /// The status to send.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Add a response header.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Add a `Location` header (for 201).
    pub fn at(mut self, location: String) -> Reply {
        self.location = Some(location);
        self
    }

    /// Add a field to a JSON object body (no-op for other bodies).
    pub fn with_field(mut self, key: &str, value: serde_json::Value) -> Reply {
        if let Some(serde_json::Value::Object(map)) = &mut self.body {
            map.insert(key.to_string(), value);
        }
        self
    }
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        Reply::json(e.status(), e.to_json())
    }
}

/// Encode a reply (or an error) as an HTTP response, with the request id,
/// CORS and security headers.
pub fn respond(result: Result<Reply, ApiError>) -> Response<Full<Bytes>> {
    let mut reply = match result {
        Ok(reply) => reply,
        Err(e) => {
            let headers = e.headers.clone();
            let mut reply = Reply::from(e);
            reply.headers = headers;
            reply
        }
    };
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in std::mem::take(&mut reply.headers) {
        builder = builder.header(name, value);
    }
    for (name, value) in common_headers() {
        builder = builder.header(name, value);
    }
    if let Some(loc) = &reply.location {
        builder = builder.header("location", loc);
    }
    let body = match (&reply.body, reply.text) {
        (Some(v), _) => {
            builder = builder.header("content-type", "application/json");
            Bytes::from(v.to_string())
        }
        (None, Some((media_type, text))) => {
            builder = builder.header("content-type", media_type);
            Bytes::from(text)
        }
        (None, None) => Bytes::new(),
    };
    // An explicit length lets HTTP/1.0 clients and proxies keep connections alive.
    builder = builder.header("content-length", body.len());
    builder
        .body(Full::new(body))
        .expect("static headers are valid")
}

/// The headers every response carries, streamed ones included: security
/// headers, the request id, and the CORS grant when the origin is allowed.
pub fn common_headers() -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = SECURITY_HEADERS
        .iter()
        .map(|(n, v)| (*n, v.to_string()))
        .collect();
    if let Some(ctx) = context::current() {
        out.push(("x-request-id", ctx.request_id));
    }
    out.extend(http::cors_headers());
    out
}

/// Sent with every response: an API answer is never sniffed into HTML,
/// framed, cached by a shared cache (it holds a tenant's data) or given a
/// referrer; `default-src 'none'` stops a browser running anything in it.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("cache-control", "no-store"),
];

/// A Spin variable, with a clear 500 (and a log line naming it) when unset.
pub async fn variable(name: &str) -> Result<String, ApiError> {
    optional_variable(name).await.ok_or_else(|| {
        crate::log_error!("variable {name:?} unavailable");
        ApiError::internal()
    })
}

/// A Spin variable, `None` when the component does not declare it (or the
/// host cannot say). Each is read once per request, then served from the
/// request's context.
pub async fn optional_variable(name: &str) -> Option<String> {
    let ctx = context::current();
    if let Some(known) = ctx
        .as_ref()
        .and_then(|c| c.opened.variables.borrow().get(name).cloned())
    {
        return known;
    }
    let value = spin_sdk::variables::get(name).await.ok();
    if let Some(ctx) = ctx {
        ctx.opened
            .variables
            .borrow_mut()
            .insert(name.to_string(), value.clone());
    }
    value
}

/// The LLM client over this component's capabilities (`lode_llm::client`).
pub type Llm = lode_llm::client::Llm<SpinHost>;

/// The configured providers (the `llm_*` variables), ready to call.
pub async fn llm() -> Result<Llm, ApiError> {
    Ok(Llm::load(SpinHost, context::request_id()).await?)
}

/// The request's default store, opened and migrated by its first caller and
/// shared by everything after (handler, rate limits, metrics).
pub async fn store() -> Result<SpinSql, ApiError> {
    let ctx = context::current();
    if let Some(sql) = ctx.as_ref().and_then(|c| c.opened.store.borrow().clone()) {
        return Ok(sql);
    }
    let sql = SpinSql::open("default").await?;
    lode_store::migrate(&sql).await?;
    if let Some(ctx) = ctx {
        *ctx.opened.store.borrow_mut() = Some(sql.clone());
    }
    Ok(sql)
}

/// A numeric Spin variable (`job_max_attempts`, `job_lease_secs`…); a value
/// that is not a number is a deployment mistake: 500, and a log line naming it.
pub async fn number_variable<T: std::str::FromStr>(name: &str) -> Result<T, ApiError> {
    let text = variable(name).await?;
    text.trim().parse().map_err(|_| {
        crate::log_error!("variable {name:?} is not a number: {text:?}");
        ApiError::internal()
    })
}

/// The body limit from the `max_body_bytes` variable.
pub async fn body_limit() -> Result<BodyLimit, ApiError> {
    BodyLimit::parse(&variable("max_body_bytes").await?).map_err(|e| {
        crate::log_error!("{e}");
        ApiError::internal()
    })
}

/// The operator's ceiling over tenant settings (the `tenant_ceiling`
/// variable; empty: the built-in one). A malformed one is a deployment
/// mistake: 500 and a log line.
pub async fn ceiling() -> Result<lode_store::Ceiling, ApiError> {
    // Components without quotas or rates to enforce may lack the variable.
    let text = optional_variable("tenant_ceiling")
        .await
        .unwrap_or_default();
    lode_store::Ceiling::parse(&text).map_err(|e| {
        crate::log_error!("{e}");
        ApiError::internal()
    })
}

/// The rates and quotas in force for `tenant`: its settings, capped by the
/// operator's [`ceiling`].
pub async fn in_force(
    sql: &SpinSql,
    tenant: &lode_store::Tenant,
) -> Result<(lode_ratelimit::Limits, lode_store::Quotas), ApiError> {
    let settings = lode_store::Settings::new(sql, tenant).get().await?.settings;
    Ok(settings.in_force(&ceiling().await?))
}

/// The quotas of `tenant` in force, to check before work is done.
pub async fn quota<'a>(
    sql: &'a SpinSql,
    tenant: &'a lode_store::Tenant,
) -> Result<lode_store::Quota<'a, SpinSql>, ApiError> {
    lode_store::Quota::in_force(sql, tenant, &ceiling().await?).await
}

/// Authenticate the caller (an API key, the bootstrap `admin_api_key`, or a
/// user's session token signed with `jwt_secret`).
pub async fn authenticate(sql: &SpinSql, req: &ApiRequest) -> Result<Principal, ApiError> {
    let admin_key = variable("admin_api_key").await?;
    // Components that predate users may lack the variable: tokens then fail.
    let jwt_secret = optional_variable("jwt_secret").await.unwrap_or_default();
    let secrets = lode_auth::AuthSecrets {
        admin_key: &admin_key,
        jwt_secret: &jwt_secret,
    };
    let who = lode_auth::authenticate(sql, req.header("authorization"), secrets, now_ms()).await?;
    context::set_tenant(who.tenant.as_str());
    Ok(who)
}

/// [`authenticate`], charging a failure to the client address's anonymous
/// budget, so that guessing keys or tokens is slow on every route.
pub async fn authenticate_or_slow_down(
    sql: &SpinSql,
    req: &ApiRequest,
) -> Result<Principal, ApiError> {
    match authenticate(sql, req).await {
        Ok(who) => Ok(who),
        Err(e) => {
            let limits = lode_ratelimit::Limits::default();
            rate::check(Budget::Anonymous, &client_address(req).await?, &limits).await?;
            Err(e)
        }
    }
}

/// The caller's bucket for per-address budgets: Spin's `spin-client-addr`,
/// or what `X-Forwarded-For` / `Forwarded` say when that peer is one of the
/// `trusted_proxies` variable's CIDRs; IPv6 callers by their /64
/// (`lode_ratelimit::TrustedProxies`). A bad `trusted_proxies` is a
/// deployment mistake: 500 and a log line.
pub async fn client_address(req: &ApiRequest) -> Result<String, ApiError> {
    let trusted = lode_ratelimit::TrustedProxies::parse(&variable("trusted_proxies").await?)
        .map_err(|e| {
            crate::log_error!("{e}");
            ApiError::internal()
        })?;
    Ok(trusted.client(
        req.header("spin-client-addr").unwrap_or("unknown"),
        req.header("x-forwarded-for"),
        req.header("forwarded"),
    ))
}

/// An authenticated request, routed by `lode_auth::routes` to one of the
/// component's handlers (`H`, its enum there).
pub struct ApiCall<H> {
    /// The request, body read.
    pub req: ApiRequest,
    /// The request's migrated default database.
    pub sql: SpinSql,
    /// Who is calling.
    pub who: Principal,
    /// The route's handler.
    pub handler: H,
    /// The pattern's captures.
    pub params: Params,
}

/// A public request (no key needed), routed the same way.
pub struct PublicCall<H> {
    /// The request, body read.
    pub req: ApiRequest,
    /// The request's migrated default database.
    pub sql: SpinSql,
    /// The route's handler.
    pub handler: H,
}

/// The route `req` asks for, from the one table (404/405), when it is one of
/// this component's (`H`); recorded as the request's metrics label.
fn route<H: Served>(req: &ApiRequest) -> Result<(&'static Route, H, Params), ApiError> {
    let (route, params) = lode_auth::routes::find(req.method.as_str(), &req.path)?;
    context::set_route(route.pattern);
    // Spin sent it here, so the table names this component (tests/access.rs).
    let handler = H::from_handler(route.handler).ok_or_else(|| ApiError::not_found("route"))?;
    Ok((route, handler, params))
}

/// The shared preamble of every authenticated route: route the request
/// (one match against `lode_auth::routes::ROUTES`), open the store,
/// authenticate from the headers, check the route's scope and rate
/// budget, and only then read the body, within the route's limit.
pub async fn api_call<H: Served>(req: Request) -> Result<ApiCall<H>, ApiError> {
    // The body is read only once the caller is known and allowed: an
    // unauthenticated 32 MiB upload costs its headers, not its bytes.
    let (head, body) = split_request(req);
    let (route, handler, params) = route::<H>(&head)?;
    authenticated(head, body, route, handler, params).await
}

async fn authenticated<H>(
    req: ApiRequest,
    body: IncomingRequestBody,
    route: &Route,
    handler: H,
    params: Params,
) -> Result<ApiCall<H>, ApiError> {
    let scope = route.scope.ok_or_else(ApiError::internal)?;
    let sql = store().await?;
    let who = authenticate_or_slow_down(&sql, &req).await?;
    who.require(scope)?;
    // The operator's bootstrap key is not limited; tenants' keys and users are.
    if !who.is_bootstrap() {
        let (limits, _) = in_force(&sql, &who.tenant).await?;
        rate::check_caller(route.budget, &who, &limits, 1).await?;
    }
    let req = read_body(req, body, route_limit(route).await?).await?;
    Ok(ApiCall {
        req,
        sql,
        who,
        handler,
        params,
    })
}

/// A request to a component that serves public routes too.
pub enum Call<H> {
    /// A public route (no key needed; the handler limits and authenticates
    /// as it needs): body read, store open.
    Public(PublicCall<H>),
    /// An authenticated route, through the same checks as [`api_call`].
    Authenticated(ApiCall<H>),
}

/// Route a request that may be public: one match, then [`api_call`]'s
/// checks for an authenticated route.
pub async fn any_call<H: Served>(req: Request) -> Result<Call<H>, ApiError> {
    let (head, body) = split_request(req);
    let (route, handler, params) = route::<H>(&head)?;
    if route.is_authenticated() {
        return Ok(Call::Authenticated(
            authenticated(head, body, route, handler, params).await?,
        ));
    }
    let sql = store().await?;
    let req = read_body(head, body, route_limit(route).await?).await?;
    Ok(Call::Public(PublicCall { req, sql, handler }))
}

/// The body limit a route declares.
async fn route_limit(route: &Route) -> Result<BodyLimit, ApiError> {
    match route.body {
        lode_auth::routes::Body::Json => body_limit().await,
        lode_auth::routes::Body::Upload => upload_limit().await,
    }
}

/// The upload limit from the `max_upload_bytes` variable.
pub async fn upload_limit() -> Result<BodyLimit, ApiError> {
    BodyLimit::parse(&variable("max_upload_bytes").await?).map_err(|e| {
        crate::log_error!("{e}");
        ApiError::internal()
    })
}

/// [`lode_store::Sql`] over Spin's `spin:sqlite` host store; clones share
/// the connection (see [`store`]).
#[derive(Clone)]
pub struct SpinSql(std::rc::Rc<sqlite::Connection>);

impl SpinSql {
    /// Open a database the component declared in `sqlite_databases`.
    pub async fn open(label: &str) -> Result<SpinSql, ApiError> {
        sqlite::Connection::open(label)
            .await
            .map(|c| SpinSql(std::rc::Rc::new(c)))
            .map_err(|e| {
                crate::log_error!("opening sqlite database {label:?}: {e:?}");
                ApiError::unavailable("the database is unavailable")
            })
    }
}

fn to_spin(v: Value) -> sqlite::Value {
    match v {
        Value::Null => sqlite::Value::Null,
        Value::Integer(n) => sqlite::Value::Integer(n),
        Value::Real(f) => sqlite::Value::Real(f),
        Value::Text(s) => sqlite::Value::Text(s),
        Value::Blob(b) => sqlite::Value::Blob(b),
    }
}

fn from_spin(v: &sqlite::Value) -> Value {
    match v {
        sqlite::Value::Null => Value::Null,
        sqlite::Value::Integer(n) => Value::Integer(*n),
        sqlite::Value::Real(f) => Value::Real(*f),
        sqlite::Value::Text(s) => Value::Text(s.clone()),
        sqlite::Value::Blob(b) => Value::Blob(b.clone()),
    }
}

impl Sql for SpinSql {
    async fn query(&self, statement: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        let result = self
            .0
            .execute(statement, params.into_iter().map(to_spin))
            .await
            .map_err(|e| StoreError::Database(format!("{e:?}")))?;
        let rows = result
            .collect()
            .await
            .map_err(|e| StoreError::Database(format!("{e:?}")))?;
        Ok(rows
            .iter()
            .map(|r| Row(r.values.iter().map(from_spin).collect()))
            .collect())
    }

    async fn execute(&self, statement: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        self.query(statement, params).await?;
        Ok(self.0.changes().await)
    }
}
