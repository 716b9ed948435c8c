//! `GET /metrics`: Lode's metrics in the Prometheus text format, for an
//! admin key or token (scrape with `authorization: Bearer …`, which
//! Prometheus supports). The series span tenants, so only the operator's
//! bootstrap key may read them; a tenant admin gets 403.

use lode_api::ApiError;
use lode_common::routes::MetricsRoute;
use lode_common::{ApiCall, Reply, api_call};
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

/// The media type of the text exposition format 0.0.4.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    lode_common::handle(env!("CARGO_PKG_NAME"), req, serve).await
}

async fn serve(req: Request) -> Result<Reply, ApiError> {
    let ApiCall {
        sql, who, handler, ..
    } = api_call(req).await?;
    let MetricsRoute::Scrape = handler;
    if !who.is_bootstrap() {
        return Err(ApiError::forbidden(
            "metrics span every tenant: use the operator's admin_api_key",
        ));
    }
    let text = lode_metrics::render(&sql).await.map_err(|e| {
        lode_common::log_error!("rendering metrics: {e}");
        ApiError::internal()
    })?;
    Ok(Reply::text(200, PROMETHEUS_TEXT, text))
}
