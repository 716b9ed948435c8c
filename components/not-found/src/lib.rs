//! The `/...` catch-all: Spin's own answer to an unmatched path is an empty
//! 404; Lode answers every error in its JSON shape instead, with a request
//! id, and counts it (route label `unmatched`, so scans show in metrics).
//! It reaches no host.

use lode_api::{ApiError, ErrorCode};
use lode_common::Reply;
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    lode_common::handle(env!("CARGO_PKG_NAME"), req, serve).await
}

async fn serve(req: Request) -> Result<Reply, ApiError> {
    let message = format!("no route for {} {}", req.method(), req.uri().path());
    Err(ApiError::new(ErrorCode::NotFound, message))
}
