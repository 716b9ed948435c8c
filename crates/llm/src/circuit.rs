//! A circuit breaker per provider: after repeated failures, stop calling a
//! provider for a while and let the fallback chain answer, then let one trial
//! request through to see whether it recovered.
//!
//! Every Spin request runs in a fresh instance, so the state cannot live in
//! memory: components keep a [`Circuit`] per provider in the key-value store
//! (JSON), read it before choosing a provider and write it after the call.
//! Two instances may race on it; the cost is one extra trial or one failure
//! counted late, never a stuck circuit.

use serde::{Deserialize, Serialize};

/// When to open and how long to stay open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Consecutive failures that open the circuit.
    pub threshold: u32,
    /// How long an open circuit refuses calls before a trial (ms).
    pub cool_down_ms: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            threshold: 5,
            cool_down_ms: 30_000,
        }
    }
}

/// The breaker's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Calls go through.
    #[default]
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// The cool-down ended; the next call is a trial.
    HalfOpen,
}

/// One provider's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Circuit {
    /// Consecutive failures.
    pub failures: u32,
    /// When it last opened (ms since the epoch).
    pub opened_at: Option<i64>,
    /// Whether it is open (as last written).
    pub open: bool,
}

impl Circuit {
    /// Where the breaker stands at `now`.
    pub fn state(&self, now: i64, policy: Policy) -> State {
        match (self.open, self.opened_at) {
            (true, Some(at)) if now < at + policy.cool_down_ms => State::Open,
            (true, _) => State::HalfOpen,
            (false, _) => State::Closed,
        }
    }

    /// A call may be made at `now` (closed, or a half-open trial).
    pub fn allows(&self, now: i64, policy: Policy) -> bool {
        self.state(now, policy) != State::Open
    }

    /// The call succeeded: close.
    pub fn succeeded(&mut self) {
        *self = Circuit::default();
    }

    /// The call failed in a way that blames the provider (5xx, 429 after
    /// retries, timeout, refused connection): count it; a failed trial or
    /// `threshold` failures in a row open the circuit.
    pub fn failed(&mut self, now: i64, policy: Policy) {
        let trial = self.state(now, policy) == State::HalfOpen;
        self.failures = self.failures.saturating_add(1);
        if trial || self.failures >= policy.threshold {
            self.open = true;
            self.opened_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_closes_after_a_good_trial() {
        let p = Policy {
            threshold: 3,
            cool_down_ms: 1000,
        };
        let mut c = Circuit::default();
        for t in 0..2 {
            c.failed(t, p);
            assert!(c.allows(t, p));
        }
        c.failed(10, p);
        assert_eq!(c.state(10, p), State::Open);
        assert!(!c.allows(1009, p));
        assert_eq!(c.state(1010, p), State::HalfOpen);
        // A failed trial opens it again for a full cool-down.
        c.failed(1010, p);
        assert!(!c.allows(2009, p));
        assert!(c.allows(2010, p));
        c.succeeded();
        assert_eq!(c.state(2010, p), State::Closed);
        assert_eq!(c.failures, 0);
    }

    #[test]
    fn round_trips_through_json() {
        let mut c = Circuit::default();
        c.failed(5, Policy::default());
        let back: Circuit = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
