//! The API-key admin API: `POST/GET /api/keys`, `DELETE /api/keys/{id}` (admin role only).

use lode_api::{ApiError, Pattern};
use lode_auth::{CreateKey, Keys};
use lode_common::{ApiCall, Reply, api_call, body_limit, respond};
use serde_json::json;
use spin_sdk::http::{IntoResponse, Method, Request};
use spin_sdk::http_service;

const ROUTES: &[Pattern] = &[Pattern("/api/keys"), Pattern("/api/keys/{id}")];

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    respond(serve(req).await)
}

async fn serve(req: Request) -> Result<Reply, ApiError> {
    let ApiCall {
        req,
        sql,
        who,
        route,
        params,
    } = api_call(req, ROUTES).await?;
    let keys = Keys::new(&sql, &who);
    match (route, &req.method) {
        (0, &Method::POST) => {
            let created = keys
                .create(req.json::<CreateKey>(body_limit().await?)?)
                .await?;
            Ok(Reply::json(201, &created).at(format!("/api/keys/{}", created.id)))
        }
        (0, &Method::GET) => Ok(Reply::json(200, json!({ "data": keys.list().await? }))),
        (1, &Method::DELETE) => match keys.revoke(params.get("id")).await? {
            true => Ok(Reply::empty(204)),
            false => Err(ApiError::not_found("key")),
        },
        (0, _) => Err(ApiError::method_not_allowed(&["GET", "POST"])),
        _ => Err(ApiError::method_not_allowed(&["DELETE"])),
    }
}
