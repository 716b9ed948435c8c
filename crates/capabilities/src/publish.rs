//! `spin:redis` `publish`: wake-ups for Redis-triggered workers.

use crate::CapabilityError;

/// Publishing on a Redis channel.
#[allow(async_fn_in_trait)]
pub trait Publish {
    /// Publish `payload` on `channel`.
    async fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), CapabilityError>;
}
