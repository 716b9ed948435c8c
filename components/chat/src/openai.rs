//! The OpenAI-compatible surface, so existing clients and SDKs work with a
//! Lode key as their API key and `…/v1` as their base URL:
//!
//! - `GET /v1/models`: `lode-rag`, the registry's chat models, the embedding model.
//! - `POST /v1/chat/completions`: model `lode-rag` answers from the tenant's
//!   documents (the last user message is the question, earlier messages the
//!   history; the response carries `citations`); any other model name is
//!   proxied to that registry model with Lode's auth, fallback and usage
//!   accounting. Streaming sends `chat.completion.chunk` events and
//!   `data: [DONE]`, as OpenAI does.
//! - `POST /v1/embeddings`: the in-process all-MiniLM-L6-v2.
//!
//! Shapes follow <https://platform.openai.com/docs/api-reference/chat> and
//! <https://platform.openai.com/docs/api-reference/embeddings>.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use futures::SinkExt;
use http_body_util::BodyExt;
use lode_api::ApiError;
use lode_auth::Principal;
use lode_common::Llm;
use lode_common::{Reply, SpinSql};
use lode_llm::chat::{Delta, FinishReason, Message, Role, Tool, ToolCall};
use lode_llm::client::Ask;
use lode_store::ids::{new_id, now_ms};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::Retrieval;
use crate::answer::{self, Framing, Question, Served};
use crate::lode::chunk::chunk;
use crate::lode::embed::embed;

/// The model that answers from the tenant's documents.
pub const RAG_MODEL: &str = "lode-rag";
/// Inputs one embeddings request may carry.
const MAX_INPUTS: usize = 256;
/// Answer length when the client sets none.
const DEFAULT_MAX_TOKENS: u32 = 1024;

/// `GET /v1/models`.
pub async fn models() -> Result<Reply, ApiError> {
    let llm = lode_common::llm().await?;
    let created = 1_767_225_600; // fixed: the models carry no creation date
    let mut data =
        vec![json!({"id": RAG_MODEL, "object": "model", "created": created, "owned_by": "lode"})];
    for m in &llm.registry().models {
        data.push(
            json!({"id": m.name, "object": "model", "created": created, "owned_by": m.provider}),
        );
    }
    data.push(
        json!({"id": embed::model(), "object": "model", "created": created, "owned_by": "lode"}),
    );
    Ok(Reply::json(200, json!({"object": "list", "data": data})))
}

