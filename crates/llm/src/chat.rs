//! Chat with an LLM: one provider-neutral request and response, and the two
//! wire protocols Lode speaks.
//!
//! - OpenAI Chat Completions (`POST /v1/chat/completions`), also served by
//!   vLLM, llama.cpp's server, Ollama and LiteLLM:
//!   <https://platform.openai.com/docs/api-reference/chat/create>.
//! - Anthropic Messages (`POST /v1/messages`):
//!   <https://docs.anthropic.com/en/api/messages> and, for streaming,
//!   <https://docs.anthropic.com/en/api/messages-streaming>.
//!
//! Streaming answers are decoded by [`StreamDecoder`] from SSE events
//! ([`crate::sse`]) into [`Delta`]s, and accumulated into the same
//! [`ChatResponse`] a non-streaming call returns.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use crate::sse::SseEvent;

/// Which wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OpenAI Chat Completions and its compatible servers.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
    /// A tool's result, answering the assistant's tool call.
    Tool,
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Its name (`^[a-zA-Z0-9_-]{1,64}$` for both providers).
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: Json,
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id, echoed in the tool's result message.
    pub id: String,
    /// The tool.
    pub name: String,
    /// The arguments, a JSON object as text (as OpenAI sends them).
    pub arguments: String,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// The text (empty for an assistant message that only calls tools).
    pub content: String,
    /// Tool calls of an assistant message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a `tool` message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A message of plain text.
    pub fn text(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// What to ask.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The provider's model name.
    pub model: String,
    /// The conversation, system messages included.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    pub tools: Vec<Tool>,
    /// Output token limit (Anthropic requires one; Lode always sends it).
    pub max_tokens: u32,
    /// Sampling temperature, if not the provider's default.
    pub temperature: Option<f32>,
    /// Ask for Server-Sent Events.
    pub stream: bool,
}

/// Tokens counted by the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It finished its answer.
    Stop,
    /// It hit `max_tokens`.
    Length,
    /// It wants tool results.
    ToolCalls,
    /// The provider filtered the output.
    ContentFilter,
    /// Anything else the provider said.
    Other,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatResponse {
    /// The model that answered, as the provider names it.
    pub model: String,
    /// The text.
    pub content: String,
    /// Tools the model wants called.
    pub tool_calls: Vec<ToolCall>,
    /// Why it stopped.
    pub finish_reason: FinishReason,
    /// Tokens used.
    pub usage: Usage,
}

/// A piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    /// More text.
    Text(String),
    /// A tool call started (`index` orders the calls of one answer).
    ToolCallStart {
        /// Position among this answer's calls.
        index: usize,
        /// The provider's id.
        id: String,
        /// The tool.
        name: String,
    },
    /// More of a tool call's JSON arguments.
    ToolCallArguments {
        /// Position among this answer's calls.
        index: usize,
        /// The next fragment.
        fragment: String,
    },
}

/// Why a provider's answer could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChatError {
    /// Not the documented JSON.
    #[error("the {protocol:?} response is malformed: {detail}")]
    Malformed {
        /// Which protocol.
        protocol: Protocol,
        /// What was wrong.
        detail: String,
    },
    /// The provider reported an error inside a stream (Anthropic's `error` event).
    #[error("the provider reported {kind}: {message}")]
    Provider {
        /// The provider's error type (`overloaded_error`…).
        kind: String,
        /// Its message.
        message: String,
    },
}

impl Protocol {
    /// The path of the chat endpoint under the provider's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Protocol::OpenAi => "/v1/chat/completions",
            Protocol::Anthropic => "/v1/messages",
        }
    }

    /// Headers besides `content-type: application/json`; `key` is the secret.
    pub fn headers(self, key: &str) -> Vec<(&'static str, String)> {
        match self {
            Protocol::OpenAi if key.is_empty() => Vec::new(),
            Protocol::OpenAi => vec![("authorization", format!("Bearer {key}"))],
            Protocol::Anthropic => vec![
                ("x-api-key", key.to_string()),
                ("anthropic-version", "2023-06-01".to_string()),
            ],
        }
    }

    /// The JSON body of `request`.
    pub fn body(self, request: &ChatRequest) -> Vec<u8> {
        let value = match self {
            Protocol::OpenAi => openai_body(request),
            Protocol::Anthropic => anthropic_body(request),
        };
        serde_json::to_vec(&value).expect("JSON values always serialise")
    }

    /// Parse a non-streaming `200` body.
    pub fn parse(self, body: &[u8]) -> Result<ChatResponse, ChatError> {
        let malformed = |detail: String| ChatError::Malformed {
            protocol: self,
            detail,
        };
        let value: Json = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
        match self {
            Protocol::OpenAi => parse_openai(&value),
            Protocol::Anthropic => parse_anthropic(&value),
        }
        .ok_or_else(|| malformed("missing or mistyped fields".into()))
    }
}

