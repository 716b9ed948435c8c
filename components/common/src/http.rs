//! The frame around every HTTP component's handler: [`handle`] starts the
//! request's context (id, CORS), answers CORS preflights, runs the handler,
//! then [`finish`] records the request's metrics, writes its access-log line
//! and encodes the response with the request id, CORS and security headers.

use std::future::Future;

use bytes::Bytes;
use http_body_util::Full;
use lode_api::ApiError;
use lode_metrics::HTTP_DURATION;
use serde_json::json;
use spin_sdk::http::{Method, Request, Response};

use crate::{Reply, SpinSql, context, respond};

/// Headers a browser page may send on a cross-origin call.
const CORS_ALLOW_HEADERS: &str =
    "authorization, content-type, content-disposition, x-request-id, lode-pdf-password";
/// Response headers a cross-origin page may read.
const CORS_EXPOSE_HEADERS: &str = "x-request-id, location, retry-after, ratelimit-limit, \
    ratelimit-remaining, ratelimit-reset, ratelimit-policy";
/// How long a browser may cache a preflight answer (seconds).
const CORS_MAX_AGE: &str = "600";

/// Serve `req` with `serve` in `component` (its package name, so
/// `env!("CARGO_PKG_NAME")`), framed as described in the module docs.
pub async fn handle<F, Fut>(
    component: &'static str,
    req: Request,
    serve: F,
) -> Response<Full<Bytes>>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    context::scope(async move {
        let (method, path) = begin(component, &req).await;
        if method == Method::OPTIONS {
            return finish(&method, &path, preflight(&req, &path)).await;
        }
        let result = serve(req).await;
        finish(&method, &path, result).await
    })
    .await
}

/// Start the request's context in `component` from its headers (inside a
/// [`context::scope`]); its method and path.
pub async fn begin(component: &'static str, req: &Request) -> (Method, String) {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let origin = header("origin").map(str::to_string);
    let cors_origin = match origin {
        Some(origin) if cors_allows(&origin).await => Some(origin),
        _ => None,
    };
    context::begin(component, header("x-request-id"), cors_origin);
    (req.method().clone(), req.uri().path().to_string())
}

/// Whether the `cors_allowed_origins` variable (comma-separated exact
/// origins, or `*`) lets `origin` read responses. Unset or empty: none.
async fn cors_allows(origin: &str) -> bool {
    let allowed = crate::optional_variable("cors_allowed_origins")
        .await
        .unwrap_or_default();
    lode_api::headers::origin_allowed(&allowed, origin)
}

/// Answer an `OPTIONS` request: the path's methods, and for an allowed
/// origin the CORS grant (headers added by [`respond`]). A preflight from
/// an origin that is not allowed gets 403, and the browser stops there.
pub fn preflight(req: &Request, path: &str) -> Result<Reply, ApiError> {
    let methods = lode_auth::routes::methods(path);
    if methods.is_empty() {
        return Err(ApiError::not_found("route"));
    }
    let cross_origin = req.headers().contains_key("origin");
    let allowed_origin = context::current().is_some_and(|c| c.cors_origin.is_some());
    if cross_origin && !allowed_origin {
        return Err(ApiError::forbidden(
            "this origin is not allowed to call the API (cors_allowed_origins)",
        ));
    }
    let methods = methods.join(", ");
    let mut reply = Reply::empty(204).with_header("allow", &methods);
    if allowed_origin {
        reply = reply
            .with_header("access-control-allow-methods", &methods)
            .with_header("access-control-allow-headers", CORS_ALLOW_HEADERS)
            .with_header("access-control-max-age", CORS_MAX_AGE);
    }
    Ok(reply)
}

/// The CORS headers of a response to the current request (none unless
/// its origin is allowed).
pub fn cors_headers() -> Vec<(&'static str, String)> {
    let Some(origin) = context::current().and_then(|c| c.cors_origin) else {
        return Vec::new();
    };
    vec![
        ("access-control-allow-origin", origin),
        (
            "access-control-expose-headers",
            CORS_EXPOSE_HEADERS.to_string(),
        ),
        ("vary", "origin".to_string()),
    ]
}

/// Record and log a finished request, then encode its response.
pub async fn finish(
    method: &Method,
    path: &str,
    result: Result<Reply, ApiError>,
) -> Response<Full<Bytes>> {
    if let Err(e) = &result
        && e.status() >= 500
    {
        crate::log::line(
            "error",
            env!("CARGO_PKG_NAME"),
            "request_failed",
            json!({"status": e.status(), "code": e.code.as_str(), "cause": e.cause}),
        );
    }
    let result = match result {
        Err(e) if openai_surface(path) => Ok(openai_error(e)),
        other => other,
    };
    let status = match &result {
        Ok(reply) => reply.status(),
        Err(e) => e.status(),
    };
    record(method, path, status).await;
    respond(result)
}

/// Whether `path` is on the OpenAI-compatible surface, whose errors take
/// OpenAI's statuses and shape (the frame's 401 and 429 included).
fn openai_surface(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// `e` as OpenAI's API would send it ([`ApiError::to_openai`]).
fn openai_error(e: ApiError) -> Reply {
    let (status, body) = e.to_openai();
    let mut reply = Reply::json(status, body);
    for (name, value) in e.headers {
        reply = reply.with_header(&name, &value);
    }
    reply
}

/// Count a request in `lode_http_request_duration_seconds` and write its
/// access-log line: method, route pattern (never the path: ids are not
/// labels), status and duration. Called by [`finish`], and by a streaming
/// handler once its headers are sent.
pub async fn record(method: &Method, path: &str, status: u16) {
    let Some(ctx) = context::current() else {
        return;
    };
    let secs = ctx.started.elapsed().as_secs_f64();
    let route = ctx
        .route
        .unwrap_or_else(|| lode_auth::routes::label(method.as_str(), path));
    crate::log::line(
        "info",
        env!("CARGO_PKG_NAME"),
        "request",
        json!({
            "method": method.as_str(),
            "route": route,
            "status": status,
            "duration_ms": (secs * 1000.0 * 10.0).round() / 10.0,
        }),
    );
    let labels = [
        ("route", route),
        ("method", lode_metrics::method_label(method.as_str())),
        ("status", &status.to_string()),
    ];
    crate::metrics::observe(HTTP_DURATION, &labels, secs).await;
}

/// The request's store for recording ([`crate::store`]: the handler's
/// connection when it opened one); `None` when it is unavailable: metrics
/// must never cost a request its answer.
pub(crate) async fn metrics_store() -> Option<SpinSql> {
    crate::store().await.ok()
}
