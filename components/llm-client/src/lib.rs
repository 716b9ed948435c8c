//! Calling LLM providers from a Spin component.
//!
//! The registry (`lode_llm::registry`) comes from the Spin variable
//! `llm_registry`; each provider's key from the secret variable it names.
//! A request walks the fallback chain: providers without a key or with an
//! open circuit are skipped; each candidate gets a few attempts with
//! exponential backoff and jitter (honouring `Retry-After`) on 408, 429, 5xx
//! and network errors; a failure moves on to the next candidate. Every call
//! is counted per tenant (`llm_usage`), failures included, and updates the
//! provider's circuit breaker in the key-value store. A streamed answer falls
//! back only before its first byte: after that, the client already has text.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use lode_api::{ApiError, ErrorCode};
use lode_common::SpinSql;
use lode_llm::chat::{ChatRequest, ChatResponse, Delta, Message, StreamDecoder, Tool};
use lode_llm::circuit::{Circuit, Policy};
use lode_llm::registry::{
    Candidate, Capability, Model, Provider, Registry, RegistryError, Strategy,
};
use lode_llm::sse::SseParser;
use lode_retry::Backoff;
use lode_store::ids::{jitter, now_ms};
use lode_store::{Call, Tenant, Usage};
use spin_sdk::wasip3::http::types::RequestOptions;
use spin_sdk::wasip3::http_compat::{IncomingResponseBody, RequestOptionsExtension};

/// What to ask an LLM.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// The conversation, system messages included.
    pub messages: Vec<Message>,
    /// Tools it may call.
    pub tools: Vec<Tool>,
    /// A model by Lode's name, or `None` to let the strategy choose.
    pub model: Option<String>,
    /// How to choose (the registry's default when `None`).
    pub strategy: Option<Strategy>,
    /// Output token limit.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: Option<f32>,
}

/// A finished answer and who gave it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The answer.
    pub response: ChatResponse,
    /// Lode's model name.
    pub model: String,
    /// The provider's name.
    pub provider: String,
    /// US dollars.
    pub cost_usd: f64,
}

/// The configured providers, ready to call.
pub struct Llm {
    registry: Registry,
    policy: Policy,
    backoff: Backoff,
    timeout: Duration,
}

/// Attempts per candidate before moving down the chain.
const ATTEMPTS: u32 = 3;

