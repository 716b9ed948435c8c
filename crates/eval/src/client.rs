//! The HTTP client `lode-eval` drives Lode with. It lives in the library so
//! the end-to-end tests run this same code against a rate-limited host.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Retries of a request answered 429 or 503 (honouring `Retry-After`).
pub const RETRIES: u32 = 8;

/// A small Lode API client that backs off on 429 and 503, so a long
/// evaluation run stays within the tenant's rate limits instead of failing.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    key: String,
    backoffs: AtomicU32,
}

impl Client {
    /// A client of the Lode at `base` (`http://host:port`), calling as `key`.
    pub fn new(base: &str, key: &str) -> Client {
        Client {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(300)))
                .build()
                .into(),
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            backoffs: AtomicU32::new(0),
        }
    }

    /// POST `body` as JSON to `path` and parse the 2xx answer. A 429 or 503
    /// is retried up to [`RETRIES`] times after the server's `Retry-After`
    /// (whole seconds), or an exponential wait when it gives none.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        for attempt in 0..=RETRIES {
            let mut resp = self
                .agent
                .post(format!("{}{path}", self.base))
                .header("authorization", format!("Bearer {}", self.key))
                .send_json(body)
                .with_context(|| format!("POST {path}"))?;
            let status = resp.status().as_u16();
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            if (status == 429 || status == 503) && attempt < RETRIES {
                let wait = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(1u64 << attempt.min(4));
                self.backoffs.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_secs(wait));
                continue;
            }
            if !(200..300).contains(&status) {
                bail!("POST {path} answered {status}: {text}");
            }
            return serde_json::from_str(&text).with_context(|| format!("POST {path}: not JSON"));
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// How many times this client has waited on a 429 or 503 so far.
    pub fn backoffs(&self) -> u32 {
        self.backoffs.load(Ordering::Relaxed)
    }
}