fn openai_body(r: &ChatRequest) -> Json {
    let messages: Vec<Json> = r
        .messages
        .iter()
        .map(|m| {
            let mut out = json!({"role": m.role, "content": m.content});
            if !m.tool_calls.is_empty() {
                out["tool_calls"] = m
                    .tool_calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
                if m.content.is_empty() {
                    out["content"] = Json::Null;
                }
            }
            if let Some(id) = &m.tool_call_id {
                out["tool_call_id"] = json!(id);
            }
            out
        })
        .collect();
    let mut body = json!({
        "model": r.model,
        "messages": messages,
        "max_tokens": r.max_tokens,
        "stream": r.stream,
    });
    if r.stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if let Some(t) = r.temperature {
        body["temperature"] = json!(t);
    }
    if !r.tools.is_empty() {
        body["tools"] = r
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
    }
    body
}

fn anthropic_body(r: &ChatRequest) -> Json {
    let system: Vec<&str> = r
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let mut messages: Vec<Json> = Vec::new();
    for m in r.messages.iter().filter(|m| m.role != Role::System) {
        let (role, blocks) = match m.role {
            Role::Tool => (
                "user",
                vec![
                    json!({"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content}),
                ],
            ),
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": m.content}));
                }
                for c in &m.tool_calls {
                    let input: Json = serde_json::from_str(&c.arguments).unwrap_or(json!({}));
                    blocks.push(
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                    );
                }
                ("assistant", blocks)
            }
            _ => ("user", vec![json!({"type": "text", "text": m.content})]),
        };
        // Anthropic wants alternating roles: consecutive tool results (and
        // user text) merge into one user message.
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(content) = last["content"].as_array_mut() {
                    content.extend(blocks);
                }
            }
            _ => messages.push(json!({"role": role, "content": blocks})),
        }
    }
    let mut body = json!({
        "model": r.model,
        "max_tokens": r.max_tokens,
        "messages": messages,
        "stream": r.stream,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if let Some(t) = r.temperature {
        body["temperature"] = json!(t);
    }
    if !r.tools.is_empty() {
        body["tools"] = r
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
    }
    body
}

fn openai_finish(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("stop") | None => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(_) => FinishReason::Other,
    }
}

fn anthropic_finish(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("end_turn") | Some("stop_sequence") | None => FinishReason::Stop,
        Some("max_tokens") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some(_) => FinishReason::Other,
    }
}

fn openai_usage(u: &Json) -> Usage {
    Usage {
        input_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
        output_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
    }
}