impl Llm {
    /// Read `llm_registry`, `llm_timeout_secs`, `llm_circuit_threshold` and
    /// `llm_circuit_cooldown_secs`.
    pub async fn load() -> Result<Llm, ApiError> {
        let json = lode_common::variable("llm_registry").await?;
        let registry = Registry::parse(&json).map_err(|e| {
            lode_common::log_error!("{e}");
            ApiError::new(
                ErrorCode::Unavailable,
                "the LLM registry (variable llm_registry) is invalid; see the log",
            )
        })?;
        let secs: u64 = lode_common::number_variable("llm_timeout_secs").await?;
        let threshold: u32 = lode_common::number_variable("llm_circuit_threshold").await?;
        let cool_down: i64 = lode_common::number_variable("llm_circuit_cooldown_secs").await?;
        Ok(Llm {
            registry,
            policy: Policy {
                threshold: threshold.max(1),
                cool_down_ms: cool_down.max(1) * 1000,
            },
            backoff: Backoff {
                max_attempts: ATTEMPTS,
                base: Duration::from_millis(250),
                cap: Duration::from_secs(10),
            },
            timeout: Duration::from_secs(secs.max(1)),
        })
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The context window of the model `ask` would try first (keys and
    /// circuits aside), to cut long texts before asking.
    pub fn context_length(&self, ask: &Ask) -> Option<u32> {
        let chain = self
            .registry
            .chain(
                ask.model.as_deref(),
                ask.strategy,
                &needed(ask, false),
                |_| true,
            )
            .ok()?;
        chain.first().map(|c| c.model.context_length)
    }

    /// Ask and wait for the whole answer.
    pub async fn complete(
        &self,
        sql: &SpinSql,
        tenant: &Tenant,
        ask: &Ask,
    ) -> Result<Answer, ApiError> {
        self.first_answer(sql, tenant, ask, false, async |c, response| {
            let body = read_body(response).await?;
            let parsed = c
                .provider
                .protocol
                .parse(&body)
                .map_err(|e| CallError::Fatal(e.to_string()))?;
            Ok(self.succeeded(sql, tenant, c, parsed).await)
        })
        .await
    }

    /// Ask for a streamed answer: the first candidate that answers 2xx.
    pub async fn stream(
        &self,
        sql: &SpinSql,
        tenant: &Tenant,
        ask: &Ask,
    ) -> Result<Stream, ApiError> {
        self.first_answer(sql, tenant, ask, true, async |c, response| {
            Ok(Stream {
                body: response.into_body(),
                parser: SseParser::new(),
                decoder: StreamDecoder::new(c.provider.protocol),
                pending: std::collections::VecDeque::new(),
                model: c.model.clone(),
                provider: c.provider.name.clone(),
                ended: false,
            })
        })
        .await
    }

    /// Walk the fallback chain: the first candidate whose 2xx response
    /// `accept` takes; every failure is counted against its provider.
    async fn first_answer<T>(
        &self,
        sql: &SpinSql,
        tenant: &Tenant,
        ask: &Ask,
        stream: bool,
        mut accept: impl AsyncFnMut(
            &Candidate<'_>,
            http::Response<IncomingResponseBody>,
        ) -> Result<T, CallError>,
    ) -> Result<T, ApiError> {
        // The tenant's daily LLM allowance is checked before every call.
        lode_common::quota(sql, tenant)
            .await?
            .admit_llm(now_ms())
            .await?;
        let keys = self.keys().await;
        let chain = self.chain(tenant, ask, &needed(ask, stream), &keys).await?;
        let mut failures = Vec::new();
        for c in chain {
            let key = keys.get(&c.provider.name).cloned().unwrap_or_default();
            let request = chat_request(c.model, ask, stream);
            let started = std::time::Instant::now();
            let outcome = match self.call(c.provider, &key, &request).await {
                Ok(response) => accept(&c, response).await,
                Err(e) => Err(e),
            };
            let result = if outcome.is_ok() { "ok" } else { "error" };
            let labels = [("provider", c.provider.name.as_str()), ("outcome", result)];
            let secs = started.elapsed().as_secs_f64();
            lode_common::metrics::observe_in(sql, lode_metrics::LLM_DURATION, &labels, secs).await;
            match outcome {
                Ok(answer) => return Ok(answer),
                Err(e) => failures.push(self.failed(sql, tenant, &c, e, &key).await),
            }
        }
        Err(all_failed(&failures))
    }

    /// Count a finished stream and close its provider's circuit.
    pub async fn finish_stream(
        &self,
        sql: &SpinSql,
        tenant: &Tenant,
        stream: Stream,
    ) -> Result<Answer, ApiError> {
        let model = self
            .registry
            .model(&stream.model.name)
            .cloned()
            .unwrap_or(stream.model.clone());
        let provider = self
            .registry
            .provider(&stream.provider)
            .cloned()
            .ok_or_else(ApiError::internal)?;
        let c = Candidate {
            model: &model,
            provider: &provider,
        };
        Ok(self
            .succeeded(sql, tenant, &c, stream.decoder.finish())
            .await)
    }

    /// Keys of the providers that have one (or need none), by provider name.
    async fn keys(&self) -> std::collections::HashMap<String, String> {
        let mut keys = std::collections::HashMap::new();
        for p in &self.registry.providers {
            match &p.key_variable {
                None => {
                    keys.insert(p.name.clone(), String::new());
                }
                Some(var) => match spin_sdk::variables::get(var).await {
                    Ok(k) if !k.trim().is_empty() => {
                        keys.insert(p.name.clone(), k.trim().to_string());
                    }
                    Ok(_) => {} // no key configured: the provider is skipped
                    Err(e) => lode_common::log_error!(
                        "provider {}: variable {var:?} unavailable: {e:?}",
                        p.name
                    ),
                },
            }
        }
        keys
    }

    async fn chain<'a>(
        &'a self,
        tenant: &Tenant,
        ask: &Ask,
        needed: &[Capability],
        keys: &std::collections::HashMap<String, String>,
    ) -> Result<Vec<Candidate<'a>>, ApiError> {
        let now = now_ms();
        let mut closed = std::collections::HashSet::new();
        for p in &self.registry.providers {
            if circuit(tenant, &p.name).await.allows(now, self.policy) {
                closed.insert(p.name.clone());
            }
        }
        self.registry
            .chain(
                ask.model.as_deref(),
                ask.strategy,
                needed,
                |p: &Provider| keys.contains_key(&p.name) && closed.contains(&p.name),
            )
            .map_err(|e| match e {
                RegistryError::UnknownModel(name) => ApiError::model_not_found(&name),
                other => ApiError::new(ErrorCode::Unavailable, other.to_string()),
            })
    }

