//! Rate limits (`lode-ratelimit` token buckets) in Spin's key-value store,
//! so they hold across per-request instances: per key for authenticated
//! calls, per client address for calls without a valid key. The budget
//! follows the route's scope: chat and tools draw from the LLM budget,
//! uploads and URL ingestion from the ingestion budget, the rest from the
//! API budget. A tenant's `rate_limits` setting overrides the defaults.
//!
//! If the key-value store cannot be opened the request goes ahead (logged):
//! a rate limit protects capacity, it is not access control.

use lode_api::{ApiError, ErrorCode};
use lode_ratelimit::{Bucket, Budget, Limits, bucket_key, take};
use lode_store::ids::now_ms;

/// Take a token from `caller`'s `budget`; 429 with `Retry-After` and the
/// `RateLimit-*` headers when it is empty.
pub async fn check(budget: Budget, caller: &str, limits: &Limits) -> Result<(), ApiError> {
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
    let decision = take(stored, limits.per_minute(budget), now_ms());
    let bytes = serde_json::to_vec(&decision.bucket).unwrap_or_default();
    if let Err(e) = store.set(key, bytes).await {
        crate::log_warn!("rate limit bucket not saved: {e:?}");
    }
    if decision.allowed {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::TooManyRequests,
        format!(
            "rate limit reached: {} {} requests a minute; retry in {} s",
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
        format!("{};w=60;name=\"{}\"", decision.limit, budget.as_str()),
    ))
}
