//! The `/...` catch-all: Spin's own answer to an unmatched path is an empty
//! 404; Lode answers every error in its JSON shape instead. It needs no
//! capabilities: it opens no store and reaches no host.

use lode_api::{ApiError, ErrorCode};
use lode_common::respond;
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let message = format!("no route for {} {}", req.method(), req.uri().path());
    respond(Err(ApiError::new(ErrorCode::NotFound, message)))
}
