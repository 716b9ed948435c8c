//! The host capabilities of `lode_capabilities` over `spin_sdk`: the one
//! place they are implemented for components (natively, see that crate's
//! `native` module).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use lode_capabilities::{
    CapabilityError, KeyValue, Outbound, OutboundRequest, Publish, ResponseBody, SendError,
    Variables,
};
use spin_sdk::wasip3::http::types::RequestOptions;
use spin_sdk::wasip3::http_compat::{IncomingResponseBody, RequestOptionsExtension};

/// Spin's capabilities, as this component's manifest grants them: the
/// `default` key-value store, outbound HTTP within `allowed_outbound_hosts`,
/// its variables (read once per request, see [`crate::optional_variable`])
/// and Redis at the `redis_url` variable.
#[derive(Debug, Default, Clone, Copy)]
pub struct SpinHost;

impl Variables for SpinHost {
    async fn variable(&self, name: &str) -> Option<String> {
        crate::optional_variable(name).await
    }
}

impl KeyValue for SpinHost {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CapabilityError> {
        let store = spin_sdk::key_value::Store::open_default()
            .await
            .map_err(|e| CapabilityError(format!("{e:?}")))?;
        store
            .get(key.to_string())
            .await
            .map_err(|e| CapabilityError(format!("{e:?}")))
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), CapabilityError> {
        let store = spin_sdk::key_value::Store::open_default()
            .await
            .map_err(|e| CapabilityError(format!("{e:?}")))?;
        store
            .set(key.to_string(), value.to_vec())
            .await
            .map_err(|e| CapabilityError(format!("{e:?}")))
    }
}

/// A response body from Spin's outbound HTTP, read frame by frame.
pub struct SpinBody(IncomingResponseBody);

impl ResponseBody for SpinBody {
    async fn chunk(&mut self) -> Option<Result<Bytes, String>> {
        loop {
            match self.0.frame().await? {
                Err(e) => return Some(Err(e.to_string())),
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                    // Trailers: nothing to read.
                }
            }
        }
    }
}

impl Outbound for SpinHost {
    type Body = SpinBody;

    async fn send(&self, out: OutboundRequest) -> Result<http::Response<SpinBody>, SendError> {
        let url = out.request.uri().to_string();
        let (parts, body) = out.request.into_parts();
        let mut request = http::Request::from_parts(parts, Full::new(body));
        let options = RequestOptions::new();
        let nanos = out.timeout.as_nanos() as u64;
        // A host that cannot set a timeout still sends the request.
        let _ = options.set_connect_timeout(Some(nanos.min(10_000_000_000)));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        request
            .extensions_mut()
            .insert(RequestOptionsExtension(options));
        match spin_sdk::http::send(request).await {
            Ok(response) => Ok(response.map(SpinBody)),
            Err(spin_sdk::wasip3::http::types::ErrorCode::HttpRequestDenied) => {
                Err(SendError::Denied(url))
            }
            Err(other) => Err(SendError::Failed(format!("{url}: {other}"))),
        }
    }

    async fn sleep(&self, duration: Duration) {
        spin_sdk::time::sleep(duration).await
    }
}

impl Publish for SpinHost {
    async fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), CapabilityError> {
        let url = crate::optional_variable("redis_url")
            .await
            .ok_or_else(|| CapabilityError("variable redis_url is unavailable".into()))?;
        let connection = spin_sdk::redis::Connection::open(&url)
            .await
            .map_err(|e| CapabilityError(format!("connecting to Redis: {e:?}")))?;
        connection
            .publish(channel.to_string(), payload)
            .await
            .map_err(|e| CapabilityError(format!("publishing: {e:?}")))
    }
}
