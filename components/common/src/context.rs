//! What every log line and response of one request shares: its id, when it
//! started, and whether its origin may read the answer (CORS).
//!
//! Spin runs one instance per request (and one per Redis message), so the
//! instance's thread-local state *is* the request's: [`begin`] fills it
//! when the request arrives, everything after reads it.

use std::cell::RefCell;
use std::time::Instant;

use lode_store::ids::random_bytes;

/// The current request (or queued job).
#[derive(Debug, Clone)]
pub struct Context {
    /// The component serving it (its package name), named in every log line.
    pub component: &'static str,
    /// `X-Request-Id` as received (when well-formed) or made here.
    pub request_id: String,
    /// When the request arrived.
    pub started: Instant,
    /// The `Origin` to answer with CORS headers, when it is allowed.
    pub cors_origin: Option<String>,
    /// The caller's tenant, once authenticated.
    pub tenant: Option<String>,
}

thread_local! {
    static CURRENT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Start a request's context in `component`: its id is `header` when that
/// is 1-128 characters of `[A-Za-z0-9._:-]` (so it cannot forge log lines),
/// else new.
pub fn begin(
    component: &'static str,
    header: Option<&str>,
    cors_origin: Option<String>,
) -> Context {
    let ctx = Context {
        component,
        request_id: lode_api::headers::accept_request_id(header)
            .map(str::to_string)
            .unwrap_or_else(new_request_id),
        started: Instant::now(),
        cors_origin,
        tenant: None,
    };
    CURRENT.with(|c| *c.borrow_mut() = Some(ctx.clone()));
    ctx
}

/// The current context, if a request or job began one.
pub fn current() -> Option<Context> {
    CURRENT.with(|c| c.borrow().clone())
}

/// The current request id ("" outside a request).
pub fn request_id() -> String {
    current().map(|c| c.request_id).unwrap_or_default()
}

/// Record the authenticated tenant, for the access log.
pub fn set_tenant(tenant: &str) {
    CURRENT.with(|c| {
        if let Some(ctx) = c.borrow_mut().as_mut() {
            ctx.tenant = Some(tenant.to_string());
        }
    });
}

fn new_request_id() -> String {
    format!("req_{}", hex(&random_bytes::<12>()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