/// A message as OpenAI clients send it: `content` is text or a list of parts.
#[derive(Deserialize)]
struct WireMessage {
    role: String,
    #[serde(default)]
    content: Json,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
    tool_call_id: Option<String>,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

#[derive(Deserialize)]
struct WireTool {
    function: WireToolSpec,
}

#[derive(Deserialize)]
struct WireToolSpec {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: Json,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// The body of `POST /v1/chat/completions` (fields Lode does not use, like
/// `user` or `seed`, are accepted and ignored, as clients send them).
#[derive(Deserialize)]
pub struct Completion {
    model: String,
    messages: Vec<WireMessage>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f32>,
    n: Option<u32>,
    #[serde(default)]
    tools: Vec<WireTool>,
}

/// `POST /v1/chat/completions`.
pub async fn completions(
    sql: SpinSql,
    who: Principal,
    body: Completion,
) -> Result<Served, ApiError> {
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("only n = 1 is supported"));
    }
    let messages = body
        .messages
        .into_iter()
        .map(message)
        .collect::<Result<Vec<_>, _>>()?;
    if messages.is_empty() {
        return Err(ApiError::invalid("messages must not be empty"));
    }
    let max_tokens = body
        .max_completion_tokens
        .or(body.max_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let id = format!("chatcmpl-{}", new_id("").trim_start_matches('_'));
    let framing = Chunks {
        id: id.clone(),
        model: body.model.clone(),
        created: now_ms() / 1000,
        include_usage: body.stream_options.is_some_and(|o| o.include_usage),
    };
    let ask = Ask {
        max_tokens,
        temperature: body.temperature,
        ..Ask::default()
    };
    if body.model == RAG_MODEL {
        let (question, history) = split_question(&messages)?;
        answer::check_limits(&question, max_tokens, body.temperature)?;
        let q = Question {
            question,
            history,
            retrieval: Retrieval::new(None, None, None, None)?,
            ask,
            conversation_id: None,
            remember: false,
            search: false,
        };
        let prepared = answer::prepare(sql, who.tenant.clone(), q).await?;
        if body.stream {
            return answer::stream(prepared, framing).await;
        }
        let payload = answer::answer(prepared).await?;
        return Ok(Served::Reply(Reply::json(
            200,
            framing.completion(&payload),
        )));
    }
    check_proxied(&messages, max_tokens, body.temperature)?;
    let ask = Ask {
        messages,
        tools: body
            .tools
            .into_iter()
            .map(|t| Tool {
                name: t.function.name,
                description: t.function.description,
                parameters: t.function.parameters,
            })
            .collect(),
        model: Some(body.model.clone()),
        ..ask
    };
    let llm = lode_common::llm().await?;
    if !body.stream {
        let a = llm.complete(&sql, &who.tenant, &ask).await?;
        let payload = json!({
            "answer": a.response.content,
            "tool_calls": a.response.tool_calls,
            "finish_reason": a.response.finish_reason,
            "usage": a.response.usage,
        });
        return Ok(Served::Reply(Reply::json(
            200,
            framing.completion(&payload),
        )));
    }
    proxy_stream(llm, sql, who, ask, framing).await
}

/// Stream a proxied model's answer as OpenAI chunks.
async fn proxy_stream(
    llm: Llm,
    sql: SpinSql,
    who: Principal,
    ask: Ask,
    framing: Chunks,
) -> Result<Served, ApiError> {
    let mut s = llm.stream(&sql, &who.tenant, &ask).await?;
    let (mut tx, body) = spin_sdk::http::body::stream::<Bytes>();
    lode_common::context::spawn(async move {
        let _ = tx.send(framing.first()).await;
        let mut failed = None;
        while let Some(delta) = s.next().await {
            let chunk = match delta {
                Ok(Delta::Text(t)) => framing.chunk(json!({"content": t}), None),
                Ok(Delta::ToolCallStart { index, id, name }) => framing.chunk(
                    json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
                    None,
                ),
                Ok(Delta::ToolCallArguments { index, fragment }) => framing.chunk(
                    json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}),
                    None,
                ),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
        let last = match failed {
            Some(e) => framing.error(&e.into()),
            None => match llm.finish_stream(&sql, &who.tenant, s).await {
                Ok(a) => framing.done(&json!({
                    "finish_reason": a.response.finish_reason,
                    "usage": a.response.usage,
                })),
                Err(e) => framing.error(&e.into()),
            },
        };
        let _ = tx.send(last).await;
    });
    answer::event_stream(body.boxed_unsync())
}

/// An OpenAI message as Lode's.
fn message(m: WireMessage) -> Result<Message, ApiError> {
    let role = match m.role.as_str() {
        "system" | "developer" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => return Err(ApiError::invalid(format!("unknown message role {other:?}"))),
    };
    let content = match m.content {
        Json::Null => String::new(),
        Json::String(s) => s,
        Json::Array(parts) => parts
            .iter()
            .map(|p| match (p["type"].as_str(), p["text"].as_str()) {
                (Some("text"), Some(t)) => Ok(t.to_string()),
                _ => Err(ApiError::invalid("only text content parts are supported")),
            })
            .collect::<Result<Vec<_>, _>>()?
            .join("\n"),
        _ => {
            return Err(ApiError::invalid(
                "message content must be text or a list of text parts",
            ));
        }
    };
    Ok(Message {
        role,
        content,
        tool_calls: m
            .tool_calls
            .into_iter()
            .map(|c| ToolCall {
                id: c.id,
                name: c.function.name,
                arguments: c.function.arguments,
            })
            .collect(),
        tool_call_id: m.tool_call_id,
    })
}

/// Most characters of all messages sent to a proxied model (as much raw
/// text as an LLM tool takes).
const MAX_PROXIED_CHARS: usize = 200_000;
/// Most messages sent to a proxied model.
const MAX_PROXIED_MESSAGES: usize = 2 * crate::MAX_HISTORY;

/// A proxied model's request is bounded like every other LLM call: the
/// same `max_tokens` and temperature ranges, and a ceiling on the text.
fn check_proxied(
    messages: &[Message],
    max_tokens: u32,
    temperature: Option<f32>,
) -> Result<(), ApiError> {
    answer::check_sampling(max_tokens, temperature)?;
    let chars: usize = messages.iter().map(|m| m.content.chars().count()).sum();
    if messages.len() > MAX_PROXIED_MESSAGES || chars > MAX_PROXIED_CHARS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_PROXIED_MESSAGES} messages of {MAX_PROXIED_CHARS} characters in all ({} messages, {chars} characters sent)",
            messages.len()
        ))
        .with_param("messages"));
    }
    Ok(())
}

/// The last user message is the question; earlier user and assistant
/// messages are the history (system messages are Lode's own to write).
fn split_question(messages: &[Message]) -> Result<(String, Vec<Message>), ApiError> {
    let last = messages
        .iter()
        .rposition(|m| m.role == Role::User)
        .ok_or_else(|| ApiError::invalid("lode-rag needs a user message to answer"))?;
    let history = messages[..last]
        .iter()
        .filter(|m| matches!(m.role, Role::User | Role::Assistant))
        .cloned()
        .collect();
    Ok((messages[last].content.trim().to_string(), history))
}

/// OpenAI's response shapes for one completion.
struct Chunks {
    id: String,
    model: String,
    created: i64,
    include_usage: bool,
}

