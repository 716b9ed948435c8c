//! OpenAI Chat Completions on the wire: request bodies, non-streaming
//! answers and streamed chunks. Separate so that each protocol's quirks sit
//! together, apart from the shared types in `chat`.

use serde_json::{Value as Json, json};

use super::{
    ChatError, ChatRequest, ChatResponse, Delta, FinishReason, StreamDecoder, ToolCall, Usage,
};
use crate::sse::SseEvent;

pub(super) fn openai_body(r: &ChatRequest) -> Json {
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

fn openai_finish(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("stop") | None => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(_) => FinishReason::Other,
    }
}

fn openai_usage(u: &Json) -> Usage {
    Usage {
        input_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
        output_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
    }
}

pub(super) fn parse_openai(v: &Json) -> Option<ChatResponse> {
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

impl StreamDecoder {
    pub(super) fn openai(&mut self, event: &SseEvent) -> Result<Vec<Delta>, ChatError> {
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
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use crate::chat::tests::{body, decode};
    use crate::chat::{Delta, FinishReason, Protocol, Usage};

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
}
