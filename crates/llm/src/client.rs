//! Calling LLM providers, over the host's capabilities
//! (`lode_capabilities`): the same code runs in a Spin component (over
//! `spin_sdk`, see `lode_common::llm`) and in native tests (real sockets).
//!
//! The registry comes from the variable `llm_registry`; each provider's key
//! from the secret variable it names. A request walks the fallback chain:
//! providers without a key or with an open circuit are skipped; each
//! candidate gets a few attempts with exponential backoff and jitter
//! (honouring `Retry-After`) on 408, 429, 5xx and network errors; a failure
//! moves on to the next candidate. Every call is counted per tenant
//! (`llm_usage`), failures included, and updates the provider's circuit
//! breaker (per tenant) in the key-value store. A streamed answer falls back
//! only before its first byte: after that, the client already has text.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use lode_api::{ApiError, ErrorCode};
use lode_capabilities::{KeyValue, Outbound, OutboundRequest, ResponseBody, SendError, Variables};
use lode_retry::Backoff;
use lode_store::ids::{jitter, now_ms};
use lode_store::{Call, Ceiling, Quota, Sql, Tenant, Usage};

use crate::chat::{ChatRequest, ChatResponse, Delta, Message, StreamDecoder, Tool};
use crate::circuit::{Circuit, Policy};
use crate::registry::{Candidate, Capability, Model, Provider, Registry, RegistryError, Strategy};
use crate::sse::SseParser;

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// The model asked for is not in the registry.
    #[error("model {0:?} does not exist")]
    ModelNotFound(String),
    /// No configured provider could answer (none configured, every circuit
    /// open, every candidate failed), or the configuration is wrong.
    #[error("{0}")]
    Unavailable(String),
    /// The provider's answer broke off or could not be read.
    #[error("{0}")]
    BadGateway(String),
    /// The store refused (the tenant's LLM quota) or failed.
    #[error(transparent)]
    Store(#[from] ApiError),
}

impl LlmError {
    /// Whether asking again later may succeed (a queued job's retry): a
    /// provider may recover; an unknown model will not appear, and a
    /// refusal of the store (a spent quota) is the store's to classify.
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Unavailable(_) | LlmError::BadGateway(_) => true,
            LlmError::ModelNotFound(_) => false,
            LlmError::Store(e) => matches!(
                e.code,
                ErrorCode::Unavailable | ErrorCode::Internal | ErrorCode::BadGateway
            ),
        }
    }
}

impl From<LlmError> for ApiError {
    fn from(e: LlmError) -> ApiError {
        match e {
            LlmError::ModelNotFound(name) => ApiError::model_not_found(&name),
            LlmError::Unavailable(m) => ApiError::new(ErrorCode::Unavailable, m),
            LlmError::BadGateway(m) => ApiError::new(ErrorCode::BadGateway, m),
            LlmError::Store(e) => e,
        }
    }
}

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

/// The configured providers, ready to call through `host`.
pub struct Llm<H> {
    host: H,
    registry: Registry,
    policy: Policy,
    backoff: Backoff,
    timeout: Duration,
    /// Sent as `x-request-id`, so the provider's logs name Lode's request.
    request_id: String,
}

/// Attempts per candidate before moving down the chain.
const ATTEMPTS: u32 = 3;

/// A numeric variable; missing or not a number is a deployment mistake.
async fn number<T: std::str::FromStr>(vars: &impl Variables, name: &str) -> Result<T, LlmError> {
    let text = vars.variable(name).await.unwrap_or_default();
    text.trim()
        .parse()
        .map_err(|_| LlmError::Unavailable(format!("variable {name} is not a number: {text:?}")))
}