impl Chunks {
    fn usage(payload: &Json) -> Json {
        let (i, o) = (
            payload["usage"]["input_tokens"].as_u64().unwrap_or(0),
            payload["usage"]["output_tokens"].as_u64().unwrap_or(0),
        );
        json!({"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o})
    }

    fn finish_reason(payload: &Json) -> &'static str {
        match serde_json::from_value::<FinishReason>(payload["finish_reason"].clone()) {
            Ok(FinishReason::Length) => "length",
            Ok(FinishReason::ToolCalls) => "tool_calls",
            Ok(FinishReason::ContentFilter) => "content_filter",
            _ => "stop",
        }
    }

    /// A whole `chat.completion` from an answer's JSON.
    fn completion(&self, payload: &Json) -> Json {
        let mut message = json!({"role": "assistant", "content": payload["answer"]});
        if let Some(calls) = payload["tool_calls"].as_array().filter(|c| !c.is_empty()) {
            message["tool_calls"] = calls
                .iter()
                .map(|c| json!({"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}))
                .collect();
        }
        let mut out = json!({
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": Self::finish_reason(payload)}],
            "usage": Self::usage(payload),
        });
        if self.model == RAG_MODEL {
            out["citations"] = payload["citations"].clone();
            out["grounded"] = payload["grounded"].clone();
        }
        out
    }

    fn chunk(&self, delta: Json, finish: Option<&str>) -> Bytes {
        let chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        Bytes::from(format!("data: {chunk}\n\n"))
    }

    /// The role announcement that opens a stream.
    fn first(&self) -> Bytes {
        self.chunk(json!({"role": "assistant", "content": ""}), None)
    }
}

impl Framing for Chunks {
    fn token(&self, text: &str) -> Bytes {
        self.chunk(json!({ "content": text }), None)
    }

    fn done(&self, payload: &Json) -> Bytes {
        let mut out = self
            .chunk(json!({}), Some(Self::finish_reason(payload)))
            .to_vec();
        if self.include_usage || self.model == RAG_MODEL {
            let mut last = json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [],
            });
            if self.include_usage {
                last["usage"] = Self::usage(payload);
            }
            if self.model == RAG_MODEL {
                last["citations"] = payload["citations"].clone();
            }
            out.extend(format!("data: {last}\n\n").bytes());
        }
        out.extend(b"data: [DONE]\n\n");
        Bytes::from(out)
    }

    /// A failure after the stream began, as an OpenAI error event.
    fn error(&self, e: &ApiError) -> Bytes {
        Bytes::from(format!("data: {}\n\ndata: [DONE]\n\n", e.to_openai().1))
    }
}

/// The body of `POST /v1/embeddings`.
#[derive(Deserialize)]
pub struct Embeddings {
    input: Json,
    model: String,
    encoding_format: Option<String>,
}

/// `POST /v1/embeddings`.
pub async fn embeddings(body: Embeddings) -> Result<Reply, ApiError> {
    let model = embed::model();
    if lode_llm::embeddings::model_id(&body.model) != model && body.model != model {
        let mut e = ApiError::model_not_found(&body.model);
        e.message = format!("{}; this server embeds with {model}", e.message);
        return Err(e);
    }
    // The official Python client asks for base64 by default.
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "encoding_format {other:?}: use \"float\" or \"base64\""
            )));
        }
    };
    let texts: Vec<String> = match body.input {
        Json::String(s) => vec![s],
        Json::Array(items) if items.iter().all(Json::is_string) => items
            .into_iter()
            .map(|i| i.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => {
            return Err(ApiError::invalid(
                "input must be a string or a list of strings (token arrays are not supported)",
            ));
        }
    };
    if texts.is_empty() || texts.len() > MAX_INPUTS || texts.iter().any(|t| t.is_empty()) {
        return Err(ApiError::invalid(format!(
            "input must hold 1-{MAX_INPUTS} non-empty strings"
        )));
    }
    let mut tokens = 0u64;
    for (i, t) in texts.iter().enumerate() {
        // Refused by length before the tokenizer sees it: the window is
        // 254 tokens (1–2 KB of prose), so this only stops abuse.
        if t.len() > MAX_INPUT_BYTES {
            return Err(ApiError::invalid(format!(
                "input {i} is {} bytes; {model} reads at most {MAX_INPUT_TOKENS} tokens and inputs over {MAX_INPUT_BYTES} bytes are refused",
                t.len()
            )));
        }
        let n = u64::from(chunk::count(t));
        if n > u64::from(MAX_INPUT_TOKENS) {
            return Err(ApiError::invalid(format!(
                "input {i} is {n} tokens; {model} reads at most {MAX_INPUT_TOKENS}"
            )));
        }
        tokens += n;
    }
    let started = std::time::Instant::now();
    let out = embed::embed(&texts).map_err(|e| {
        lode_common::log_error!("embed step failed: {e}");
        ApiError::unavailable("the embedding model is unavailable")
    })?;
    lode_common::metrics::embedded("api", texts.len(), started.elapsed()).await;
    let data: Vec<Json> = out
        .vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = match base64 {
                // Little-endian f32s, as OpenAI encodes them.
                true => json!(BASE64.encode(lode_index::encode(&v))),
                false => json!(v),
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Ok(Reply::json(
        200,
        json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
    ))
}

/// The model's window, in word pieces.
const MAX_INPUT_TOKENS: u32 = 254;

/// Longest input counted at all (bytes).
const MAX_INPUT_BYTES: usize = 32 * 1024;
