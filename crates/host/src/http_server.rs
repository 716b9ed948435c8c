//! The HTTP trigger: serve every `[[trigger.http]]` route on one listener.
//!
//! For each request: route with Spin's rules, add Spin's `spin-*` headers,
//! instantiate the component in a fresh store, call its `wasi:http/handler`
//! export, and stream the response back. One JSON log line per request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;

use crate::routes::{RouteMatch, Router, spin_headers};
use crate::runtime::{App, Deadline, Loaded};

/// The methods of RFC 9110 and RFC 5789; lode-host refuses any other before
/// a guest runs (Spin passes extension methods through).
const STANDARD_METHODS: &[http::Method] = &[
    http::Method::GET,
    http::Method::HEAD,
    http::Method::POST,
    http::Method::PUT,
    http::Method::DELETE,
    http::Method::CONNECT,
    http::Method::OPTIONS,
    http::Method::TRACE,
    http::Method::PATCH,
];

/// Response body type: streamed from the guest, or a small host-made body.
pub type Body = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

fn host_response(status: u16, text: &'static str) -> hyper::Response<Body> {
    let body = Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|e: Infallible| match e {})
        .boxed_unsync();
    hyper::Response::builder()
        .status(status)
        .body(body)
        .expect("valid response")
}

/// The HTTP side of the application.
pub struct HttpTrigger {
    app: Arc<App>,
    router: Router,
}

impl HttpTrigger {
    /// Build the router from the manifest.
    pub fn new(app: Arc<App>) -> HttpTrigger {
        let router = Router::new(
            app.manifest
                .trigger
                .http
                .iter()
                .map(|t| (t.route.as_str(), t.component.as_ref())),
        );
        for (component, route) in &router.duplicates {
            eprintln!(
                "The following component routes are duplicates and will never be used:\n  {component}: {route}"
            );
        }
        HttpTrigger { app, router }
    }

    /// Print the routes, as `spin up` does.
    pub fn print_routes(&self, base: &str) {
        eprintln!("Available Routes:");
        for r in self.router.routes() {
            let shown = match r.raw.strip_suffix("/...") {
                Some(prefix) => format!("{base}{prefix} (wildcard)"),
                None => format!("{base}{}", r.raw),
            };
            eprintln!("  {}: {shown}", r.component);
        }
    }

