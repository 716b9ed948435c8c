//! The capabilities natively, with real parts: what tests and native tools
//! run the same logic on.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;

use bytes::Bytes;

use crate::{
    CapabilityError, KeyValue, Outbound, OutboundRequest, Publish, ResponseBody, SendError,
    Variables,
};

/// A key-value store in memory (Spin's own default for `spin up` is a
/// SQLite file; the semantics Lode relies on, get and set, are the same).
#[derive(Debug, Default)]
pub struct MemoryKeyValue(RefCell<HashMap<String, Vec<u8>>>);

impl KeyValue for MemoryKeyValue {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CapabilityError> {
        Ok(self.0.borrow().get(key).cloned())
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), CapabilityError> {
        self.0.borrow_mut().insert(key.to_string(), value.to_vec());
        Ok(())
    }
}

/// Variables from a map, as a manifest's `[variables]` plus the
/// environment would give them.
#[derive(Debug, Default, Clone)]
pub struct MapVariables(pub HashMap<String, String>);

impl MapVariables {
    /// Variables from `(name, value)` pairs.
    pub fn of(pairs: &[(&str, &str)]) -> MapVariables {
        MapVariables(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

impl Variables for MapVariables {
    async fn variable(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Outgoing HTTP over real sockets with `ureq` (blocking: each call holds
/// the thread, which a test's single-threaded executor allows). Hosts
/// outside `allowed` are refused, as Spin refuses them.
#[derive(Debug, Clone)]
pub struct UreqOutbound {
    /// Origins (`http://127.0.0.1:8080`) requests may go to; empty: any.
    pub allowed: Vec<String>,
    /// Waits recorded instead of slept, so tests see the schedule without waiting.
    pub waits: std::rc::Rc<RefCell<Vec<Duration>>>,
}

impl UreqOutbound {
    /// Allow only `origins`.
    pub fn allowing(origins: &[&str]) -> UreqOutbound {
        UreqOutbound {
            allowed: origins.iter().map(|o| o.to_string()).collect(),
            waits: Default::default(),
        }
    }
}

/// A `ureq` response body, read in pieces as it arrives.
pub struct UreqBody(Box<dyn Read>);

impl ResponseBody for UreqBody {
    async fn chunk(&mut self) -> Option<Result<Bytes, String>> {
        let mut buf = vec![0; 16 * 1024];
        match self.0.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some(Ok(Bytes::from(buf)))
            }
            Err(e) => Some(Err(e.to_string())),
        }
    }
}

impl Outbound for UreqOutbound {
    type Body = UreqBody;

    async fn send(&self, out: OutboundRequest) -> Result<http::Response<UreqBody>, SendError> {
        let uri = out.request.uri().clone();
        let origin = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map(|a| a.as_str()).unwrap_or("")
        );
        if !self.allowed.is_empty() && !self.allowed.contains(&origin) {
            return Err(SendError::Denied(origin));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(out.timeout))
            .timeout_recv_response(Some(out.timeout))
            .timeout_recv_body(Some(out.timeout))
            .build()
            .into();
        let (parts, body) = out.request.into_parts();
        let request = http::Request::from_parts(parts, body.to_vec());
        let response = agent
            .run(request)
            .map_err(|e| SendError::Failed(format!("{uri}: {e}")))?;
        let (parts, body) = response.into_parts();
        let reader: Box<dyn Read> = Box::new(body.into_reader());
        Ok(http::Response::from_parts(parts, UreqBody(reader)))
    }

    async fn sleep(&self, duration: Duration) {
        self.waits.borrow_mut().push(duration);
    }
}

/// Publishing to a real Redis server.
pub struct RedisPublish(pub String);

impl Publish for RedisPublish {
    async fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), CapabilityError> {
        let fail = |e: redis::RedisError| CapabilityError(e.to_string());
        let client = redis::Client::open(self.0.as_str()).map_err(fail)?;
        let mut connection = client.get_connection().map_err(fail)?;
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query::<i64>(&mut connection)
            .map_err(fail)?;
        Ok(())
    }
}
