//! Observability through lode-host: request ids (accepted or made, echoed,
//! carried into queued jobs and outbound LLM calls), structured JSON logs
//! that hold no secret and no document text, CORS per origin, and the
//! Prometheus series of `GET /metrics` after real traffic.

use std::time::Duration;

use lode_tests::llm_server::{ScriptedLlm, openai_answer};
use lode_tests::{Host, Redis, Reply, free_port, wait_for};
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-key-0123456789";
const LLM_KEY: &str = "sk-test-llm-key-never-logged-4242";
const JWT_SECRET: &str = "test-jwt-secret-never-logged-0123456789";
const PASSWORD: &str = "a password never logged";
const MARKER: &str = "Quokka-marker-91827";
const ORIGIN: &str = "https://app.example.com";

/// A host whose one model is behind `llm` (with a key), waking workers
/// over `redis_url`.
fn start(llm: &ScriptedLlm, redis_url: &str) -> Host {
    let registry = json!({
        "providers": [{"name": "local", "protocol": "openai", "base_url": llm.origin,
                       "key_variable": "llm_key_c"}],
        "models": [{"name": "small", "provider": "local", "context_length": 8000,
                    "cost_per_1k_input": 1.0, "cost_per_1k_output": 2.0}]
    })
    .to_string();
    Host::start(
        "spin.toml",
        &[
            ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN),
            ("SPIN_VARIABLE_LLM_REGISTRY", registry.as_str()),
            ("SPIN_VARIABLE_LLM_ORIGIN_C", llm.origin.as_str()),
            ("SPIN_VARIABLE_LLM_KEY_C", LLM_KEY),
            ("SPIN_VARIABLE_REDIS_URL", redis_url),
            ("SPIN_VARIABLE_JWT_SECRET", JWT_SECRET),
            ("SPIN_VARIABLE_CORS_ALLOWED_ORIGINS", ORIGIN),
        ],
    )
}

fn send(
    host: &Host,
    method: &str,
    path: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    host.request(method, path, Some(key), &all, body.to_string().into_bytes())
}

fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[test]
fn request_ids_follow_requests_into_jobs_and_llm_calls_and_logs_hold_no_secrets() {
    let llm = ScriptedLlm::start();
    let redis = Redis::start();
    let host = start(&llm, &redis.url());

    // Credentials of every kind, each of which must stay out of the logs.
    let key = send(
        &host,
        "POST",
        "/api/keys",
        ADMIN,
        &[],
        json!({"tenant": "acme", "name": "obs", "role": "admin"}),
    );
    assert_eq!(key.status, 201, "{}", key.text);
    let key = key.json["key"].as_str().unwrap().to_string();
    let user = send(
        &host,
        "POST",
        "/api/auth/register",
        &key,
        &[],
        json!({"email": "obs@example.com", "password": PASSWORD, "role": "editor"}),
    );
    assert_eq!(user.status, 201, "{}", user.text);
    let login = host.call(
        "POST",
        "/api/auth/login",
        None,
        Some((
            "application/json",
            json!({"email": "obs@example.com", "password": PASSWORD})
                .to_string()
                .into_bytes(),
        )),
    );
    let token = login.json["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        host.get("/api/documents", Some("lode_not-a-real-key"))
            .status,
        401
    );

    // A caller's id is echoed; a missing or malformed one is replaced.
    let doc = send(
        &host,
        "POST",
        "/api/documents",
        &token,
        &[("x-request-id", "obs-upload-1")],
        json!({"title": "Marsupials", "content": format!("{MARKER}: quokkas live on Rottnest Island."),
               "content_type": "text/plain"}),
    );
    assert_eq!(doc.status, 201, "{}", doc.text);
    assert_eq!(header(&doc, "x-request-id"), "obs-upload-1");
    let doc_id = doc.json["id"].as_str().unwrap().to_string();
    for id in [None, Some("has space"), Some("quote\"d")] {
        let headers: Vec<(&str, &str)> = id.map(|v| vec![("x-request-id", v)]).unwrap_or_default();
        let r = host.request("GET", "/health", None, &headers, Vec::new());
        let made = header(&r, "x-request-id");
        assert!(
            made.starts_with("req_") && made.len() == 28,
            "{id:?} -> {made:?}"
        );
    }

    // A queued tool job keeps the id of the request that queued it; the
    // worker's LLM call carries it, with the provider's key.
    llm.push(openai_answer(
        "{\"summary\": \"Quokkas live on an island.\"}",
        50,
        9,
    ));
    let queued = send(
        &host,
        "POST",
        &format!("/api/documents/{doc_id}/tools/summarize?mode=queue"),
        &token,
        &[("x-request-id", "obs-job-1")],
        json!({}),
    );
    assert_eq!(queued.status, 202, "{}", queued.text);
    assert_eq!(queued.json["request_id"], "obs-job-1");
    let job_id = queued.json["job_id"].as_str().unwrap().to_string();
    let job = wait_for("the tool job", Duration::from_secs(120), || {
        let r = host.get(&format!("/api/jobs/{job_id}"), Some(&token));
        (r.json["status"] == "completed" || r.json["status"] == "dead").then_some(r.json)
    });
    assert_eq!(job["status"], "completed", "{job}");
    let call = llm.requests().pop().unwrap();
    assert_eq!(call.header("x-request-id"), Some("obs-job-1"));
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {LLM_KEY}").as_str())
    );

    // In-request LLM calls carry the request's id too.
    llm.push(openai_answer("{\"keywords\": [\"quokka\"]}", 20, 4));
    let r = send(
        &host,
        "POST",
        "/api/tools/keywords?mode=sync",
        &token,
        &[("x-request-id", "obs-sync-1")],
        json!({"text": format!("{MARKER} quokka")}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        llm.requests().pop().unwrap().header("x-request-id"),
        Some("obs-sync-1")
    );

    // The logs: every line Lode writes is one JSON object with a level and
    // the request id; each request has its access line.
    let lines = host.lines();
    let lode: Vec<Value> = lines
        .iter()
        .filter(|l| l.contains("\"request_id\""))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access = lode
        .iter()
        .find(|l| l["event"] == "request" && l["request_id"] == "obs-upload-1")
        .unwrap_or_else(|| panic!("no access line for obs-upload-1 in\n{}", lines.join("\n")));
    assert_eq!(access["method"], "POST");
    assert_eq!(access["route"], "/api/documents");
    assert_eq!(access["status"], 201);
    assert_eq!(access["tenant"], "acme");
    assert_eq!(
        access["component"], "lode-documents",
        "lines name the component serving the request, not the shared library"
    );
    assert!(access["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(access["ts"].as_str().unwrap().ends_with('Z'));
    assert!(
        lode.iter().any(|l| l["request_id"] == "obs-job-1"
            && l["component"] == "lode-tool-worker"
            && l["msg"].as_str().is_some_and(|m| m.contains("claimed"))),
        "the worker logged under the job's request id:\n{}",
        lines.join("\n")
    );
    // No secret and no document text, anywhere in the output.
    let everything = lines.join("\n");
    for (what, secret) in [
        ("the admin key", ADMIN),
        ("an API key", key.as_str()),
        ("a session token", token.as_str()),
        ("the JWT secret", JWT_SECRET),
        ("a password", PASSWORD),
        ("the LLM key", LLM_KEY),
        ("a guessed key", "lode_not-a-real-key"),
        ("document text", MARKER),
    ] {
        assert!(
            !everything.contains(secret),
            "{what} is in the log:\n{everything}"
        );
    }
}

#[test]
fn cors_is_granted_per_origin_and_metrics_count_real_traffic() {
    let llm = ScriptedLlm::start();
    // No Redis answers here: queued jobs stay queued, so the queue has depth.
    let dead_redis = format!("redis://127.0.0.1:{}", free_port());
    let host = start(&llm, &dead_redis);

    // CORS: the allowed origin gets a preflight grant and readable answers.
    let preflight = host.request(
        "OPTIONS",
        "/api/documents",
        None,
        &[
            ("origin", ORIGIN),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, content-type",
            ),
        ],
        Vec::new(),
    );
    assert_eq!(preflight.status, 204, "{}", preflight.text);
    assert_eq!(header(&preflight, "access-control-allow-origin"), ORIGIN);
    assert_eq!(
        header(&preflight, "access-control-allow-methods"),
        "GET, POST"
    );
    assert!(header(&preflight, "access-control-allow-headers").contains("authorization"));
    assert_eq!(header(&preflight, "vary"), "origin");
    let r = host.request(
        "GET",
        "/api/documents",
        Some(ADMIN),
        &[("origin", ORIGIN)],
        Vec::new(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "access-control-allow-origin"), ORIGIN);
    assert!(header(&r, "access-control-expose-headers").contains("x-request-id"));
    // Another origin gets nothing to read, and its preflight is refused.
    let evil = "https://evil.example.com";
    let r = host.request(
        "GET",
        "/api/documents",
        Some(ADMIN),
        &[("origin", evil)],
        Vec::new(),
    );
    assert_eq!(r.status, 200);
    assert!(r.headers.get("access-control-allow-origin").is_none());
    let r = host.request(
        "OPTIONS",
        "/api/documents/d1",
        None,
        &[("origin", evil)],
        Vec::new(),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    // A plain OPTIONS lists the methods.
    let r = host.request("OPTIONS", "/api/documents/d1", None, &[], Vec::new());
    assert_eq!((r.status, header(&r, "allow")), (204, "GET, PUT, DELETE"));

    // Traffic: an ingestion (embedding, vector cache), a tool on the
    // document twice (an LLM call, then the stored result), a queued job.
    let doc = send(
        &host,
        "POST",
        "/api/documents",
        ADMIN,
        &[],
        json!({"title": "Wings", "content": "Wings deflect air downwards and are pushed up.",
               "content_type": "text/plain"}),
    );
    assert_eq!(doc.status, 201, "{}", doc.text);
    let path = format!(
        "/api/documents/{}/tools/keywords",
        doc.json["id"].as_str().unwrap()
    );
    llm.push(openai_answer("{\"keywords\": [\"wing\"]}", 30, 5));
    for cached in [false, true] {
        let r = send(&host, "POST", &path, ADMIN, &[], json!({}));
        assert_eq!(
            (r.status, r.json["cached"].as_bool()),
            (200, Some(cached)),
            "{}",
            r.text
        );
    }
    let queued = send(
        &host,
        "POST",
        "/api/tools/keywords?mode=queue&priority=low",
        ADMIN,
        &[],
        json!({"text": "wings"}),
    );
    assert_eq!(queued.status, 202, "{}", queued.text);

    let m = host.get("/metrics", Some(ADMIN));
    assert_eq!(m.status, 200, "{}", m.text);
    assert_eq!(
        header(&m, "content-type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let value = |series: &str| -> f64 {
        m.text
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {series} in\n{}", m.text))
            .parse()
            .unwrap()
    };
    let post = r#"route="/api/documents",method="POST",status="201""#;
    assert_eq!(value(&format!("lode_http_requests_total{{{post}}}")), 1.0);
    assert_eq!(
        value(&format!(
            "lode_http_request_duration_seconds_bucket{{{post},le=\"+Inf\"}}"
        )),
        1.0
    );
    assert!(value(&format!("lode_http_request_duration_seconds_sum{{{post}}}")) > 0.0);
    let preflights = r#"route="/api/documents",method="OPTIONS",status="204""#;
    assert_eq!(
        value(&format!("lode_http_requests_total{{{preflights}}}")),
        1.0
    );
    assert_eq!(
        value(
            r#"lode_http_requests_total{route="/api/documents/{id}",method="OPTIONS",status="403"}"#
        ),
        1.0
    );
    assert_eq!(
        value(r#"lode_embedding_duration_seconds_count{stage="ingest"}"#),
        1.0
    );
    assert!(value(r#"lode_embedded_texts_total{stage="ingest"}"#) >= 1.0);
    assert!(value(r#"lode_cache_requests_total{cache="vectors",result="miss"}"#) >= 1.0);
    assert_eq!(
        value(r#"lode_cache_requests_total{cache="tool_results",result="miss"}"#),
        1.0
    );
    assert_eq!(
        value(r#"lode_cache_requests_total{cache="tool_results",result="hit"}"#),
        1.0
    );
    assert_eq!(
        value(r#"lode_llm_request_duration_seconds_count{provider="local",outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        value(r#"lode_llm_requests_total{provider="local",outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        value(r#"lode_llm_tokens_total{provider="local",direction="input"}"#),
        30.0
    );
    assert_eq!(
        value(r#"lode_llm_tokens_total{provider="local",direction="output"}"#),
        5.0
    );
    assert!((value(r#"lode_llm_cost_usd_total{provider="local"}"#) - 0.04).abs() < 1e-9);
    assert_eq!(value(r#"lode_jobs{kind="tool",state="queued"}"#), 1.0);
    assert_eq!(
        value(r#"lode_queue_depth{kind="tool",priority="low"}"#),
        1.0
    );
}

/// Invented HTTP methods are refused by the host before any guest runs
/// (501), and `/metrics` gains no series from them.
#[test]
fn invented_methods_are_refused_and_mint_no_series() {
    let host = Host::start("spin.toml", &[("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)]);
    let series = || -> std::collections::BTreeSet<String> {
        let m = host.get("/metrics", Some(ADMIN));
        assert_eq!(m.status, 200, "{}", m.text);
        m.text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' ').map(|(name, _)| name.to_string()))
            .collect()
    };
    assert_eq!(host.get("/health", None).status, 200);
    series();
    let before = series();
    // 500 method names from a small deterministic generator.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..500 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let name: String = (0..4 + (state % 8) as usize)
            .map(|k| (b'A' + ((state >> (k * 5)) % 26) as u8) as char)
            .collect();
        let path = ["/health", "/api/documents", "/v1/models", "/nowhere"][i % 4];
        let r = host.raw(&format!(
            "{name} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ));
        assert!(r.starts_with("HTTP/1.1 501"), "{name} {path}: {r}");
        assert!(r.contains(r#""code":"not_implemented""#), "{r}");
    }
    assert_eq!(series(), before, "no new series");
}
