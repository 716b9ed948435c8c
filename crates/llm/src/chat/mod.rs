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
//!
//! This module holds the provider-neutral types, [`Protocol`]'s dispatch and
//! the protocol-independent half of [`StreamDecoder`]; each protocol's
//! request bodies, response parsing and stream events are in its own
//! submodule (`openai`, `anthropic`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::sse::SseEvent;

mod anthropic;
mod openai;

use anthropic::{anthropic_body, parse_anthropic};
use openai::{openai_body, parse_openai};

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
}

#[cfg(test)]
mod tests;
