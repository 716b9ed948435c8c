//! Rate limits as token buckets. A bucket holds up to `per_minute` tokens
//! (the burst), refills continuously at `per_minute` per minute, and each
//! request takes one. Its state is two numbers, stored by the caller in the
//! key-value store under [`bucket_key`], so the limit holds across Spin's
//! per-request instances.
//!
//! Two instances updating one bucket at the same moment may both take the
//! last token (the key-value store has no compare-and-swap): the limit can
//! be overshot by the number of concurrent requests, never undercounted
//! for long.

use serde::{Deserialize, Serialize};

mod client;
pub use client::TrustedProxies;

/// Which budget a request draws from: LLM calls and ingestion cost far more
/// than reads, so they have their own, smaller budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Ordinary API calls.
    Api,
    /// Chat and LLM tools (LLM cost).
    Llm,
    /// Uploads and URL ingestion (CPU for embedding).
    Ingest,
    /// Requests without a valid key, per client address (slows key guessing).
    Anonymous,
    /// Password attempts (login, open sign-up) per client address: each
    /// costs an Argon2 hash, and guessing must stay slow.
    Login,
}

impl Budget {
    /// The name in stored keys and in the `RateLimit-Policy` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Budget::Api => "api",
            Budget::Llm => "llm",
            Budget::Ingest => "ingest",
            Budget::Anonymous => "anonymous",
            Budget::Login => "login",
        }
    }
}

/// Password attempts a client address may make a minute (not per tenant:
/// a login has no tenant yet).
pub const LOGIN_PER_MINUTE: u32 = 20;

/// Requests per minute for each budget, per key (or user) and for the whole
/// tenant: minting keys or users multiplies the first, never the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Ordinary API calls per key.
    pub api_per_minute: u32,
    /// Chat and tool calls per key.
    pub llm_per_minute: u32,
    /// Ingestion calls per key.
    pub ingest_per_minute: u32,
    /// Ordinary API calls of all the tenant's keys and users together.
    pub tenant_api_per_minute: u32,
    /// Chat and tool calls of the whole tenant.
    pub tenant_llm_per_minute: u32,
    /// Ingestion calls of the whole tenant.
    pub tenant_ingest_per_minute: u32,
}

impl Default for Limits {
    /// At most 600 ordinary calls a minute per key, as the issue asks;
    /// LLM and ingestion calls are tighter. A tenant gets twice a key's rate.
    fn default() -> Self {
        Limits {
            api_per_minute: 600,
            llm_per_minute: 60,
            ingest_per_minute: 120,
            tenant_api_per_minute: 1200,
            tenant_llm_per_minute: 120,
            tenant_ingest_per_minute: 240,
        }
    }
}

impl Limits {
    /// The operator's ceiling when it sets none: ten times the defaults.
    pub const CEILING: Limits = Limits {
        api_per_minute: 6000,
        llm_per_minute: 600,
        ingest_per_minute: 1200,
        tenant_api_per_minute: 12000,
        tenant_llm_per_minute: 1200,
        tenant_ingest_per_minute: 2400,
    };

    /// The per-key rate of `budget` (anonymous requests share the API rate).
    pub fn per_minute(&self, budget: Budget) -> u32 {
        match budget {
            Budget::Api | Budget::Anonymous => self.api_per_minute,
            Budget::Login => LOGIN_PER_MINUTE,
            Budget::Llm => self.llm_per_minute,
            Budget::Ingest => self.ingest_per_minute,
        }
    }

    /// The whole tenant's rate of `budget`; `None` for the budgets of
    /// callers without a tenant (anonymous requests, password attempts).
    pub fn tenant_per_minute(&self, budget: Budget) -> Option<u32> {
        match budget {
            Budget::Api => Some(self.tenant_api_per_minute),
            Budget::Llm => Some(self.tenant_llm_per_minute),
            Budget::Ingest => Some(self.tenant_ingest_per_minute),
            Budget::Anonymous | Budget::Login => None,
        }
    }