    /// One candidate, with retries: the 2xx response, or why not.
    async fn call(
        &self,
        provider: &Provider,
        key: &str,
        request: &ChatRequest,
    ) -> Result<http::Response<IncomingResponseBody>, CallError> {
        let url = format!(
            "{}{}",
            provider.base_url.trim_end_matches('/'),
            provider.protocol.path()
        );
        let body = Bytes::from(provider.protocol.body(request));
        let mut attempt = 0;
        loop {
            let outcome = self.send(&url, provider, key, body.clone()).await;
            let (error, retry_after) = match outcome {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let text = read_body(response).await.unwrap_or_default();
                    let detail = String::from_utf8_lossy(&text)
                        .chars()
                        .take(300)
                        .collect::<String>();
                    let error = if lode_retry::is_retryable(status) {
                        CallError::Transient(format!("HTTP {status}: {detail}"))
                    } else {
                        CallError::Fatal(format!("HTTP {status}: {detail}"))
                    };
                    (error, retry_after)
                }
                Err(e) => (e, None),
            };
            let CallError::Transient(_) = &error else {
                return Err(error);
            };
            match self
                .backoff
                .delay(attempt, retry_after.as_deref(), jitter())
            {
                Some(wait) => spin_sdk::time::sleep(wait).await,
                None => return Err(error),
            }
            attempt += 1;
        }
    }

    async fn send(
        &self,
        url: &str,
        provider: &Provider,
        key: &str,
        body: Bytes,
    ) -> Result<http::Response<IncomingResponseBody>, CallError> {
        let mut builder = http::Request::post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("user-agent", "Lode/0.1");
        // The provider's logs (and its support) can then name Lode's request.
        let request_id = lode_common::context::request_id();
        if !request_id.is_empty() {
            builder = builder.header("x-request-id", request_id);
        }
        for (name, value) in provider.protocol.headers(key) {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .body(Full::new(body))
            .map_err(|e| CallError::Fatal(format!("{url}: {e}")))?;
        let options = RequestOptions::new();
        let nanos = self.timeout.as_nanos() as u64;
        // A host that cannot set a timeout still sends the request.
        let _ = options.set_connect_timeout(Some(nanos.min(10_000_000_000)));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        request
            .extensions_mut()
            .insert(RequestOptionsExtension(options));
        spin_sdk::http::send(request).await.map_err(|e| {
            use spin_sdk::wasip3::http::types::ErrorCode as E;
            match e {
                E::HttpRequestDenied => CallError::Fatal(format!(
                    "{url} is not in this component's allowed_outbound_hosts"
                )),
                other => CallError::Transient(format!("{url}: {other}")),
            }
        })
    }

    async fn succeeded(
        &self,
        sql: &SpinSql,
        tenant: &Tenant,
        c: &Candidate<'_>,
        response: ChatResponse,
    ) -> Answer {
        let mut state = circuit(tenant, &c.provider.name).await;
        if state != Circuit::default() {
            state.succeeded();
            save_circuit(tenant, &c.provider.name, &state).await;
        }
        let cost = c
            .model
            .cost(response.usage.input_tokens, response.usage.output_tokens);
        let call = Call {
            provider: &c.provider.name,
            model: &c.model.name,
            input_tokens: response.usage.input_tokens,
            output_tokens: response.usage.output_tokens,
            cost_usd: cost,
            failed: false,
        };
        if let Err(e) = Usage::new(sql, tenant).record(&call, now_ms()).await {
            lode_common::log_error!("usage not recorded: {}", e.message);
        }
        Answer {
            response,
            model: c.model.name.clone(),
            provider: c.provider.name.clone(),
            cost_usd: cost,
        }
    }

    /// Count a failed candidate; its message (key redacted) for the final error.
    async fn failed(
        &self,
        sql: &SpinSql,
        tenant: &Tenant,
        c: &Candidate<'_>,
        e: CallError,
        key: &str,
    ) -> String {
        // Only the provider's own faults (408, 429, 5xx, timeouts, lost
        // connections: what `Transient` holds) count against its circuit;
        // a request it refused (4xx) says nothing about its health.
        if let CallError::Transient(_) = &e {
            let mut state = circuit(tenant, &c.provider.name).await;
            state.failed(now_ms(), self.policy);
            save_circuit(tenant, &c.provider.name, &state).await;
        }
        let call = Call {
            provider: &c.provider.name,
            model: &c.model.name,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            failed: true,
        };
        if let Err(e) = Usage::new(sql, tenant).record(&call, now_ms()).await {
            lode_common::log_error!("usage not recorded: {}", e.message);
        }
        let mut message = match e {
            CallError::Transient(m) | CallError::Fatal(m) => m,
        };
        if !key.is_empty() {
            message = message.replace(key, "[redacted]");
        }
        let line = format!("{} ({}): {message}", c.model.name, c.provider.name);
        lode_common::log_error!("LLM call failed: {line}");
        line
    }
}

