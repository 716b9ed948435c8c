//! OpenAI's API shapes, mapped to Lode's and back, so existing clients and
//! SDKs work against `/v1`: chat completion requests (messages, tools,
//! streaming options) and their responses and `chat.completion.chunk`
//! events, and embedding requests. Shapes follow
//! <https://platform.openai.com/docs/api-reference/chat> and
//! <https://platform.openai.com/docs/api-reference/embeddings>.

use bytes::Bytes;
use lode_api::ApiError;
use lode_llm::chat::{Delta, FinishReason, Message, Role, Tool, ToolCall};
use lode_llm::client::Ask;
use lode_store::ids::{new_id, now_ms};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::answer::{Framing, MAX_HISTORY, check_sampling};

/// The model that answers from the tenant's documents.
pub const RAG_MODEL: &str = "lode-rag";
/// Inputs one embeddings request may carry.
pub const MAX_INPUTS: usize = 256;
/// Answer length when the client sets none.
const DEFAULT_MAX_TOKENS: u32 = 1024;

/// A message as OpenAI clients send it: `content` is text or a list of parts.
#[derive(Deserialize)]
pub struct WireMessage {
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

/// An OpenAI message as Lode's.
pub fn message(m: WireMessage) -> Result<Message, ApiError> {
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
const MAX_PROXIED_MESSAGES: usize = 2 * MAX_HISTORY;

/// A proxied model's request is bounded like every other LLM call: the
/// same `max_tokens` and temperature ranges, and a ceiling on the text.
pub fn check_proxied(
    messages: &[Message],
    max_tokens: u32,
    temperature: Option<f32>,
) -> Result<(), ApiError> {
    check_sampling(max_tokens, temperature)?;
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
pub fn split_question(messages: &[Message]) -> Result<(String, Vec<Message>), ApiError> {
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
pub struct Chunks {
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
    pub fn completion(&self, payload: &Json) -> Json {
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

    pub fn chunk(&self, delta: Json, finish: Option<&str>) -> Bytes {
        let chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        Bytes::from(format!("data: {chunk}\n\n"))
    }

    /// The role announcement that opens a stream.
    pub fn first(&self) -> Bytes {
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

/// Who answers a completion.
pub enum Target {
    /// `lode-rag`: the tenant's documents, the last user message the question.
    Rag {
        /// The question.
        question: String,
        /// Earlier user and assistant turns.
        history: Vec<Message>,
    },
    /// A registry model, proxied: `ask` carries the messages, tools and model.
    Proxy,
}

/// A checked completion request, in Lode's terms.
pub struct Request {
    /// Who answers.
    pub target: Target,
    /// The model call (for a proxy, messages, tools and model filled in).
    pub ask: Ask,
    /// Answer as `chat.completion.chunk` events.
    pub stream: bool,
    /// The response's shapes (id, model, creation time).
    pub framing: Chunks,
}

impl Completion {
    /// Check the request and map it to Lode's terms (422 naming what is wrong).
    pub fn parse(self) -> Result<Request, ApiError> {
        if self.n.is_some_and(|n| n != 1) {
            return Err(ApiError::invalid("only n = 1 is supported"));
        }
        let messages = self
            .messages
            .into_iter()
            .map(message)
            .collect::<Result<Vec<_>, _>>()?;
        if messages.is_empty() {
            return Err(ApiError::invalid("messages must not be empty"));
        }
        let max_tokens = self
            .max_completion_tokens
            .or(self.max_tokens)
            .unwrap_or(DEFAULT_MAX_TOKENS);
        let framing = Chunks {
            id: format!("chatcmpl-{}", new_id("").trim_start_matches('_')),
            model: self.model.clone(),
            created: now_ms() / 1000,
            include_usage: self.stream_options.is_some_and(|o| o.include_usage),
        };
        let ask = Ask {
            max_tokens,
            temperature: self.temperature,
            ..Ask::default()
        };
        if self.model == RAG_MODEL {
            let (question, history) = split_question(&messages)?;
            crate::answer::check_limits(&question, max_tokens, self.temperature)?;
            return Ok(Request {
                target: Target::Rag { question, history },
                ask,
                stream: self.stream,
                framing,
            });
        }
        check_proxied(&messages, max_tokens, self.temperature)?;
        let tools = self
            .tools
            .into_iter()
            .map(|t| Tool {
                name: t.function.name,
                description: t.function.description,
                parameters: t.function.parameters,
            })
            .collect();
        Ok(Request {
            target: Target::Proxy,
            ask: Ask {
                messages,
                tools,
                model: Some(self.model),
                ..ask
            },
            stream: self.stream,
            framing,
        })
    }
}

impl Chunks {
    /// A piece of a proxied model's streamed answer as a chunk event.
    pub fn delta(&self, delta: Delta) -> Bytes {
        match delta {
            Delta::Text(t) => self.chunk(json!({"content": t}), None),
            Delta::ToolCallStart { index, id, name } => self.chunk(
                json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
                None,
            ),
            Delta::ToolCallArguments { index, fragment } => self.chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}),
                None,
            ),
        }
    }
}

/// The body of `POST /v1/embeddings`.
#[derive(Deserialize)]
pub struct Embeddings {
    input: Json,
    model: String,
    encoding_format: Option<String>,
}

/// A checked embeddings request.
pub struct EmbeddingsRequest {
    /// The texts, in order.
    pub texts: Vec<String>,
    /// Answer vectors as base64 little-endian f32s (the Python client's default).
    pub base64: bool,
    /// Word pieces in all.
    pub tokens: u64,
}

impl Embeddings {
    /// Check the request against `model` (the one this server embeds
    /// with), counting each input's word pieces with `count`.
    pub fn parse(
        self,
        model: &str,
        count: impl Fn(&str) -> u32,
    ) -> Result<EmbeddingsRequest, ApiError> {
        if lode_llm::embeddings::model_id(&self.model) != model && self.model != model {
            let mut e = ApiError::model_not_found(&self.model);
            e.message = format!("{}; this server embeds with {model}", e.message);
            return Err(e);
        }
        let base64 = match self.encoding_format.as_deref() {
            None | Some("float") => false,
            Some("base64") => true,
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "encoding_format {other:?}: use \"float\" or \"base64\""
                )));
            }
        };
        let texts: Vec<String> = match self.input {
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
            let n = u64::from(count(t));
            if n > u64::from(MAX_INPUT_TOKENS) {
                return Err(ApiError::invalid(format!(
                    "input {i} is {n} tokens; {model} reads at most {MAX_INPUT_TOKENS}"
                )));
            }
            tokens += n;
        }
        Ok(EmbeddingsRequest {
            texts,
            base64,
            tokens,
        })
    }
}

