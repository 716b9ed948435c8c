//! Administration: `POST/GET /api/keys`, `DELETE /api/keys/{id}`, and the
//! audit log `GET /api/admin/audit?limit=&before=` (admin scope).

use lode_api::{ApiError, query};
use lode_auth::{CreateKey, Keys, Principal};
use lode_common::routes::KeysRoute;
use lode_common::{ApiCall, Reply, SpinSql, api_call, body_limit};
use lode_store::Audit;
use serde_json::json;
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    lode_common::handle(env!("CARGO_PKG_NAME"), req, serve).await
}

async fn serve(req: Request) -> Result<Reply, ApiError> {
    let ApiCall {
        req,
        sql,
        who,
        handler,
        params,
    } = api_call(req).await?;
    let keys = Keys::new(&sql, &who);
    match handler {
        KeysRoute::Create => {
            let created = keys
                .create(req.json::<CreateKey>(body_limit().await?)?)
                .await?;
            Ok(Reply::json(201, &created).at(format!("/api/keys/{}", created.id)))
        }
        KeysRoute::List => Ok(Reply::json(200, json!({ "data": keys.list().await? }))),
        KeysRoute::Delete => match keys.revoke(params.get("id")).await? {
            true => Ok(Reply::empty(204)),
            false => Err(ApiError::not_found("key")),
        },
        KeysRoute::Audit => audit(&sql, &who, &req.query).await,
    }
}

/// The caller's tenant's audit log, newest first: `?limit=` (1-200, default
/// 50) and `?before=` (an entry id, to page back).
async fn audit(sql: &SpinSql, who: &Principal, query_string: &str) -> Result<Reply, ApiError> {
    let mut limit = 50;
    let mut before = None;
    for (k, v) in query::pairs(query_string) {
        let bad = || ApiError::invalid(format!("{k} must be a whole number"));
        match k.as_str() {
            "limit" => limit = v.parse::<u32>().map_err(|_| bad())?,
            "before" => before = Some(v.parse::<i64>().map_err(|_| bad())?),
            _ => return Err(ApiError::invalid(format!("unknown query parameter {k:?}"))),
        }
    }
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit must be 1-200"));
    }
    let entries = Audit::new(sql, &who.tenant).list(limit, before).await?;
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Reply::json(
        200,
        json!({ "data": entries, "next_before": next }),
    ))
}