fn parse_openai(v: &Json) -> Option<ChatResponse> {
    let choice = v["choices"].as_array()?.first()?;
    let message = choice["message"].as_object()?;
    let tool_calls = message
        .get("tool_calls")
        .and_then(Json::as_array)
        .map(|calls| {
            calls
                .iter()
                .filter_map(|c| {
                    Some(ToolCall {
                        id: c["id"].as_str()?.to_string(),
                        name: c["function"]["name"].as_str()?.to_string(),
                        arguments: c["function"]["arguments"]
                            .as_str()
                            .unwrap_or("{}")
                            .to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(ChatResponse {
        model: v["model"].as_str().unwrap_or_default().to_string(),
        content: message
            .get("content")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string(),
        tool_calls,
        finish_reason: openai_finish(choice["finish_reason"].as_str()),
        usage: openai_usage(&v["usage"]),
    })
}

fn parse_anthropic(v: &Json) -> Option<ChatResponse> {
    let mut content = String::new();
    let mut tool_calls = Vec::new();
    for block in v["content"].as_array()? {
        match block["type"].as_str()? {
            "text" => content.push_str(block["text"].as_str()?),
            "tool_use" => tool_calls.push(ToolCall {
                id: block["id"].as_str()?.to_string(),
                name: block["name"].as_str()?.to_string(),
                arguments: block["input"].to_string(),
            }),
            _ => {} // thinking and other blocks are not part of the answer
        }
    }
    Some(ChatResponse {
        model: v["model"].as_str().unwrap_or_default().to_string(),
        content,
        tool_calls,
        finish_reason: anthropic_finish(v["stop_reason"].as_str()),
        usage: Usage {
            input_tokens: v["usage"]["input_tokens"].as_u64().unwrap_or(0),
            output_tokens: v["usage"]["output_tokens"].as_u64().unwrap_or(0),
        },
    })
}

/// Decodes one streamed answer, event by event, and accumulates it.
#[derive(Debug)]
pub struct StreamDecoder {
    protocol: Protocol,
    response: ChatResponse,
    /// Anthropic content-block index → tool-call index.
    blocks: Map<String, Json>,
    done: bool,
}

impl StreamDecoder {
    /// A decoder for a stream of `protocol`.
    pub fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            response: ChatResponse {
                model: String::new(),
                content: String::new(),
                tool_calls: Vec::new(),
                finish_reason: FinishReason::Stop,
                usage: Usage::default(),
            },
            blocks: Map::new(),
            done: false,
        }
    }

    /// The stream said it is complete (`[DONE]` or `message_stop`).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The deltas in `event`, also applied to the accumulated answer.
    pub fn decode(&mut self, event: &SseEvent) -> Result<Vec<Delta>, ChatError> {
        let deltas = match self.protocol {
            Protocol::OpenAi => self.openai(event)?,
            Protocol::Anthropic => self.anthropic(event)?,
        };
        for d in &deltas {
            self.apply(d);
        }
        Ok(deltas)
    }

    /// The whole answer so far.
    pub fn response(&self) -> &ChatResponse {
        &self.response
    }

    /// The whole answer. A tool call whose arguments never arrived gets
    /// `{}` (Anthropic streams none for a tool without parameters).
    pub fn finish(mut self) -> ChatResponse {
        for call in &mut self.response.tool_calls {
            if call.arguments.trim().is_empty() {
                call.arguments = "{}".into();
            }
        }
        self.response
    }

    fn apply(&mut self, delta: &Delta) {
        let calls = &mut self.response.tool_calls;
        match delta {
            Delta::Text(t) => self.response.content.push_str(t),
            Delta::ToolCallStart { index, id, name } => {
                while calls.len() <= *index {
                    calls.push(ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                }
                calls[*index].id = id.clone();
                calls[*index].name = name.clone();
            }
            Delta::ToolCallArguments { index, fragment } => {
                if let Some(call) = calls.get_mut(*index) {
                    call.arguments.push_str(fragment);
                }
            }
        }
    }

    fn malformed(&self, detail: impl Into<String>) -> ChatError {
        ChatError::Malformed {
            protocol: self.protocol,
            detail: detail.into(),
        }
    }

    fn json(&self, data: &str) -> Result<Json, ChatError> {
        serde_json::from_str(data).map_err(|e| self.malformed(format!("stream event: {e}")))
    }

    fn openai(&mut self, event: &SseEvent) -> Result<Vec<Delta>, ChatError> {
        if event.data.trim() == "[DONE]" {
            self.done = true;
            return Ok(Vec::new());
        }
        let v = self.json(&event.data)?;
        if let Some(error) = v.get("error") {
            return Err(ChatError::Provider {
                kind: error["type"].as_str().unwrap_or("error").to_string(),
                message: error["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        if let Some(model) = v["model"].as_str() {
            self.response.model = model.to_string();
        }
        if v["usage"].is_object() {
            self.response.usage = openai_usage(&v["usage"]);
        }
        let mut deltas = Vec::new();
        for choice in v["choices"].as_array().into_iter().flatten() {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                deltas.push(Delta::Text(text.to_string()));
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().unwrap_or(0) as usize;
                if let (Some(id), Some(name)) =
                    (call["id"].as_str(), call["function"]["name"].as_str())
                {
                    deltas.push(Delta::ToolCallStart {
                        index,
                        id: id.to_string(),
                        name: name.to_string(),
                    });
                }
                if let Some(args) = call["function"]["arguments"]
                    .as_str()
                    .filter(|a| !a.is_empty())
                {
                    deltas.push(Delta::ToolCallArguments {
                        index,
                        fragment: args.to_string(),
                    });
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.response.finish_reason = openai_finish(Some(reason));
            }
        }
        Ok(deltas)
    }

    fn anthropic(&mut self, event: &SseEvent) -> Result<Vec<Delta>, ChatError> {
        let v = self.json(&event.data)?;
        let kind = v["type"].as_str().unwrap_or(event.event.as_str());
        let mut deltas = Vec::new();
        match kind {
            "message_start" => {
                let m = &v["message"];
                self.response.model = m["model"].as_str().unwrap_or_default().to_string();
                self.response.usage.input_tokens = m["usage"]["input_tokens"].as_u64().unwrap_or(0);
                self.response.usage.output_tokens =
                    m["usage"]["output_tokens"].as_u64().unwrap_or(0);
            }
            "content_block_start" => {
                let block = &v["content_block"];
                if block["type"] == "tool_use" {
                    let index = self.response.tool_calls.len();
                    let key = v["index"].to_string();
                    self.blocks.insert(key, json!(index));
                    deltas.push(Delta::ToolCallStart {
                        index,
                        id: block["id"].as_str().unwrap_or_default().to_string(),
                        name: block["name"].as_str().unwrap_or_default().to_string(),
                    });
                } else if let Some(text) = block["text"].as_str().filter(|t| !t.is_empty()) {
                    deltas.push(Delta::Text(text.to_string()));
                }
            }
            "content_block_delta" => {
                let d = &v["delta"];
                match d["type"].as_str() {
                    Some("text_delta") => {
                        deltas.push(Delta::Text(
                            d["text"].as_str().unwrap_or_default().to_string(),
                        ));
                    }
                    Some("input_json_delta") => {
                        let index = self
                            .blocks
                            .get(&v["index"].to_string())
                            .and_then(Json::as_u64)
                            .ok_or_else(|| {
                                self.malformed("input_json_delta for an unknown block")
                            })?;
                        deltas.push(Delta::ToolCallArguments {
                            index: index as usize,
                            fragment: d["partial_json"].as_str().unwrap_or_default().to_string(),
                        });
                    }
                    _ => {} // thinking and signature deltas are not part of the answer
                }
            }
            "message_delta" => {
                if let Some(reason) = v["delta"]["stop_reason"].as_str() {
                    self.response.finish_reason = anthropic_finish(Some(reason));
                }
                if let Some(out) = v["usage"]["output_tokens"].as_u64() {
                    self.response.usage.output_tokens = out;
                }
                if let Some(input) = v["usage"]["input_tokens"].as_u64() {
                    self.response.usage.input_tokens = input;
                }
            }
            "message_stop" => self.done = true,
            "error" => {
                return Err(ChatError::Provider {
                    kind: v["error"]["type"].as_str().unwrap_or("error").to_string(),
                    message: v["error"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                });
            }
            _ => {} // ping, content_block_stop, and event types added later
        }
        Ok(deltas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;

    fn request(stream: bool) -> ChatRequest {
        ChatRequest {
            model: "m".into(),
            messages: vec![
                Message::text(Role::System, "Be brief."),
                Message::text(Role::User, "Weather in Paris?"),
                Message {
                    role: Role::Assistant,
                    content: String::new(),
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "weather".into(),
                        arguments: r#"{"city":"Paris"}"#.into(),
                    }],
                    tool_call_id: None,
                },
                Message {
                    role: Role::Tool,
                    content: "18 C".into(),
                    tool_calls: vec![],
                    tool_call_id: Some("call_1".into()),
                },
            ],
            tools: vec![Tool {
                name: "weather".into(),
                description: "Current weather".into(),
                parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            }],
            max_tokens: 256,
            temperature: Some(0.0),
            stream,
        }
    }

    fn body(protocol: Protocol, stream: bool) -> Json {
        serde_json::from_slice(&protocol.body(&request(stream))).unwrap()
    }

    #[test]
    fn openai_requests_follow_the_chat_completions_shape() {
        let b = body(Protocol::OpenAi, true);
        assert_eq!(
            b["messages"][0],
            json!({"role": "system", "content": "Be brief."})
        );
        assert_eq!(b["messages"][2]["content"], Json::Null);
        assert_eq!(
            b["messages"][2]["tool_calls"][0],
            json!({"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}})
        );
        assert_eq!(
            b["messages"][3],
            json!({"role": "tool", "content": "18 C", "tool_call_id": "call_1"})
        );
        assert_eq!(b["tools"][0]["type"], "function");
        assert_eq!(b["tools"][0]["function"]["name"], "weather");
        assert_eq!(b["stream_options"], json!({"include_usage": true}));
        assert_eq!(b["max_tokens"], 256);
        assert!(
            body(Protocol::OpenAi, false)
                .get("stream_options")
                .is_none()
        );
        assert_eq!(
            Protocol::OpenAi.headers("sk-1"),
            vec![("authorization", "Bearer sk-1".to_string())]
        );
        assert!(Protocol::OpenAi.headers("").is_empty());
    }

    #[test]
    fn anthropic_requests_follow_the_messages_shape() {
        let b = body(Protocol::Anthropic, false);
        assert_eq!(b["system"], "Be brief.");
        assert_eq!(b["max_tokens"], 256);
        let m = b["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3, "{b}");
        assert_eq!(
            m[0],
            json!({"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]})
        );
        assert_eq!(
            m[1]["content"][0],
            json!({"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}})
        );
        assert_eq!(
            m[2],
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "18 C"}]})
        );
        assert_eq!(b["tools"][0]["input_schema"]["type"], "object");
        let h = Protocol::Anthropic.headers("k");
        assert!(h.contains(&("x-api-key", "k".to_string())));
        assert!(h.contains(&("anthropic-version", "2023-06-01".to_string())));
    }

    #[test]
    fn non_streaming_answers_are_parsed() {
        let openai = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-x",
            "choices":[{"index":0,"message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"call_9","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},
            "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}"#;
        let r = Protocol::OpenAi.parse(openai).unwrap();
        assert_eq!(r.content, "");
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(r.tool_calls[0].arguments, r#"{"city":"Oslo"}"#);
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 12,
                output_tokens: 7
            }
        );

        let anthropic = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x",
            "content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Oslo"}}],
            "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":30,"output_tokens":9}}"#;
        let r = Protocol::Anthropic.parse(anthropic).unwrap();
        assert_eq!(
            (r.content.as_str(), r.model.as_str()),
            ("Checking.", "claude-x")
        );
        assert_eq!(r.tool_calls[0].id, "toolu_1");
        assert_eq!(r.tool_calls[0].arguments, r#"{"city":"Oslo"}"#);
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 30,
                output_tokens: 9
            }
        );
        assert!(Protocol::OpenAi.parse(b"{}").is_err());
        assert!(Protocol::Anthropic.parse(b"not json").is_err());
    }

    /// Decode `stream` pushed in pieces of `step` bytes.
    fn decode(protocol: Protocol, stream: &str, step: usize) -> (Vec<Delta>, ChatResponse, bool) {
        let mut parser = SseParser::new();
        let mut decoder = StreamDecoder::new(protocol);
        let mut deltas = Vec::new();
        for piece in stream.as_bytes().chunks(step) {
            for event in parser.push(piece) {
                deltas.extend(decoder.decode(&event).unwrap());
            }
        }
        let done = decoder.is_done();
        (deltas, decoder.finish(), done)
    }

    #[test]
    fn openai_streams_accumulate_text_tool_calls_and_usage() {
        let stream = concat!(
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo [1]\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Oslo\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,\"total_tokens\":9}}\n\n",
            "data: [DONE]\n\n",
        );
        for step in [1, 7, 64, stream.len()] {
            let (deltas, r, done) = decode(Protocol::OpenAi, stream, step);
            assert!(done);
            assert_eq!(deltas[0], Delta::Text("Hel".into()));
            assert_eq!(r.content, "Hello [1]");
            assert_eq!(r.tool_calls.len(), 1);
            assert_eq!(r.tool_calls[0].name, "weather");
            assert_eq!(r.tool_calls[0].arguments, r#"{"city":"Oslo"}"#);
            assert_eq!(r.finish_reason, FinishReason::ToolCalls);
            assert_eq!(
                r.usage,
                Usage {
                    input_tokens: 5,
                    output_tokens: 4
                }
            );
            assert_eq!(r.model, "gpt-x");
        }
    }

    #[test]
    fn anthropic_streams_accumulate_text_tool_calls_and_usage() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-x\",\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: ping\ndata: {\"type\":\"ping\"}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me \"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"check.\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"weather\",\"input\":{}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Oslo\\\"}\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        for step in [1, 5, 100, stream.len()] {
            let (deltas, r, done) = decode(Protocol::Anthropic, stream, step);
            assert!(done);
            assert_eq!(deltas[0], Delta::Text("Let me ".into()));
            assert_eq!(r.content, "Let me check.");
            assert_eq!(r.tool_calls[0].id, "toolu_1");
            assert_eq!(r.tool_calls[0].arguments, r#"{"city": "Oslo"}"#);
            assert_eq!(r.finish_reason, FinishReason::ToolCalls);
            assert_eq!(
                r.usage,
                Usage {
                    input_tokens: 25,
                    output_tokens: 15
                }
            );
        }
    }

    #[test]
    fn a_provider_error_inside_a_stream_is_an_error() {
        let mut parser = SseParser::new();
        let events = parser.push(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
        let err = StreamDecoder::new(Protocol::Anthropic)
            .decode(&events[0])
            .unwrap_err();
        assert_eq!(
            err,
            ChatError::Provider {
                kind: "overloaded_error".into(),
                message: "Overloaded".into()
            }
        );
    }
}
