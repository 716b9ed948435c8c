//! Rate limits (`lode-ratelimit` token buckets) in Spin's key-value store,
//! so they hold across per-request instances: per key and per tenant for
//! authenticated calls (so minting keys or users does not multiply a
//! tenant's budget), per client address for calls without a valid key. The budget
//! follows the route's scope: chat and tools draw from the LLM budget,
//! uploads and URL ingestion from the ingestion budget, the rest from the
//! API budget. A tenant's `rate_limits` setting overrides the defaults, up
//! to the operator's ceiling (`tenant_ceiling`).
//!
//! If the key-value store cannot be opened the request goes ahead (logged):
//! a rate limit protects capacity, it is not access control.

use lode_api::{ApiError, ErrorCode};
use lode_auth::Principal;
use lode_ratelimit::{Bucket, Budget, Limits, bucket_key, take_n};
use lode_store::ids::now_ms;

/// Take `n` tokens of `budget` from the caller's own bucket, then from its
/// tenant's; 429 with `Retry-After` and the `RateLimit-*` headers of the
/// bucket that is empty (a refusal by the key's bucket spends nothing of
/// the tenant's).
pub async fn check_caller(
    budget: Budget,
    who: &Principal,
    limits: &Limits,
    n: u32,
) -> Result<(), ApiError> {
    take_from(budget, &who.actor(), limits.per_minute(budget), n, "").await?;
    if let Some(per_minute) = limits.tenant_per_minute(budget) {
        let tenant = format!("tenant:{}", who.tenant.as_str());
        take_from(budget, &tenant, per_minute, n, "the tenant's ").await?;
    }
    Ok(())
}

/// Charge `who` for `n` more calls of `budget` than the frame charged for
/// the request itself (a tool run pays for every LLM call it plans, not
/// once). The operator's bootstrap key is not limited.
pub async fn charge_more(
    sql: &crate::SpinSql,
    who: &Principal,
    budget: Budget,
    n: u32,
) -> Result<(), ApiError> {
    if who.is_bootstrap() || n == 0 {
        return Ok(());
    }
    let (limits, _) = crate::in_force(sql, &who.tenant).await?;
    check_caller(budget, who, &limits, n).await
}

/// Take a token from `caller`'s `budget` (a client address); 429 with
/// `Retry-After` and the `RateLimit-*` headers when it is empty.
pub async fn check(budget: Budget, caller: &str, limits: &Limits) -> Result<(), ApiError> {
    take_from(budget, caller, limits.per_minute(budget), 1, "").await
}

async fn take_from(
    budget: Budget,
    caller: &str,
    per_minute: u32,
    n: u32,
    whose: &str,
) -> Result<(), ApiError> {
    let store = match spin_sdk::key_value::Store::open_default().await {
        Ok(store) => store,
        Err(e) => {
            crate::log_warn!("rate limit not checked (key-value store: {e:?})");
            return Ok(());
        }
    };
    let key = bucket_key(budget, caller);
    let stored: Option<Bucket> = match store.get(key.clone()).await {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).ok(),
        _ => None,
    };
    let decision = take_n(stored, per_minute, n, now_ms());
    let bytes = serde_json::to_vec(&decision.bucket).unwrap_or_default();
    if let Err(e) = store.set(key, bytes).await {
        crate::log_warn!("rate limit bucket not saved: {e:?}");
    }
    if decision.allowed {
        return Ok(());
    }
    let name = match whose {
        "" => budget.as_str().to_string(),
        _ => format!("tenant-{}", budget.as_str()),
    };
    Err(ApiError::new(
        ErrorCode::TooManyRequests,
        format!(
            "{whose}rate limit reached: {} {} requests a minute; retry in {} s",
            decision.limit,
            budget.as_str(),
            decision.retry_after_secs
        ),
    )
    .with_header("retry-after", decision.retry_after_secs.to_string())
    .with_header("ratelimit-limit", decision.limit.to_string())
    .with_header("ratelimit-remaining", decision.remaining.to_string())
    .with_header("ratelimit-reset", decision.reset_secs.to_string())
    .with_header(
        "ratelimit-policy",
        format!("{};w=60;name=\"{name}\"", decision.limit),
    ))
}
