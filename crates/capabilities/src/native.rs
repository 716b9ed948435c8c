//! The capabilities natively, with real parts: what tests and native tools
//! run the same logic on.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
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
        // Redirects come back as they are, as `wasi:http` returns them.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
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

/// Every capability a component has, natively: what logic generic over
/// the traits runs on in tests.
#[derive(Debug)]
pub struct NativeHost {
    /// Outgoing HTTP.
    pub http: UreqOutbound,
    /// The key-value store.
    pub kv: MemoryKeyValue,
    /// The variables.
    pub vars: MapVariables,
}

impl NativeHost {
    /// `vars`, outbound HTTP to `origins` only, an empty store.
    pub fn new(origins: &[&str], vars: &[(&str, &str)]) -> NativeHost {
        NativeHost {
            http: UreqOutbound::allowing(origins),
            kv: MemoryKeyValue::default(),
            vars: MapVariables::of(vars),
        }
    }
}

impl Outbound for NativeHost {
    type Body = UreqBody;

    async fn send(&self, r: OutboundRequest) -> Result<http::Response<UreqBody>, SendError> {
        self.http.send(r).await
    }

    async fn sleep(&self, d: Duration) {
        self.http.sleep(d).await
    }
}

impl KeyValue for NativeHost {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CapabilityError> {
        self.kv.get(key).await
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), CapabilityError> {
        self.kv.set(key, value).await
    }
}

impl Variables for NativeHost {
    async fn variable(&self, name: &str) -> Option<String> {
        self.vars.variable(name).await
    }
}

/// One scripted answer of a [`Loopback`] server: status, extra headers, body.
pub type Scripted = (u16, Vec<(String, String)>, String);

/// A request a [`Loopback`] server received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request line's path.
    pub path: String,
    /// The `Authorization` header ("" when absent).
    pub authorization: String,
    /// The body, as text.
    pub body: String,
}

/// A real HTTP/1.1 server on loopback that answers each connection with
/// the next scripted answer and records what it was sent: a provider's
/// wire protocol, spoken for a test, with the client code unchanged.
pub struct Loopback {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Loopback {
    /// Serve `script`, one answer per connection, then stop accepting.
    pub fn start(script: Vec<Scripted>) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let origin = format!("http://{}", listener.local_addr().expect("address"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let record = received.clone();
        std::thread::spawn(move || {
            for (answer, stream) in script.into_iter().zip(listener.incoming()) {
                let Ok(mut stream) = stream else { return };
                let Ok(request) = read_request(&mut stream) else {
                    continue;
                };
                record.lock().expect("lock").push(request);
                let (status, headers, body) = answer;
                let mut head = format!(
                    "HTTP/1.1 {status} Scripted\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for (n, v) in headers {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                let _ = stream.write_all(format!("{head}\r\n{body}").as_bytes());
            }
        });
        Loopback { origin, received }
    }

    /// What it has been sent so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> std::io::Result<Received> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
    let (mut length, mut authorization) = (0, String::new());
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = value.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Received {
        path,
        authorization,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
