//! What every log line and response of one request shares: its id, when it
//! started, whether its origin may read the answer (CORS), its tenant, and
//! the host resources it opened once (the store, the variables read).
//!
//! Real Spin reuses a WASIp3 instance for up to 128 requests, 16 of them at
//! a time (`DEFAULT_WASIP3_MAX_INSTANCE_REUSE_COUNT` and
//! `DEFAULT_WASIP3_MAX_INSTANCE_CONCURRENT_REUSE_COUNT` in Spin's
//! `crates/trigger-http/src/lib.rs`), so requests interleave inside one
//! instance at every host call. The context is therefore *task*-local: a
//! request runs inside [`scope`], which installs its context in the
//! thread-local slot only while its future is being polled and puts the
//! neighbour's back afterwards (as `tokio::task_local!` does). Work a
//! request spawns carries its context with it ([`spawn`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use lode_store::ids::random_bytes;

use crate::SpinSql;

/// The current request (or queued job).
#[derive(Clone)]
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
    /// The route pattern it matched, once routed (the metrics label).
    pub route: Option<&'static str>,
    /// What the request opened once and shares (see [`crate::store`] and
    /// [`crate::variable`]).
    pub(crate) opened: Rc<Opened>,
}

/// Host resources a request opens at most once.
#[derive(Default)]
pub(crate) struct Opened {
    /// The default store, opened and migrated.
    pub store: RefCell<Option<SpinSql>>,
    /// Spin variables read so far (`None`: unavailable).
    pub variables: RefCell<HashMap<String, Option<String>>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Start a request's context in `component`: its id is `header` when that
/// is 1-128 characters of `[A-Za-z0-9._:-]` (so it cannot forge log lines),
/// else new. Call it inside [`scope`].
pub fn begin(
    component: &'static str,
    header: Option<&str>,
    cors_origin: Option<String>,
) -> Context {
    // Resources opened before the request was identified (a CORS check's
    // variables) stay with it.
    let opened = current().map(|c| c.opened).unwrap_or_default();
    let ctx = Context {
        component,
        request_id: lode_api::headers::accept_request_id(header)
            .map(str::to_string)
            .unwrap_or_else(new_request_id),
        started: Instant::now(),
        cors_origin,
        tenant: None,
        route: None,
        opened,
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
    update(|ctx| ctx.tenant = Some(tenant.to_string()));
}

/// Record the route pattern the request matched.
pub fn set_route(pattern: &'static str) {
    update(|ctx| ctx.route = Some(pattern));
}

fn update(change: impl FnOnce(&mut Context)) {
    CURRENT.with(|c| {
        if let Some(ctx) = c.borrow_mut().as_mut() {
            change(ctx);
        }
    });
}

/// Run `fut` as one request: with a context of its own (empty until
/// [`begin`]), never seeing or changing a concurrent request's.
pub fn scope<F: Future>(fut: F) -> Scoped<F> {
    crate::log::install();
    Scoped {
        ctx: Some(Context {
            component: "",
            request_id: String::new(),
            started: Instant::now(),
            cors_origin: None,
            tenant: None,
            route: None,
            opened: Rc::default(),
        }),
        fut: Box::pin(fut),
    }
}

/// Spawn `fut` on Spin's executor (a streamed answer's producer, say) with
/// the current request's context.
pub fn spawn(fut: impl Future<Output = ()> + 'static) {
    spin_sdk::wasip3::spawn(Scoped {
        ctx: current(),
        fut: Box::pin(fut),
    });
}

/// A future that runs with its own context installed (see the module docs).
pub struct Scoped<F> {
    ctx: Option<Context>,
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let neighbour = CURRENT.with(|c| c.replace(this.ctx.take()));
        let out = this.fut.as_mut().poll(cx);
        // Keep what the request changed (its id, tenant, route) for the next poll.
        this.ctx = CURRENT.with(|c| c.replace(neighbour));
        out
    }
}

fn new_request_id() -> String {
    format!("req_{}", hex(&random_bytes::<12>()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