impl EmbeddingsRequest {
    /// OpenAI's response for `vectors` (one per text) from `model`.
    pub fn response(&self, model: &str, vectors: Vec<Vec<f32>>) -> Json {
        use base64::Engine;
        let data: Vec<Json> = vectors
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let embedding = match self.base64 {
                    // Little-endian f32s, as OpenAI encodes them.
                    true => json!(
                        base64::engine::general_purpose::STANDARD.encode(lode_index::encode(&v))
                    ),
                    false => json!(v),
                };
                json!({"object": "embedding", "index": i, "embedding": embedding})
            })
            .collect();
        let tokens = self.tokens;
        json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
    }
}

/// The model's window, in word pieces.
const MAX_INPUT_TOKENS: u32 = 254;

/// Longest input counted at all (bytes).
const MAX_INPUT_BYTES: usize = 32 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Json) -> Result<Request, ApiError> {
        serde_json::from_value::<Completion>(body).unwrap().parse()
    }

    #[test]
    fn lode_rag_takes_the_last_user_message_as_the_question() {
        let r = parse(json!({"model": "lode-rag", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": [{"type": "text", "text": " second "}]}
        ], "max_tokens": 50}))
        .unwrap();
        let Target::Rag { question, history } = r.target else {
            panic!("not lode-rag")
        };
        assert_eq!(question, "second");
        assert_eq!(history.len(), 2, "system messages are Lode's own");
        assert_eq!(r.ask.max_tokens, 50);
    }

    #[test]
    fn a_proxied_request_keeps_its_tools_and_bad_ones_are_refused() {
        let r = parse(json!({"model": "gpt-x", "stream": true, "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "stream_options": {"include_usage": true}}))
        .unwrap();
        assert!(matches!(r.target, Target::Proxy) && r.stream);
        assert_eq!(
            (r.ask.model.as_deref(), r.ask.tools[0].name.as_str()),
            (Some("gpt-x"), "f")
        );
        assert!(r.framing.include_usage);
        for bad in [
            json!({"model": "m", "messages": []}),
            json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "hi"}]}),
            json!({"model": "m", "messages": [{"role": "robot", "content": "hi"}]}),
            json!({"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "hi"}]}),
            json!({"model": "lode-rag", "messages": [{"role": "assistant", "content": "hi"}]}),
        ] {
            assert_eq!(
                parse(bad.clone()).err().map(|e| e.status()),
                Some(422),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_completion_and_its_chunks_take_openai_shapes() {
        let chunks = Chunks {
            id: "chatcmpl-1".into(),
            model: RAG_MODEL.into(),
            created: 1,
            include_usage: true,
        };
        let payload = json!({"answer": "hi [1]", "citations": [{"n": 1}], "grounded": true,
            "usage": {"input_tokens": 3, "output_tokens": 2}});
        let c = chunks.completion(&payload);
        assert_eq!(c["choices"][0]["message"]["content"], "hi [1]");
        assert_eq!(c["usage"]["total_tokens"], 5);
        assert_eq!(c["citations"][0]["n"], 1);
        let done = String::from_utf8(chunks.done(&payload).to_vec()).unwrap();
        assert!(
            done.ends_with("data: [DONE]\n\n") && done.contains("\"prompt_tokens\":3"),
            "{done}"
        );
        let delta = chunks.delta(Delta::Text("x".into()));
        assert!(String::from_utf8_lossy(&delta).contains("\"chat.completion.chunk\""));
    }

    #[test]
    fn embeddings_requests_are_checked_before_any_work() {
        let parse = |b: Json| {
            serde_json::from_value::<Embeddings>(b)
                .unwrap()
                .parse("all-MiniLM-L6-v2", |t| t.split_whitespace().count() as u32)
        };
        let ok = parse(json!({"model": "all-MiniLM-L6-v2", "input": ["a b", "c"], "encoding_format": "base64"})).unwrap();
        assert_eq!((ok.texts.len(), ok.tokens, ok.base64), (2, 3, true));
        let out = ok.response("all-MiniLM-L6-v2", vec![vec![1.0], vec![0.5]]);
        assert_eq!(out["data"][1]["embedding"], "AAAAPw==");
        assert_eq!(
            parse(json!({"model": "other", "input": "a"}))
                .err()
                .map(|e| e.status()),
            Some(404)
        );
        let long = "w ".repeat(300);
        assert_eq!(
            parse(json!({"model": "all-MiniLM-L6-v2", "input": long}))
                .err()
                .map(|e| e.status()),
            Some(422)
        );
    }
}
