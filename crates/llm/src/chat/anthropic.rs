//! Anthropic Messages on the wire: request bodies (system prompt apart,
//! alternating roles, content blocks), non-streaming answers and streamed
//! events. Separate so that each protocol's quirks sit together, apart from
//! the shared types in `chat`.

use serde_json::{Value as Json, json};

use super::{
    ChatError, ChatRequest, ChatResponse, Delta, FinishReason, Role, StreamDecoder, ToolCall, Usage,
};
use crate::sse::SseEvent;

pub(super) fn anthropic_body(r: &ChatRequest) -> Json {
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

fn anthropic_finish(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("end_turn") | Some("stop_sequence") | None => FinishReason::Stop,
        Some("max_tokens") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some(_) => FinishReason::Other,
    }
}

pub(super) fn parse_anthropic(v: &Json) -> Option<ChatResponse> {
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

impl StreamDecoder {
    pub(super) fn anthropic(&mut self, event: &SseEvent) -> Result<Vec<Delta>, ChatError> {
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
    use serde_json::json;

    use crate::chat::tests::{body, decode};
    use crate::chat::{ChatError, Delta, FinishReason, Protocol, StreamDecoder, Usage};
    use crate::sse::SseParser;

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
