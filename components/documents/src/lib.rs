//! The documents API: `/api/documents[/{id}[/versions[/{version}]]]`.
//!
//! Routing and HTTP glue only; validation and storage live in `lode-store`.

use lode_api::{ApiError, Pattern};
use lode_auth::{Action, Principal};
use lode_common::{ApiCall, ApiRequest, Reply, SpinSql, api_call, body_limit, respond};
use lode_store::{DocumentInput, Documents, ListQuery};
use serde_json::json;
use spin_sdk::http::{IntoResponse, Method, Request};
use spin_sdk::http_service;

const ROUTES: &[Pattern] = &[
    Pattern("/api/documents"),
    Pattern("/api/documents/{id}"),
    Pattern("/api/documents/{id}/versions"),
    Pattern("/api/documents/{id}/versions/{version}"),
];

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
    let docs = Documents::new(&sql, &who.tenant);
    let id = params.get("id");
    let m = &req.method;
    match (route, m) {
        (0, &Method::GET) => read(&who, list(&docs, &req).await),
        (0, &Method::POST) => {
            who.require(Action::Write)?;
            let doc = docs
                .create(req.json::<DocumentInput>(body_limit().await?)?)
                .await?;
            Ok(Reply::json(201, &doc).at(format!("/api/documents/{}", doc.id)))
        }
        (1, &Method::GET) => read(&who, found(docs.get(id).await?)),
        (1, &Method::PUT) => {
            who.require(Action::Write)?;
            let input = req.json::<DocumentInput>(body_limit().await?)?;
            found(docs.update(id, input).await?)
        }
        (1, &Method::DELETE) => {
            who.require(Action::Write)?;
            match docs.delete(id).await? {
                true => Ok(Reply::empty(204)),
                false => Err(ApiError::not_found("document")),
            }
        }
        (2, &Method::GET) => read(
            &who,
            found(docs.versions(id).await?.map(|v| json!({ "data": v }))),
        ),
        (3, &Method::GET) => {
            let version = params
                .get("version")
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request("version must be a whole number"))?;
            read(&who, found(docs.get_version(id, Some(version)).await?))
        }
        (0, _) => Err(ApiError::method_not_allowed(&["GET", "POST"])),
        (1, _) => Err(ApiError::method_not_allowed(&["GET", "PUT", "DELETE"])),
        _ => Err(ApiError::method_not_allowed(&["GET"])),
    }
}

/// Reads need `Action::Read`; checked after the work only because every role has it.
fn read(who: &Principal, reply: Result<Reply, ApiError>) -> Result<Reply, ApiError> {
    who.require(Action::Read)?;
    reply
}

async fn list(docs: &Documents<'_, SpinSql>, req: &ApiRequest) -> Result<Reply, ApiError> {
    let page = docs.list(&ListQuery::parse(&req.query)?).await?;
    Ok(Reply::json(200, page))
}

fn found<T: serde::Serialize>(value: Option<T>) -> Result<Reply, ApiError> {
    value
        .map(|v| Reply::json(200, v))
        .ok_or_else(|| ApiError::not_found("document"))
}
