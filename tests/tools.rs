//! LLM tools through lode-host against a scripted OpenAI-compatible server:
//! the listing, checked inputs and outputs, results stored on the document
//! (a second run costs nothing), map-reduce summaries of long documents,
//! and who may run what.

use std::time::Duration;

use lode_tests::llm_server::{ScriptedLlm, error, openai_answer};
use lode_tests::{Host, Redis, temp_dir, wait_for};
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-key-0123456789";

/// A host whose only model has a `context` token window.
fn start(llm: &ScriptedLlm, context: u32) -> Host {
    start_with(llm, context, &[])
}

fn start_with(llm: &ScriptedLlm, context: u32, extra: &[(&str, &str)]) -> Host {
    let registry = json!({
        "providers": [{"name": "local", "protocol": "openai", "base_url": llm.origin}],
        "models": [{"name": "small", "provider": "local", "context_length": context,
                    "cost_per_1k_input": 1.0, "cost_per_1k_output": 2.0}]
    })
    .to_string();
    let mut env = vec![
        ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN),
        ("SPIN_VARIABLE_LLM_REGISTRY", registry.as_str()),
        ("SPIN_VARIABLE_LLM_ORIGIN_C", llm.origin.as_str()),
    ];
    env.extend_from_slice(extra);
    Host::start_in("spin.toml", &env, temp_dir("tools"))
}

/// A text of `sections` paragraphs about lift.
fn long_text(sections: usize) -> String {
    let paragraphs: Vec<String> = (1..=sections)
        .map(|i| {
            format!(
                "Section {i}. {}",
                "The wing deflects air downwards and is pushed up. ".repeat(12)
            )
        })
        .collect();
    format!("# Wings\n\n{}", paragraphs.join("\n\n"))
}

/// Store `content` as the document "Wings"; its id.
fn add_wings(host: &Host, content: &str) -> String {
    let doc = post(
        host,
        "/api/documents",
        ADMIN,
        json!({"title": "Wings", "content": content, "content_type": "text/markdown"}),
    );
    assert_eq!(doc.status, 201, "{}", doc.text);
    doc.json["id"].as_str().unwrap().to_string()
}

/// Script one answer per part and the reduce answer; the number of parts.
fn script_summary(llm: &ScriptedLlm, text: &str, context: u32) -> usize {
    let parts = lode_tools::plan_map(text, context).len();
    for i in 1..=parts {
        llm.push(openai_answer(
            &format!("{{\"summary\": \"part {i} is about lift\"}}"),
            400,
            10,
        ));
    }
    llm.push(openai_answer(
        "{\"summary\": \"The document explains lift.\"}",
        100,
        8,
    ));
    parts
}

/// Poll a job until it is final.
fn finished_job(host: &Host, id: &str) -> Value {
    wait_for("the tool job to finish", Duration::from_secs(120), || {
        let r = host.get(&format!("/api/jobs/{id}"), Some(ADMIN));
        let status = r.json["status"].as_str().unwrap_or_default().to_string();
        ["completed", "failed", "dead"]
            .contains(&status.as_str())
            .then_some(r.json)
    })
}

fn post(host: &Host, path: &str, key: &str, body: Value) -> lode_tests::Reply {
    host.json("POST", path, key, &body)
}

