//! `spin:key-value`: small shared state that must outlive an instance
//! (circuit breakers, rate buckets' neighbours).

use crate::CapabilityError;

/// A key-value store (Spin's `default` store in components).
#[allow(async_fn_in_trait)]
pub trait KeyValue {
    /// The value under `key`, `None` when there is none.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CapabilityError>;
    /// Store `value` under `key`.
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), CapabilityError>;
}
