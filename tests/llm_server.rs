//! A small real HTTP server that speaks the LLM providers' wire protocols,
//! scripted per test: OpenAI Chat Completions (JSON and SSE with
//! `data: [DONE]`) and Anthropic Messages (JSON and its typed SSE events),
//! errors with `Retry-After`, and slow answers. Lode's provider clients talk
//! to it exactly as to the real services; it records every request.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// A whole response.
    Json {
        /// Status code.
        status: u16,
        /// Extra headers (`retry-after`…).
        headers: Vec<(String, String)>,
        /// Body.
        body: String,
    },
    /// `text/event-stream`, one write per event, `delay` between them.
    Sse {
        /// Complete events (`event: …\ndata: …\n\n`).
        events: Vec<String>,
        /// Pause before each event.
        delay: Duration,
    },
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The path.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Value,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The scripted server, on a free loopback port until the test ends.
pub struct ScriptedLlm {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    script: Arc<Mutex<VecDeque<Scripted>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl ScriptedLlm {
    /// Start serving; every request takes the next scripted answer (a 500
    /// saying so when the script is empty).
    pub fn start() -> ScriptedLlm {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (script.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (s, r) = (s.clone(), r.clone());
                std::thread::spawn(move || serve(stream, &s, &r));
            }
        });
        ScriptedLlm {
            origin,
            script,
            requests,
        }
    }

    /// Queue an answer.
    pub fn push(&self, answer: Scripted) {
        self.script.lock().unwrap().push_back(answer);
    }

    /// Scripted answers not yet given.
    pub fn pending(&self) -> usize {
        self.script.lock().unwrap().len()
    }

    /// Forget the answers not yet given.
    pub fn clear(&self) {
        self.script.lock().unwrap().clear();
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, script: &Mutex<VecDeque<Scripted>>, requests: &Mutex<Vec<Recorded>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(&mut reader)
    } else {
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        body
    };
    requests.lock().unwrap().push(Recorded {
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let answer = script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Scripted::Json {
            status: 500,
            headers: vec![],
            body: r#"{"error":{"message":"the test scripted no answer for this request"}}"#.into(),
        });
    let mut out = stream;
    match answer {
        Scripted::Json {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (n, v) in headers {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = out.write_all(head.as_bytes());
            let _ = out.write_all(body.as_bytes());
        }
        Scripted::Sse { events, delay } => {
            let _ = out.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
            );
            for e in events {
                std::thread::sleep(delay);
                if out.write_all(e.as_bytes()).is_err() {
                    return;
                }
                let _ = out.flush();
            }
        }
    }
    let _ = out.flush();
}

/// A `Transfer-Encoding: chunked` body (RFC 9112 §7.1), trailers ignored.
fn read_chunked(reader: &mut impl BufRead) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).unwrap_or(0) == 0 {
            return body;
        }
        let hex = size.trim().split(';').next().unwrap_or("");
        let n = usize::from_str_radix(hex, 16).unwrap_or(0);
        if n == 0 {
            let mut rest = String::new();
            while reader.read_line(&mut rest).unwrap_or(0) > 0 && !rest.trim().is_empty() {
                rest.clear();
            }
            return body;
        }
        let mut chunk = vec![0; n + 2]; // the data and its CRLF
        if reader.read_exact(&mut chunk).is_err() {
            return body;
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

/// An OpenAI Chat Completions answer.
pub fn openai_answer(text: &str, input: u64, output: u64) -> Scripted {
    Scripted::Json {
        status: 200,
        headers: vec![],
        body: json!({
            "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}
        })
        .to_string(),
    }
}

/// An OpenAI Chat Completions answer that calls tools: (id, name, arguments).
pub fn openai_tool_calls(calls: &[(&str, &str, Value)], input: u64, output: u64) -> Scripted {
    let calls: Vec<Value> = calls
        .iter()
        .map(|(id, name, args)| {
            json!({"id": id, "type": "function",
                   "function": {"name": name, "arguments": args.to_string()}})
        })
        .collect();
    Scripted::Json {
        status: 200,
        headers: vec![],
        body: json!({
            "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": calls},
                         "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}
        })
        .to_string(),
    }
}

/// An OpenAI streamed answer: one chunk per token, a usage chunk, `[DONE]`.
pub fn openai_stream(tokens: &[&str], delay: Duration) -> Scripted {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": "scripted",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    events.extend(
        tokens
            .iter()
            .map(|t| chunk(json!({"content": t}), Value::Null)),
    );
    events.push(chunk(json!({}), json!("stop")));
    events.push(format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": "scripted",
               "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": tokens.len(), "total_tokens": 50 + tokens.len()}})
    ));
    events.push("data: [DONE]\n\n".into());
    Scripted::Sse { events, delay }
}

/// An Anthropic Messages answer.
pub fn anthropic_answer(text: &str, input: u64, output: u64) -> Scripted {
    Scripted::Json {
        status: 200,
        headers: vec![],
        body: json!({
            "id": "msg_test", "type": "message", "role": "assistant", "model": "claude-scripted",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": input, "output_tokens": output}
        })
        .to_string(),
    }
}

/// An Anthropic streamed answer with its typed events.
pub fn anthropic_stream(tokens: &[&str]) -> Scripted {
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_test", "type": "message", "role": "assistant", "content": [], "model": "claude-scripted", "stop_reason": null, "usage": {"input_tokens": 40, "output_tokens": 1}}}),
        ),
        ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ev("ping", json!({"type": "ping"})),
    ];
    events.extend(tokens.iter().map(|t| {
        ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}),
        )
    }));
    events.push(ev(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(ev(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": tokens.len()}}),
    ));
    events.push(ev("message_stop", json!({"type": "message_stop"})));
    Scripted::Sse {
        events,
        delay: Duration::from_millis(5),
    }
}

/// An error answer, optionally with `Retry-After` seconds.
pub fn error(status: u16, retry_after: Option<u64>) -> Scripted {
    Scripted::Json {
        status,
        headers: retry_after
            .map(|s| vec![("Retry-After".to_string(), s.to_string())])
            .unwrap_or_default(),
        body: json!({"error": {"message": format!("scripted {status}"), "type": "server_error"}})
            .to_string(),
    }
}