#[test]
fn tools_check_inputs_and_outputs_and_store_results_on_documents() {
    let llm = ScriptedLlm::start();
    let host = start(&llm, 8192);

    let list = host.get("/api/tools", Some(ADMIN));
    assert_eq!(list.status, 200, "{}", list.text);
    let names: Vec<&str> = list.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "summarize",
            "extract-entities",
            "classify",
            "keywords",
            "sentiment",
            "translate",
            "answer"
        ]
    );
    assert_eq!(
        list.json["data"][2]["input_schema"]["required"],
        json!(["labels"])
    );

    // Raw text: the model's label is matched to the caller's spelling.
    llm.push(openai_answer(
        "```json\n{\"labels\": [\"SPORT\"]}\n```",
        50,
        5,
    ));
    let r = post(
        &host,
        "/api/tools/classify",
        ADMIN,
        json!({"text": "The striker scored twice in the final.", "input": {"labels": ["sport", "politics"]}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["result"], json!({"labels": ["sport"]}));
    assert_eq!(
        (r.json["model"].as_str(), r.json["llm_calls"].as_u64()),
        (Some("small"), Some(1))
    );
    let prompt = &llm.requests()[0].body["messages"][1]["content"];
    assert!(
        prompt
            .as_str()
            .unwrap()
            .contains("The striker scored twice"),
        "{prompt}"
    );

    // A label the caller did not offer is the model's mistake: 502.
    llm.push(openai_answer("{\"labels\": [\"weather\"]}", 50, 5));
    let r = post(
        &host,
        "/api/tools/classify",
        ADMIN,
        json!({"text": "Rain tomorrow.", "input": {"labels": ["sport", "politics"]}}),
    );
    assert_eq!(r.status, 502, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "bad_gateway");

    // Bad input never reaches the model.
    let before = llm.requests().len();
    for (path, body, status) in [
        (
            "/api/tools/classify",
            json!({"text": "x", "input": {"labels": ["one"]}}),
            422,
        ),
        ("/api/tools/translate", json!({"text": "x"}), 422),
        (
            "/api/tools/summarize",
            json!({"text": "x", "input": {"max_words": 5}}),
            422,
        ),
        ("/api/tools/summarize", json!({"text": ""}), 422),
        (
            "/api/tools/summarize",
            json!({"text": "x", "input": {"colour": "red"}}),
            422,
        ),
        ("/api/tools/poem", json!({"text": "x"}), 404),
    ] {
        let r = post(&host, path, ADMIN, body.clone());
        assert_eq!(r.status, status, "{path} {body}: {}", r.text);
    }
    assert_eq!(llm.requests().len(), before);

    // On a document: stored, then served from the store.
    let doc = post(
        &host,
        "/api/documents",
        ADMIN,
        json!({"title": "Match", "content": "# Final\n\nThe striker scored twice; the crowd cheered.", "content_type": "text/markdown"}),
    );
    let id = doc.json["id"].as_str().unwrap();
    let path = format!("/api/documents/{id}/tools/sentiment");
    llm.push(openai_answer(
        "{\"sentiment\": \"positive\", \"score\": 0.8}",
        40,
        6,
    ));
    let first = post(&host, &path, ADMIN, json!({}));
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(
        first.json["result"],
        json!({"sentiment": "positive", "score": 0.8})
    );
    assert_eq!(
        (
            first.json["cached"].as_bool(),
            first.json["version"].as_i64()
        ),
        (Some(false), Some(1))
    );
    let calls = llm.requests().len();
    let again = post(&host, &path, ADMIN, json!({}));
    assert_eq!(again.json["cached"], true, "{}", again.text);
    assert_eq!(again.json["result"], first.json["result"]);
    assert_eq!(
        llm.requests().len(),
        calls,
        "a stored result costs no LLM call"
    );
    llm.push(openai_answer(
        "{\"sentiment\": \"mixed\", \"score\": 0.1}",
        40,
        6,
    ));
    let refreshed = post(&host, &path, ADMIN, json!({"refresh": true}));
    assert_eq!(refreshed.json["result"]["sentiment"], "mixed");

    // Who may: a viewer reads but does not store; other tenants see nothing.
    let key = |tenant: &str, role: &str| {
        post(
            &host,
            "/api/keys",
            ADMIN,
            json!({"tenant": tenant, "name": "k", "role": role}),
        )
        .json["key"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let viewer = key("default", "viewer");
    assert_eq!(post(&host, &path, &viewer, json!({})).status, 403);
    let outsider = key("other", "editor");
    assert_eq!(post(&host, &path, &outsider, json!({})).status, 404);
    assert_eq!(host.get("/api/tools", None).status, 401);

    let usage = host.get("/api/usage", Some(ADMIN));
    assert_eq!(usage.json["requests"], 4, "{}", usage.text);
}

#[test]
fn long_documents_are_summarised_map_reduce() {
    let llm = ScriptedLlm::start();
    // 2000 tokens of context leave parts of about 1500 characters.
    let host = start(&llm, 2000);
    let content = long_text(8);
    let id = add_wings(&host, &content);
    let expected_parts = script_summary(&llm, &content, 2000);
    assert!(
        (3..8).contains(&expected_parts),
        "the test text must need several parts, few enough for one request"
    );
    let r = post(
        &host,
        &format!("/api/documents/{id}/tools/summarize"),
        ADMIN,
        json!({"input": {"max_words": 50}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let parts = r.json["parts"].as_u64().unwrap();
    assert_eq!(parts as usize, expected_parts, "{}", r.text);
    assert_eq!(r.json["llm_calls"].as_u64(), Some(parts + 1));
    assert_eq!(r.json["result"]["summary"], "The document explains lift.");
    let sent = llm.requests();
    let reduce = sent[parts as usize].body["messages"][1]["content"]
        .as_str()
        .unwrap();
    assert!(reduce.contains("Part 1: part 1 is about lift"), "{reduce}");
    assert!(
        reduce.contains(&format!("Part {parts}: part {parts} is about lift")),
        "{reduce}"
    );
    let expected_cost =
        (400.0 * parts as f64 + 100.0) / 1000.0 + (10.0 * parts as f64 + 8.0) * 2.0 / 1000.0;
    assert!(
        (r.json["cost_usd"].as_f64().unwrap() - expected_cost).abs() < 1e-9,
        "{}",
        r.text
    );
}

#[test]
fn long_runs_go_through_the_job_queue_and_survive_a_provider_outage() {
    let llm = ScriptedLlm::start();
    let redis = Redis::start();
    let url = redis.url();
    let host = start_with(
        &llm,
        2000,
        &[
            ("SPIN_VARIABLE_REDIS_URL", url.as_str()),
            ("SPIN_VARIABLE_JOB_STALE_SECS", "1"),
            ("LODE_SWEEP_SECS", "1"),
        ],
    );

    // A document needing more calls than one request may make is queued.
    let content = long_text(30);
    let id = add_wings(&host, &content);
    let parts = script_summary(&llm, &content, 2000);
    assert!(parts + 1 > 8, "{parts} parts fit in one request");
    let path = format!("/api/documents/{id}/tools/summarize");
    let queued = post(&host, &path, ADMIN, json!({}));
    assert_eq!(queued.status, 202, "{}", queued.text);
    assert_eq!(
        (queued.json["kind"].as_str(), queued.json["tool"].as_str()),
        (Some("tool"), Some("summarize"))
    );
    let job_id = queued.json["job_id"].as_str().unwrap().to_string();
    assert_eq!(
        queued.headers["location"].to_str().unwrap(),
        format!("/api/jobs/{job_id}")
    );
    let job = finished_job(&host, &job_id);
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["document_id"].as_str(), Some(id.as_str()));
    let result = &job["result"];
    assert_eq!(result["result"]["summary"], "The document explains lift.");
    assert_eq!(result["llm_calls"].as_u64(), Some(parts as u64 + 1));
    assert_eq!(result["version"], 1);

    // Progress was recorded per call: map percentages rise, then reduce, store.
    let sse = host.get(&format!("/api/jobs/{job_id}/events"), Some(ADMIN));
    let events: Vec<Value> = sse
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let maps = events.iter().filter(|e| e["step"] == "map").count();
    assert_eq!(maps, parts, "{}", sse.text);
    let percents: Vec<u64> = events
        .iter()
        .map(|e| e["progress"].as_u64().unwrap())
        .collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    let steps: Vec<&str> = events.iter().filter_map(|e| e["step"].as_str()).collect();
    assert_eq!(steps[steps.len() - 3..], ["reduce", "store", "store"]);

    // The queued result is stored on the document like an in-request one.
    let calls = llm.requests().len();
    let again = post(&host, &path, ADMIN, json!({}));
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["cached"], true);
    assert_eq!(again.json["result"], result["result"]);
    assert_eq!(llm.requests().len(), calls);

    // A forced queued run on raw text, while the provider is down: the
    // first attempt fails (three 500s), the job is re-queued with the
    // error, and the second attempt completes.
    for _ in 0..3 {
        llm.push(error(500, None));
    }
    llm.push(openai_answer("{\"keywords\": [\"lift\", \"wing\"]}", 30, 5));
    let raw = post(
        &host,
        "/api/tools/keywords?mode=queue&priority=high",
        ADMIN,
        json!({"text": "The wing is pushed up by the air it deflects."}),
    );
    assert_eq!(raw.status, 202, "{}", raw.text);
    let job_id = raw.json["job_id"].as_str().unwrap();
    let job = finished_job(&host, job_id);
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(job["result"]["result"]["keywords"], json!(["lift", "wing"]));
    let sse = host.get(&format!("/api/jobs/{job_id}/events"), Some(ADMIN));
    assert!(
        sse.text.contains("\"status\":\"queued\"") && sse.text.contains("500"),
        "{}",
        sse.text
    );

    // Bad modes and oversized runs are refused before anything is spent.
    let before = llm.requests().len();
    let bad = post(&host, &format!("{path}?mode=later"), ADMIN, json!({}));
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(llm.requests().len(), before);
}

/// Fair limits across one tenant's keys: the tenant's own LLM budget is
/// shared by all its keys, a tool run pays for every LLM call it plans, the
/// day's LLM tokens and the documents held are capped by the tenant's
/// quotas, which the operator's ceiling bounds, and `GET /api/usage` shows
/// what is left.
#[test]
fn tenant_budgets_quotas_and_the_operators_ceiling_hold_across_keys() {
    let llm = ScriptedLlm::start();
    let ceiling = json!({"quotas": {"documents": 500}}).to_string();
    let host = start_with(
        &llm,
        2000,
        &[("SPIN_VARIABLE_TENANT_CEILING", ceiling.as_str())],
    );
    let admin = host.new_key(ADMIN, "frugal", "admin");
    let (one, two) = (
        host.new_key(ADMIN, "frugal", "editor"),
        host.new_key(ADMIN, "frugal", "editor"),
    );
    let content = long_text(8);
    let parts = lode_tools::plan_map(&content, 2000).len();
    let calls = parts + 1;
    assert!(calls >= 4, "the text must need several calls");

    let settings = |body: Value| host.json("PUT", "/api/settings", &admin, &body);
    let over = settings(json!({"quotas": {"documents": 600}}));
    assert_eq!(over.status, 422, "{}", over.text);
    assert!(over.text.contains("operator's ceiling"), "{}", over.text);
    let set = settings(json!({
        "rate_limits": {"llm_per_minute": 100, "tenant_llm_per_minute": calls + 2},
        "quotas": {"documents": 1}
    }));
    assert_eq!(set.status, 200, "{}", set.text);

    // Key one's run plans `calls` calls and pays for each of them.
    script_summary(&llm, &content, 2000);
    let summarize = |key: &str| {
        post(
            &host,
            "/api/tools/summarize?mode=sync",
            key,
            json!({"text": content}),
        )
    };
    let r = summarize(&one);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["llm_calls"].as_u64(), Some(calls as u64));
    // Key two has a full bucket of its own, but the tenant's has 2 left.
    let sent = llm.requests().len();
    let r = summarize(&two);
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "rate_limited");
    assert!(r.text.contains("the tenant's rate limit"), "{}", r.text);
    assert!(
        r.headers["ratelimit-policy"]
            .to_str()
            .unwrap()
            .contains("tenant-llm"),
        "{:?}",
        r.headers
    );
    assert_eq!(llm.requests().len(), sent, "refused before any call");

    // The day's LLM tokens: the run used more than the new cap.
    let used = (400 + 10) * parts as u64 + 108;
    let set = settings(json!({
        "rate_limits": {"llm_per_minute": 100, "tenant_llm_per_minute": calls + 2},
        "quotas": {"documents": 1, "llm_tokens_per_day": 1000}
    }));
    assert_eq!(set.status, 200, "{}", set.text);
    let r = post(
        &host,
        "/api/tools/sentiment",
        &admin,
        json!({"text": "A calm day."}),
    );
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "quota_exceeded");
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(llm.requests().len(), sent, "refused before any call");

    // One document is the quota.
    let doc = |title: &str| {
        post(
            &host,
            "/api/documents",
            &admin,
            json!({"title": title, "content": format!("{title}."), "content_type": "text/plain"}),
        )
    };
    assert_eq!(doc("first").status, 201);
    let r = doc("second");
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "quota_exceeded");

    let usage = host.get("/api/usage", Some(&admin));
    assert_eq!(usage.status, 200, "{}", usage.text);
    let q = &usage.json["quotas"];
    assert_eq!(
        q["documents"],
        json!({"limit": 1, "used": 1, "remaining": 0})
    );
    assert_eq!(q["llm_tokens_today"]["used"], used);
    assert_eq!(q["llm_tokens_today"]["remaining"], 0);
    assert_eq!(q["stored_bytes"]["used"], "first.".len());
    assert!(
        q["llm_resets_at"].as_str().unwrap().ends_with("T00:00:00Z"),
        "{q}"
    );
}
