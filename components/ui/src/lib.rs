//! The web app's pages and files. Spin mounts the built app (`web/dist`) at
//! `/` through the component's `files`; `lode_assets` picks the file and its
//! headers. The app is a client of the public API only: it holds no
//! secrets, reaches no store, and needs no authentication to load.

use bytes::Bytes;
use http_body_util::Full;
use lode_api::{ApiError, ErrorCode};
use lode_assets::AssetError;
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let accept = req
        .headers()
        .get("accept-encoding")
        .and_then(|v| v.to_str().ok());
    let served = lode_assets::serve(
        std::path::Path::new("/"),
        req.method().as_str(),
        req.uri().path(),
        accept,
    );
    match served {
        Ok(asset) => {
            let mut builder = Response::builder().status(asset.status);
            for (name, value) in asset.headers {
                builder = builder.header(name, value);
            }
            builder
                .body(Full::new(Bytes::from(asset.body)))
                .expect("static headers are valid")
        }
        Err(e) => lode_common::respond(Err(api_error(e))),
    }
}

fn api_error(e: AssetError) -> ApiError {
    match e {
        AssetError::MethodNotAllowed(_) => ApiError::method_not_allowed(&["GET", "HEAD"]),
        AssetError::NotFound(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
        AssetError::NotBuilt(_) => ApiError::unavailable(e.to_string()),
    }
}