/// A streamed answer being read.
pub struct Stream {
    body: IncomingResponseBody,
    parser: SseParser,
    decoder: StreamDecoder,
    pending: std::collections::VecDeque<Delta>,
    model: Model,
    provider: String,
    ended: bool,
}

impl Stream {
    /// Lode's name of the model answering.
    pub fn model(&self) -> &str {
        &self.model.name
    }

    /// The next piece of the answer; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<Delta, ApiError>> {
        loop {
            if let Some(d) = self.pending.pop_front() {
                return Some(Ok(d));
            }
            if self.ended || self.decoder.is_done() {
                return None;
            }
            match self.body.frame().await {
                None => {
                    self.ended = true;
                    self.parser.finish();
                }
                Some(Err(e)) => {
                    self.ended = true;
                    return Some(Err(ApiError::new(
                        ErrorCode::BadGateway,
                        format!("the LLM stream broke: {e}"),
                    )));
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    for event in self.parser.push(&data) {
                        match self.decoder.decode(&event) {
                            Ok(deltas) => self.pending.extend(deltas),
                            Err(e) => {
                                self.ended = true;
                                return Some(Err(ApiError::new(
                                    ErrorCode::BadGateway,
                                    e.to_string(),
                                )));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Why one call failed.
#[derive(Debug)]
enum CallError {
    /// Worth another attempt (408, 429, 5xx, network).
    Transient(String),
    /// Not worth another attempt at this provider.
    Fatal(String),
}

fn needed(ask: &Ask, stream: bool) -> Vec<Capability> {
    let mut needed = vec![Capability::Chat];
    if stream {
        needed.push(Capability::Stream);
    }
    if !ask.tools.is_empty() {
        needed.push(Capability::Tools);
    }
    needed
}

fn chat_request(model: &Model, ask: &Ask, stream: bool) -> ChatRequest {
    ChatRequest {
        model: model.provider_model().to_string(),
        messages: ask.messages.clone(),
        tools: ask.tools.clone(),
        max_tokens: ask.max_tokens,
        temperature: ask.temperature,
        stream,
    }
}

async fn read_body(response: http::Response<IncomingResponseBody>) -> Result<Vec<u8>, CallError> {
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| CallError::Transient(format!("reading the answer: {e}")))?;
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

fn all_failed(failures: &[String]) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!("no LLM provider answered: {}", failures.join("; ")),
    )
}

/// Circuits are kept per tenant: what one tenant's requests make a provider
/// do cannot stop the provider for every other tenant.
fn circuit_key(tenant: &Tenant, provider: &str) -> String {
    format!("llm-circuit:{}:{provider}", tenant.as_str())
}

/// A provider's breaker from the key-value store (closed if unknown or unreadable).
pub async fn circuit(tenant: &Tenant, provider: &str) -> Circuit {
    let Ok(store) = spin_sdk::key_value::Store::open_default().await else {
        return Circuit::default();
    };
    match store.get(circuit_key(tenant, provider)).await {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_default(),
        _ => Circuit::default(),
    }
}

async fn save_circuit(tenant: &Tenant, provider: &str, state: &Circuit) {
    let Ok(store) = spin_sdk::key_value::Store::open_default().await else {
        return;
    };
    let json = serde_json::to_vec(state).unwrap_or_default();
    if let Err(e) = store.set(circuit_key(tenant, provider), json).await {
        lode_common::log_error!("circuit of {provider} not saved: {e:?}");
    }
}
