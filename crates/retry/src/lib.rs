//! When to retry and how long to wait: exponential backoff with jitter, or
//! the server's own `Retry-After` when it gives one. Shared by the provider
//! clients (a failed HTTP call) and the ingestion jobs (a failed attempt).

use std::time::Duration;

/// Statuses worth another try: timeouts, rate limits and server errors.
/// Other 4xx mean the request itself is wrong and would fail again.
pub fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || (500..=599).contains(&status)
}

/// A bounded retry schedule.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The wait before the second attempt; doubled for each further one.
    pub base: Duration,
    /// No wait is longer than this, whatever `Retry-After` says.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (0-based), or `None`
    /// when no attempt is left. `retry_after` is the response's header, if
    /// any (delay-seconds; an HTTP date falls back to backoff), and `jitter`
    /// a random number in `0..1` that spreads clients apart ("full jitter"
    /// between half and all of the backoff).
    pub fn delay(&self, attempt: u32, retry_after: Option<&str>, jitter: f64) -> Option<Duration> {
        if attempt + 1 >= self.max_attempts {
            return None;
        }
        if let Some(secs) = retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
            return Some(Duration::from_secs(secs).min(self.cap));
        }
        let backoff = self.base.saturating_mul(1 << attempt.min(20));
        let spread = 0.5 + 0.5 * jitter.clamp(0.0, 1.0);
        Some(backoff.mul_f64(spread).min(self.cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_statuses_are_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 413, 422] {
            assert!(!is_retryable(s), "{s}");
        }
    }

    #[test]
    fn backoff_doubles_is_capped_and_ends() {
        let b = Backoff::default();
        assert_eq!(b.delay(0, None, 1.0), Some(Duration::from_millis(500)));
        assert_eq!(b.delay(1, None, 1.0), Some(Duration::from_secs(1)));
        assert_eq!(b.delay(1, None, 0.0), Some(Duration::from_millis(500)));
        assert_eq!(b.delay(2, None, 1.0), Some(Duration::from_secs(2)));
        assert_eq!(b.delay(3, None, 1.0), None);
        let long = Backoff {
            max_attempts: 40,
            ..b
        };
        assert_eq!(long.delay(30, None, 1.0), Some(Duration::from_secs(30)));
    }

    #[test]
    fn retry_after_seconds_win_but_are_capped() {
        let b = Backoff::default();
        assert_eq!(b.delay(0, Some("2"), 0.3), Some(Duration::from_secs(2)));
        assert_eq!(b.delay(0, Some("3600"), 0.3), Some(Duration::from_secs(30)));
        assert_eq!(
            b.delay(0, Some("Wed, 21 Oct 2015 07:28:00 GMT"), 1.0),
            Some(Duration::from_millis(500))
        );
        assert_eq!(b.delay(3, Some("1"), 1.0), None);
    }
}
