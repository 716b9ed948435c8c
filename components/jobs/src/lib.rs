//! The jobs API. Routes:
//! - `GET /api/jobs?status=&limit=`, `GET /api/jobs/dead`: the tenant's jobs;
//! - `GET /api/jobs/{id}`: one job; `GET /api/jobs/batches/{id}`: a batch
//!   with aggregate progress;
//! - `GET /api/jobs/{id}/events`: Server-Sent Events, one per step, ending
//!   with the final state. The response holds the events recorded so far and
//!   ends; `retry:` tells an `EventSource` when to reconnect, and its
//!   `Last-Event-ID` resumes after the last event it saw;
//! - `POST /api/jobs/{id}/retry`, `POST /api/jobs/redrive`: re-queue failed
//!   or dead jobs (editor);
//! - `POST /api/admin/jobs/sweep`: re-publish stranded jobs (admin; meant for
//!   a cron, and run on an interval by lode-host).

use std::time::Duration;

use lode_api::ApiError;
use lode_auth::routes::JobsRoute;
use lode_common::{ApiCall, Reply, api_call, number_variable};
use lode_jobs::{Jobs, Queue, Status};
use lode_store::ids::now_ms;
use serde_json::json;
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

/// Jobs published per sweep.
const SWEEP_LIMIT: u32 = 500;
/// When an `EventSource` reconnects for more events.
const SSE_RETRY_MS: u32 = 1000;

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
    let jobs = Jobs::new(&sql, &who.tenant);
    let id = params.get("id");
    let now = now_ms();
    match handler {
        JobsRoute::List => {
            let (status, limit) = list_query(&req.query)?;
            Ok(Reply::json(
                200,
                json!({ "data": jobs.list(status, limit).await? }),
            ))
        }
        JobsRoute::Dead => Ok(Reply::json(
            200,
            json!({ "data": jobs.list(Some(Status::Dead), 100).await? }),
        )),
        JobsRoute::Redrive => {
            let revived = jobs.redrive(now).await?;
            for job in &revived {
                lode_common::wake(&job.job_id, job.channel()).await;
            }
            Ok(Reply::json(200, json!({ "data": revived })))
        }
        JobsRoute::Batch => found(jobs.batch(id).await?),
        JobsRoute::Get => found(jobs.get(id).await?),
        JobsRoute::Retry => {
            let job = jobs
                .retry(id, now)
                .await?
                .ok_or_else(|| ApiError::not_found("job"))?;
            lode_common::wake(&job.job_id, job.channel()).await;
            Ok(Reply::json(200, job))
        }
        JobsRoute::Events => {
            let after = req
                .header("last-event-id")
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(0);
            let events = jobs
                .events(id, after)
                .await?
                .ok_or_else(|| ApiError::not_found("job"))?;
            let mut body = format!("retry: {SSE_RETRY_MS}\n\n");
            for e in events {
                let event = if e.status.is_final() {
                    "end"
                } else {
                    "progress"
                };
                let data = serde_json::to_string(&e).map_err(|_| ApiError::internal())?;
                body.push_str(&format!("id: {}\nevent: {event}\ndata: {data}\n\n", e.seq));
            }
            Ok(Reply::text(200, "text/event-stream", body))
        }
        JobsRoute::Sweep => {
            if !who.is_bootstrap() {
                return Err(ApiError::forbidden(
                    "the sweep needs the bootstrap admin key",
                ));
            }
            // A queued job untouched this long lost its wake-up.
            let stale = Duration::from_secs(number_variable("job_stale_secs").await?);
            let swept = Queue::new(&sql, lode_jobs::LEASE)
                .sweep(now, stale, SWEEP_LIMIT)
                .await?;
            let mut published = 0;
            for s in &swept {
                published += usize::from(lode_common::wake(&s.job_id, s.channel()).await);
            }
            // Chunks from before full-text statistics were per tenant.
            let analyzed =
                lode_index::analyze_any_pending(&sql, lode_index::BACKFILL_BATCH).await?;
            Ok(Reply::json(
                200,
                json!({ "swept": swept.len(), "published": published, "analyzed": analyzed }),
            ))
        }
    }
}

fn list_query(query: &str) -> Result<(Option<Status>, u32), ApiError> {
    let (mut status, mut limit) = (None, None);
    for (k, v) in lode_api::query::pairs(query) {
        match k.as_str() {
            "status" => {
                status = Some(Status::parse(&v).ok_or_else(|| {
                    ApiError::invalid(
                        "status must be queued, processing, completed, failed or dead",
                    )
                })?)
            }
            "limit" => limit = Some(v),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {k:?}; use status or limit"
                )));
            }
        }
    }
    Ok((status, lode_api::query::limit(limit.as_deref(), 20, 100)?))
}

fn found<T: serde::Serialize>(value: Option<T>) -> Result<Reply, ApiError> {
    value
        .map(|v| Reply::json(200, v))
        .ok_or_else(|| ApiError::not_found("job"))
}
