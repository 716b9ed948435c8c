//! The HTTP client `lode-eval` drives Lode with. It lives in the library so
//! the end-to-end tests run this same code against a rate-limited host.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// How long a run keeps waiting out rate limits before it gives up, unless
/// told otherwise ([`Client::with_patience`]).
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(4 * 3600);

/// A small Lode API client that paces itself to the server: a 429 or 503
/// pauses every thread of the run until the server's `Retry-After` (or an
/// exponential wait when it gives none), for as long as the run needs up to
/// an overall deadline, so a bulk load within the tenant's limits finishes
/// instead of failing.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    key: String,
    backoffs: AtomicU32,
    /// No request is sent before this instant (shared by the run's threads).
    resume_at: Mutex<Instant>,
    deadline: Instant,
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
            resume_at: Mutex::new(Instant::now()),
            deadline: Instant::now() + DEFAULT_PATIENCE,
        }
    }

    /// The same client, giving up on rate limits `patience` from now.
    pub fn with_patience(mut self, patience: Duration) -> Client {
        self.deadline = Instant::now() + patience;
        self
    }

    /// POST `body` as JSON to `path` and parse the 2xx answer, waiting out
    /// 429 and 503 answers as long as the deadline allows.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        for attempt in 0u32.. {
            let resume = *self.resume_at.lock().unwrap();
            std::thread::sleep(resume.saturating_duration_since(Instant::now()));
            let mut resp = self
                .agent
                .post(format!("{}{path}", self.base))
                .header("authorization", format!("Bearer {}", self.key))
                .send_json(body)
                .with_context(|| format!("POST {path}"))?;
            let status = resp.status().as_u16();
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            if status == 429 || status == 503 {
                let wait = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .unwrap_or(Duration::from_secs(1u64 << attempt.min(5)));
                let until = Instant::now() + wait;
                if until > self.deadline {
                    bail!("POST {path} answered {status} and the run's deadline is near: {text}");
                }
                let mut resume = self.resume_at.lock().unwrap();
                *resume = (*resume).max(until);
                self.backoffs.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if !(200..300).contains(&status) {
                bail!("POST {path} answered {status}: {text}");
            }
            return serde_json::from_str(&text).with_context(|| format!("POST {path}: not JSON"));
        }
        unreachable!("the loop ends by returning")
    }

    /// How many times this client has waited on a 429 or 503 so far.
    pub fn backoffs(&self) -> u32 {
        self.backoffs.load(Ordering::Relaxed)
    }
}
