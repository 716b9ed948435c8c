//! Outgoing HTTP (`wasi:http` in components), limited by the component's
//! `allowed_outbound_hosts`.

use std::time::Duration;

use bytes::Bytes;

/// A request to send, and how long to wait for each part of the answer
/// (connect, first byte, between bytes: `wasi:http/types.request-options`).
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// The request, its body whole.
    pub request: http::Request<Bytes>,
    /// Each wait's limit.
    pub timeout: Duration,
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The host refused it (not in `allowed_outbound_hosts`): retrying is futile.
    #[error("{0} is not an allowed outbound host")]
    Denied(String),
    /// The network or the peer failed (refused, reset, timed out): worth another try.
    #[error("{0}")]
    Failed(String),
}

/// A response body read as it arrives (so a stream is relayed, not buffered).
#[allow(async_fn_in_trait)]
pub trait ResponseBody {
    /// The next bytes; `None` at the end, an error if the body broke.
    async fn chunk(&mut self) -> Option<Result<Bytes, String>>;

    /// The rest of the body, whole.
    async fn read_all(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        while let Some(chunk) = self.chunk().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }
}

/// Outgoing HTTP, and waiting between attempts.
#[allow(async_fn_in_trait)]
pub trait Outbound {
    /// The body of a response.
    type Body: ResponseBody;
    /// Send `request`; the response once its head arrives.
    async fn send(&self, request: OutboundRequest)
    -> Result<http::Response<Self::Body>, SendError>;
    /// Wait `duration` (a backoff between attempts).
    async fn sleep(&self, duration: Duration);
}