    fn fields(&self) -> [(&'static str, u32); 6] {
        [
            ("api_per_minute", self.api_per_minute),
            ("llm_per_minute", self.llm_per_minute),
            ("ingest_per_minute", self.ingest_per_minute),
            ("tenant_api_per_minute", self.tenant_api_per_minute),
            ("tenant_llm_per_minute", self.tenant_llm_per_minute),
            ("tenant_ingest_per_minute", self.tenant_ingest_per_minute),
        ]
    }

    /// 1–100 000 per minute each.
    pub fn validate(self) -> Result<Self, String> {
        for (name, v) in self.fields() {
            if !(1..=100_000).contains(&v) {
                return Err(format!("rate_limits.{name} must be 1-100000"));
            }
        }
        Ok(self)
    }

    /// Refuse any rate above the operator's `ceiling`.
    pub fn within(self, ceiling: &Limits) -> Result<Self, String> {
        for ((name, v), (_, max)) in self.fields().into_iter().zip(ceiling.fields()) {
            if v > max {
                return Err(format!(
                    "rate_limits.{name} may be at most {max} (the operator's ceiling)"
                ));
            }
        }
        Ok(self)
    }

    /// Each rate, no higher than the operator's `ceiling` (which may have
    /// been lowered since the tenant chose its settings).
    pub fn capped(self, ceiling: &Limits) -> Limits {
        Limits {
            api_per_minute: self.api_per_minute.min(ceiling.api_per_minute),
            llm_per_minute: self.llm_per_minute.min(ceiling.llm_per_minute),
            ingest_per_minute: self.ingest_per_minute.min(ceiling.ingest_per_minute),
            tenant_api_per_minute: self
                .tenant_api_per_minute
                .min(ceiling.tenant_api_per_minute),
            tenant_llm_per_minute: self
                .tenant_llm_per_minute
                .min(ceiling.tenant_llm_per_minute),
            tenant_ingest_per_minute: self
                .tenant_ingest_per_minute
                .min(ceiling.tenant_ingest_per_minute),
        }
    }
}

/// Where a bucket is stored: per budget and per caller (a key id, or a
/// client address for anonymous requests).
pub fn bucket_key(budget: Budget, caller: &str) -> String {
    format!("ratelimit:{}:{caller}", budget.as_str())
}

/// A bucket's stored state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Tokens left at `at_ms`.
    pub tokens: f64,
    /// When `tokens` was measured (ms since the epoch).
    pub at_ms: i64,
}

/// The answer for one request, with what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The request may go ahead.
    pub allowed: bool,
    /// The bucket's size (`RateLimit-Limit`).
    pub limit: u32,
    /// Whole tokens left after this request (`RateLimit-Remaining`).
    pub remaining: u32,
    /// Seconds until the bucket is full again (`RateLimit-Reset`).
    pub reset_secs: u64,
    /// Seconds until one token is back (`Retry-After`, when refused).
    pub retry_after_secs: u64,
    /// The state to store.
    pub bucket: Bucket,
}

/// Take one token from `stored` (a new caller starts full) at `now_ms`.
pub fn take(stored: Option<Bucket>, per_minute: u32, now_ms: i64) -> Decision {
    take_n(stored, per_minute, 1, now_ms)
}

