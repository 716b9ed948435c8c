//! Time-to-first-token overhead benchmark (`make bench`; ignored by `make
//! test`): 200 streamed requests each, straight to a local OpenAI-compatible
//! server and through Lode (`/v1/chat/completions` proxying a registry model,
//! and `lode-rag`, which also embeds the question and searches first).
//! Prints p50 and p90 of each and Lode's p50 overhead.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use lode_tests::Host;
use lode_tests::llm_server::{ScriptedLlm, openai_stream};
use serde_json::json;

const ADMIN: &str = "bench-admin-key-0123456789";
const REQUESTS: usize = 200;

/// POST `body` to `url` (`http://host:port/path`) and return the time until
/// the first SSE chunk carrying answer text arrives.
fn ttft(url: &str, key: &str, body: &str) -> Duration {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let started = Instant::now();
    let mut s = TcpStream::connect(authority).unwrap();
    s.set_nodelay(true).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "the stream ended before any text: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&seen).contains("\"content\":\"Lift") {
            return started.elapsed();
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn run(what: &str, mut f: impl FnMut() -> Duration) -> (f64, f64) {
    let mut times: Vec<Duration> = (0..REQUESTS).map(|_| f()).collect();
    times.sort();
    let (p50, p90) = (percentile(&times, 0.5), percentile(&times, 0.9));
    println!("ttft {what}: p50 {p50:.2} ms, p90 {p90:.2} ms over {REQUESTS} streamed requests");
    (p50, p90)
}

#[test]
#[ignore = "a benchmark: run with `make bench`"]
fn time_to_first_token_overhead() {
    let llm = ScriptedLlm::start();
    let registry = json!({
        "providers": [{"name": "local", "protocol": "openai", "base_url": llm.origin}],
        "models": [{"name": "local", "context_length": 8192, "provider": "local", "capabilities": ["chat", "stream"]}]
    })
    .to_string();
    let host = Host::start(
        "spin.toml",
        &[
            ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN),
            ("SPIN_VARIABLE_LLM_REGISTRY", &registry),
            ("SPIN_VARIABLE_LLM_ORIGIN_C", &llm.origin),
        ],
    );
    let doc = host.json(
        "POST",
        "/api/documents",
        ADMIN,
        &json!({"title": "Wings", "content": "# Lift\n\nA wing deflects air downwards; the reaction pushes the wing up.", "content_type": "text/markdown"}),
    );
    assert_eq!(doc.status, 201, "{}", doc.text);
    let answer = || openai_stream(&["Lift ", "[1]", "."], Duration::ZERO);
    let question = |model: &str| {
        json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "What keeps a plane up?"}]})
            .to_string()
    };
    let direct_url = format!("{}/v1/chat/completions", llm.origin);
    let lode_url = format!("{}/v1/chat/completions", host.base);
    // Warm both paths (compile caches, connections, the embed instance).
    for _ in 0..5 {
        llm.push(answer());
        ttft(&lode_url, ADMIN, &question("local"));
        llm.push(answer());
        ttft(&lode_url, ADMIN, &question("lode-rag"));
    }
    let (direct, _) = run("direct to the server", || {
        llm.push(answer());
        ttft(&direct_url, "unused", &question("local"))
    });
    let (proxied, _) = run("through Lode, proxied model", || {
        llm.push(answer());
        ttft(&lode_url, ADMIN, &question("local"))
    });
    let (rag, _) = run("through Lode, lode-rag (embed + search + prompt)", || {
        llm.push(answer());
        ttft(&lode_url, ADMIN, &question("lode-rag"))
    });
    println!(
        "ttft overhead added by Lode (p50): proxied {:.2} ms, lode-rag {:.2} ms",
        proxied - direct,
        rag - direct
    );
}