    /// Accept connections until `shutdown` resolves, then let in-flight requests finish.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, client) = match accepted {
                        Ok(a) => a,
                        Err(e) => { eprintln!("accept failed: {e}"); continue; }
                    };
                    // Responses are written in several pieces (head, chunks); without
                    // NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms on keep-alive connections.
                    let _ = stream.set_nodelay(true);
                    let this = self.clone();
                    let service = service_fn(move |req| {
                        let this = this.clone();
                        async move { Ok::<_, Infallible>(this.handle(req, client).await) }
                    });
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await
                            && !e.is_incomplete_message()
                        {
                            eprintln!("connection error: {e}");
                        }
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        drop(listener);
        graceful.shutdown().await;
        Ok(())
    }

    async fn handle(
        &self,
        req: hyper::Request<Incoming>,
        client: SocketAddr,
    ) -> hyper::Response<Body> {
        let start = Instant::now();
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let matched = self.router.route(&path);
        let response = match &matched {
            // A method no one defined runs no guest (RFC 9110 §9.1: 501).
            _ if !STANDARD_METHODS.contains(req.method()) => json_error(
                501,
                "not_implemented",
                "unknown HTTP method; use GET, HEAD, POST, PUT, DELETE, OPTIONS or PATCH",
            ),
            // Answered by Spin itself, before routing.
            None if path == "/.well-known/spin/health" => host_response(200, "OK"),
            // Spin answers unmatched paths with an empty 404.
            None => host_response(404, ""),
            Some(m) => match self.app.components.get(&m.component) {
                Some(c) => self.call(c, m, req, client).await,
                None => host_response(500, ""),
            },
        };
        let line = json!({
            "ts_ms": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
            "method": method,
            "path": path,
            "route": matched.as_ref().map(|m| m.raw.as_str()),
            "component": matched.as_ref().map(|m| m.component.as_str()),
            "status": response.status().as_u16(),
            "duration_ms": (start.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        });
        println!("{line}");
        response
    }

    async fn call(
        &self,
        component: &Loaded,
        m: &RouteMatch,
        req: hyper::Request<Incoming>,
        client: SocketAddr,
    ) -> hyper::Response<Body> {
        match self.try_call(component, m, req, client).await {
            Ok(r) => r,
            Err(status) => host_response(status, ""),
        }
    }

    async fn try_call(
        &self,
        component: &Loaded,
        m: &RouteMatch,
        req: hyper::Request<Incoming>,
        client: SocketAddr,
    ) -> Result<hyper::Response<Body>, u16> {
        let pre = component.http.clone().ok_or(500u16)?;
        let (mut parts, body) = req.into_parts();
        let authority = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_owned();
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let full_url = format!("http://{authority}{pq}");
        for (name, value) in spin_headers(m, &full_url, client) {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                parts.headers.insert(n, v);
            }
        }
        parts.uri = full_url.parse().map_err(|_| 400u16)?;
        let req = http::Request::from_parts(parts, body);

        let deadline = Deadline::after(self.app.deadlines.request);
        let mut store = component.store(&self.app.engine, &deadline).map_err(|e| {
            eprintln!("component {}: {e:#}", component.id);
            500u16
        })?;
        let service = pre.instantiate_async(&mut store).await.map_err(|e| {
            if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
                .is_some()
            {
                eprintln!("component {}: instance pool exhausted", component.id);
                503u16
            } else {
                eprintln!("component {}: instantiation failed: {e:#}", component.id);
                500
            }
        })?;
        let (wreq, req_io) =
            wasmtime_wasi_http::p3::Request::from_http(store.data_mut().hooks(), req);
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<hyper::Response<Body>, ErrorCode>>();
        let id = component.id.clone();
        tokio::spawn(async move {
            let run = store
                .run_concurrent(async move |acc| -> wasmtime::Result<()> {
                    let outcome = match service.handle(acc, wreq).await? {
                        Ok(res) => Ok(acc.with(|a| res.into_http(a, req_io))?),
                        Err(code) => Err(code),
                    };
                    let _ = tx.send(outcome);
                    // Keep the event loop alive until the guest task exits: it may
                    // still be writing a streamed body after `handle` returned.
                    std::future::poll_fn(|cx| acc.poll_no_interesting_tasks(cx)).await;
                    Ok(())
                })
                .await;
            match run {
                Ok(Ok(())) => {}
                Ok(Err(e)) | Err(e) => eprintln!("component {id}: error processing request: {e:#}"),
            }
        });
        match rx.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(code)) => {
                eprintln!(
                    "component {}: handler returned error-code {code:?}",
                    component.id
                );
                Err(500)
            }
            Err(_) if deadline.passed() => {
                let secs = self.app.deadlines.request.as_secs();
                eprintln!(
                    "component {}: request stopped after {secs} s (LODE_REQUEST_TIMEOUT_SECS)",
                    component.id
                );
                Ok(json_error(
                    503,
                    "timeout",
                    &format!("the request ran longer than this server allows ({secs} s)"),
                ))
            }
            Err(_) => Err(500),
        }
    }
}

/// A JSON error the host itself answers with, in Lode's shape.
fn json_error(status: u16, code: &str, message: &str) -> hyper::Response<Body> {
    let body = json!({"error": {"code": code, "message": message}}).to_string();
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(
            Full::new(Bytes::from(body))
                .map_err(|e: Infallible| match e {})
                .boxed_unsync(),
        )
        .expect("valid response")
}