impl<H: Outbound + KeyValue + Variables> Llm<H> {
    /// Read `llm_registry`, `llm_timeout_secs`, `llm_circuit_threshold` and
    /// `llm_circuit_cooldown_secs` through `host`.
    pub async fn load(host: H, request_id: String) -> Result<Llm<H>, LlmError> {
        let json = host.variable("llm_registry").await.unwrap_or_default();
        let registry = Registry::parse(&json).map_err(|e| {
            log::error!("{e}");
            LlmError::Unavailable(
                "the LLM registry (variable llm_registry) is invalid; see the log".into(),
            )
        })?;
        let secs: u64 = number(&host, "llm_timeout_secs").await?;
        let threshold: u32 = number(&host, "llm_circuit_threshold").await?;
        let cool_down: i64 = number(&host, "llm_circuit_cooldown_secs").await?;
        Ok(Llm {
            host,
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
            request_id,
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
    pub async fn complete<S: Sql>(
        &self,
        sql: &S,
        tenant: &Tenant,
        ask: &Ask,
    ) -> Result<Answer, LlmError> {
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
    pub async fn stream<S: Sql>(
        &self,
        sql: &S,
        tenant: &Tenant,
        ask: &Ask,
    ) -> Result<Stream<H::Body>, LlmError> {
        self.first_answer(sql, tenant, ask, true, async |c, response| {
            Ok(Stream {
                body: response.into_body(),
                parser: SseParser::new(),
                decoder: StreamDecoder::new(c.provider.protocol),
                pending: VecDeque::new(),
                model: c.model.clone(),
                provider: c.provider.name.clone(),
                ended: false,
            })
        })
        .await
    }

    /// Walk the fallback chain: the first candidate whose 2xx response
    /// `accept` takes; every failure is counted against its provider.
    async fn first_answer<S: Sql, T>(
        &self,
        sql: &S,
        tenant: &Tenant,
        ask: &Ask,
        stream: bool,
        mut accept: impl AsyncFnMut(&Candidate<'_>, http::Response<H::Body>) -> Result<T, CallError>,
    ) -> Result<T, LlmError> {
        // The tenant's daily LLM allowance is checked before every call.
        self.quota(sql, tenant).await?.admit_llm(now_ms()).await?;
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
            if let Err(e) =
                lode_metrics::observe(sql, lode_metrics::LLM_DURATION, &labels, secs).await
            {
                log::warn!("metric lode_llm_request_duration_seconds not recorded: {e}");
            }
            match outcome {
                Ok(answer) => return Ok(answer),
                Err(e) => failures.push(self.failed(sql, tenant, &c, e, &key).await),
            }
        }
        Err(LlmError::Unavailable(format!(
            "no LLM provider answered: {}",
            failures.join("; ")
        )))
    }

    /// The tenant's quotas in force: its settings under the operator's
    /// ceiling (the `tenant_ceiling` variable).
    async fn quota<'a, S: Sql>(
        &self,
        sql: &'a S,
        tenant: &'a Tenant,
    ) -> Result<Quota<'a, S>, LlmError> {
        let text = self
            .host
            .variable("tenant_ceiling")
            .await
            .unwrap_or_default();
        let ceiling = Ceiling::parse(&text).map_err(LlmError::Unavailable)?;
        Ok(Quota::in_force(sql, tenant, &ceiling).await?)
    }

    /// Count a finished stream and close its provider's circuit.
    pub async fn finish_stream<S: Sql>(
        &self,
        sql: &S,
        tenant: &Tenant,
        stream: Stream<H::Body>,
    ) -> Result<Answer, LlmError> {
        let model = self
            .registry
            .model(&stream.model.name)
            .cloned()
            .unwrap_or(stream.model.clone());
        let provider = self
            .registry
            .provider(&stream.provider)
            .cloned()
            .ok_or_else(|| {
                LlmError::Unavailable(format!("provider {} is gone", stream.provider))
            })?;
        let c = Candidate {
            model: &model,
            provider: &provider,
        };
        Ok(self
            .succeeded(sql, tenant, &c, stream.decoder.finish())
            .await)
    }

    /// Keys of the providers that have one (or need none), by provider name.
    async fn keys(&self) -> HashMap<String, String> {
        let mut keys = HashMap::new();
        for p in &self.registry.providers {
            match &p.key_variable {
                None => {
                    keys.insert(p.name.clone(), String::new());
                }
                Some(var) => match self.host.variable(var).await {
                    Some(k) if !k.trim().is_empty() => {
                        keys.insert(p.name.clone(), k.trim().to_string());
                    }
                    Some(_) => {} // no key configured: the provider is skipped
                    None => log::error!("provider {}: variable {var:?} unavailable", p.name),
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
        keys: &HashMap<String, String>,
    ) -> Result<Vec<Candidate<'a>>, LlmError> {
        let now = now_ms();
        let mut closed = HashSet::new();
        for p in &self.registry.providers {
            if self.circuit(tenant, &p.name).await.allows(now, self.policy) {
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
                RegistryError::UnknownModel(name) => LlmError::ModelNotFound(name),
                other => LlmError::Unavailable(other.to_string()),
            })
    }

    /// One candidate, with retries: the 2xx response, or why not.
    async fn call(
        &self,
        provider: &Provider,
        key: &str,
        request: &ChatRequest,
    ) -> Result<http::Response<H::Body>, CallError> {
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
                Some(wait) => self.host.sleep(wait).await,
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
    ) -> Result<http::Response<H::Body>, CallError> {
        let mut builder = http::Request::post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("user-agent", "Lode/0.1");
        if !self.request_id.is_empty() {
            builder = builder.header("x-request-id", &self.request_id);
        }
        for (name, value) in provider.protocol.headers(key) {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(body)
            .map_err(|e| CallError::Fatal(format!("{url}: {e}")))?;
        let out = OutboundRequest {
            request,
            timeout: self.timeout,
        };
        self.host.send(out).await.map_err(|e| match e {
            SendError::Denied(_) => CallError::Fatal(format!(
                "{url} is not in this component's allowed_outbound_hosts"
            )),
            SendError::Failed(m) => CallError::Transient(m),
        })
    }

    async fn succeeded<S: Sql>(
        &self,
        sql: &S,
        tenant: &Tenant,
        c: &Candidate<'_>,
        response: ChatResponse,
    ) -> Answer {
        let mut state = self.circuit(tenant, &c.provider.name).await;
        if state != Circuit::default() {
            state.succeeded();
            self.save_circuit(tenant, &c.provider.name, &state).await;
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
            log::error!("usage not recorded: {}", e.message);
        }
        Answer {
            response,
            model: c.model.name.clone(),
            provider: c.provider.name.clone(),
            cost_usd: cost,
        }
    }

    /// Count a failed candidate; its message (key redacted) for the final error.
    async fn failed<S: Sql>(
        &self,
        sql: &S,
        tenant: &Tenant,
        c: &Candidate<'_>,
        e: CallError,
        key: &str,
    ) -> String {
        // Only the provider's own faults (408, 429, 5xx, timeouts, lost
        // connections: what `Transient` holds) count against its circuit;
        // a request it refused (4xx) says nothing about its health.
        if let CallError::Transient(_) = &e {
            let mut state = self.circuit(tenant, &c.provider.name).await;
            state.failed(now_ms(), self.policy);
            self.save_circuit(tenant, &c.provider.name, &state).await;
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
            log::error!("usage not recorded: {}", e.message);
        }
        let mut message = match e {
            CallError::Transient(m) | CallError::Fatal(m) => m,
        };
        if !key.is_empty() {
            message = message.replace(key, "[redacted]");
        }
        let line = format!("{} ({}): {message}", c.model.name, c.provider.name);
        log::error!("LLM call failed: {line}");
        line
    }

    /// A provider's breaker for `tenant` (closed if unknown or unreadable).
    pub async fn circuit(&self, tenant: &Tenant, provider: &str) -> Circuit {
        match self.host.get(&circuit_key(tenant, provider)).await {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_default(),
            _ => Circuit::default(),
        }
    }

    async fn save_circuit(&self, tenant: &Tenant, provider: &str, state: &Circuit) {
        let json = serde_json::to_vec(state).unwrap_or_default();
        if let Err(e) = self.host.set(&circuit_key(tenant, provider), &json).await {
            log::error!("circuit of {provider} not saved: {e}");
        }
    }
}

/// A streamed answer being read.
pub struct Stream<B> {
    body: B,
    parser: SseParser,
    decoder: StreamDecoder,
    pending: VecDeque<Delta>,
    model: Model,
    provider: String,
    ended: bool,
}

impl<B: ResponseBody> Stream<B> {
    /// Lode's name of the model answering.
    pub fn model(&self) -> &str {
        &self.model.name
    }

    /// The next piece of the answer; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<Delta, LlmError>> {
        loop {
            if let Some(d) = self.pending.pop_front() {
                return Some(Ok(d));
            }
            if self.ended || self.decoder.is_done() {
                return None;
            }
            match self.body.chunk().await {
                None => {
                    self.ended = true;
                    self.parser.finish();
                }
                Some(Err(e)) => {
                    self.ended = true;
                    return Some(Err(LlmError::BadGateway(format!(
                        "the LLM stream broke: {e}"
                    ))));
                }
                Some(Ok(data)) => {
                    for event in self.parser.push(&data) {
                        match self.decoder.decode(&event) {
                            Ok(deltas) => self.pending.extend(deltas),
                            Err(e) => {
                                self.ended = true;
                                return Some(Err(LlmError::BadGateway(e.to_string())));
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

async fn read_body<B: ResponseBody>(response: http::Response<B>) -> Result<Vec<u8>, CallError> {
    response
        .into_body()
        .read_all()
        .await
        .map_err(|e| CallError::Transient(format!("reading the answer: {e}")))
}

/// Circuits are kept per tenant: what one tenant's requests make a provider
/// do cannot stop the provider for every other tenant.
fn circuit_key(tenant: &Tenant, provider: &str) -> String {
    format!("llm-circuit:{}:{provider}", tenant.as_str())
}

#[cfg(test)]
mod tests;