/// Take `n` tokens at once (a tool run that plans `n` LLM calls), or none:
/// refused when fewer than `n` are there (at most the bucket's size is
/// ever asked, so a large plan waits for a full bucket, not for ever).
pub fn take_n(stored: Option<Bucket>, per_minute: u32, n: u32, now_ms: i64) -> Decision {
    let capacity = f64::from(per_minute.max(1));
    let per_ms = capacity / 60_000.0;
    let mut tokens = match stored {
        None => capacity,
        Some(b) => {
            let elapsed = (now_ms - b.at_ms).max(0) as f64;
            (b.tokens + elapsed * per_ms).min(capacity)
        }
    };
    let wanted = f64::from(n.clamp(1, per_minute.max(1)));
    let allowed = tokens >= wanted;
    if allowed {
        tokens -= wanted;
    }
    let secs = |missing: f64| (missing / per_ms / 1000.0).ceil().max(0.0) as u64;
    Decision {
        allowed,
        limit: per_minute,
        remaining: tokens.floor() as u32,
        reset_secs: secs(capacity - tokens),
        retry_after_secs: if allowed {
            0
        } else {
            secs(wanted - tokens).max(1)
        },
        bucket: Bucket {
            tokens,
            at_ms: now_ms,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_drains_the_bucket_then_it_refills_at_the_rate() {
        let mut state = None;
        for i in 0..600 {
            let d = take(state, 600, 1_000);
            assert!(d.allowed, "request {i}");
            state = Some(d.bucket);
        }
        let refused = take(state, 600, 1_000);
        assert!(!refused.allowed);
        assert_eq!((refused.remaining, refused.retry_after_secs), (0, 1));
        assert_eq!(refused.reset_secs, 60);
        // 600 a minute is one every 100 ms.
        let later = take(Some(refused.bucket), 600, 1_100);
        assert!(later.allowed);
        assert!(!take(Some(later.bucket), 600, 1_150).allowed);
        // A minute later it is full again, and never fuller.
        let full = take(Some(later.bucket), 600, 200_000);
        assert_eq!(full.remaining, 599);
    }

    #[test]
    fn slow_budgets_ask_for_longer_waits_and_limits_are_checked() {
        let mut state = None;
        for _ in 0..2 {
            state = Some(take(state, 2, 0).bucket);
        }
        let d = take(state, 2, 0);
        assert_eq!(
            (d.allowed, d.retry_after_secs, d.reset_secs),
            (false, 30, 60)
        );
        assert!(Limits::default().validate().is_ok());
        let bad = Limits {
            llm_per_minute: 0,
            ..Limits::default()
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            "rate_limits.llm_per_minute must be 1-100000"
        );
        assert_eq!(bucket_key(Budget::Llm, "key_1"), "ratelimit:llm:key_1");
        assert_eq!(Limits::default().per_minute(Budget::Anonymous), 600);
    }

    #[test]
    fn several_tokens_are_taken_at_once_or_not_at_all() {
        let d = take_n(None, 60, 10, 0);
        assert_eq!((d.allowed, d.remaining), (true, 50));
        let d = take_n(Some(d.bucket), 60, 51, 0);
        assert_eq!((d.allowed, d.remaining, d.retry_after_secs), (false, 50, 1));
        // More than the bucket holds asks for a full bucket.
        let d = take_n(Some(d.bucket), 60, 1000, 0);
        assert_eq!((d.allowed, d.retry_after_secs), (false, 10));
        let d = take_n(Some(d.bucket), 60, 1000, 10_000);
        assert_eq!((d.allowed, d.remaining), (true, 0));
    }

    #[test]
    fn the_operators_ceiling_bounds_what_a_tenant_sets() {
        let generous = Limits {
            tenant_llm_per_minute: 5000,
            ..Limits::default()
        };
        assert!(generous.validate().is_ok());
        assert_eq!(
            generous.within(&Limits::CEILING).unwrap_err(),
            "rate_limits.tenant_llm_per_minute may be at most 1200 (the operator's ceiling)"
        );
        let lowered = Limits {
            tenant_llm_per_minute: 100,
            ..Limits::CEILING
        };
        assert_eq!(generous.capped(&lowered).tenant_llm_per_minute, 100);
        assert_eq!(generous.capped(&lowered).api_per_minute, 600);
        assert_eq!(
            Limits::default().tenant_per_minute(Budget::Ingest),
            Some(240)
        );
        assert_eq!(Limits::default().tenant_per_minute(Budget::Login), None);
    }

    #[test]
    fn a_clock_going_backwards_adds_nothing() {
        let d = take(None, 60, 10_000);
        let back = take(Some(d.bucket), 60, 5_000);
        assert_eq!(back.remaining, 58);
    }
}
