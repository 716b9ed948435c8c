//! `GET /api/usage[?from=YYYY-MM-DD&to=YYYY-MM-DD]`: the tenant's LLM calls,
//! tokens and cost (from the registry's prices), per UTC day, provider and
//! model, with totals. The default period is the last 30 days. `quotas`
//! shows each quota in force with what is used and what is left.

use lode_api::ApiError;
use lode_common::routes::UsageRoute;
use lode_common::{ApiCall, Reply, api_call};
use lode_store::Usage;
use lode_store::ids::now_ms;
use lode_store::usage::day;
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

const DAY_MS: i64 = 86_400_000;

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
        ..
    } = api_call(req).await?;
    let UsageRoute::Usage = handler;
    let now = now_ms();
    let (mut from, mut to) = (day(now - 29 * DAY_MS), day(now));
    for (k, v) in lode_api::query::pairs(&req.query) {
        let slot = match k.as_str() {
            "from" => &mut from,
            "to" => &mut to,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {k:?}; use from and to (YYYY-MM-DD)"
                )));
            }
        };
        if !is_day(&v) {
            return Err(ApiError::invalid(format!("{k} must be a date, YYYY-MM-DD")));
        }
        *slot = v;
    }
    if from > to {
        return Err(ApiError::invalid("from must not be after to"));
    }
    let report = Usage::new(&sql, &who.tenant).report(&from, &to).await?;
    let quotas = lode_common::quota(&sql, &who.tenant)
        .await?
        .allowances(now)
        .await?;
    let mut body = serde_json::to_value(report).map_err(|_| ApiError::internal())?;
    body["quotas"] = serde_json::to_value(quotas).map_err(|_| ApiError::internal())?;
    Ok(Reply::json(200, body))
}

/// `YYYY-MM-DD` with plausible numbers (compared as text, so the shape matters).
fn is_day(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s.split('-').all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && matches!(s[5..7].parse::<u8>(), Ok(1..=12))
        && matches!(s[8..10].parse::<u8>(), Ok(1..=31))
}
