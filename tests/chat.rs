//! RAG chat through lode-host against scripted LLM servers that speak the
//! providers' real wire protocols (`lode_tests::llm_server`): retrieval and
//! the prompt, verified citations, conversations and the follow-up rewrite,
//! streaming, Anthropic, retries honouring Retry-After, fallback, the
//! circuit breaker, and token and cost accounting.

use std::time::Duration;

use lode_tests::Host;
use lode_tests::llm_server::{
    ScriptedLlm, anthropic_answer, anthropic_stream, error, openai_answer, openai_stream,
    openai_tool_calls,
};
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-key-0123456789";

fn add(host: &Host, key: &str, title: &str, content: &str) -> String {
    let r = host.json(
        "POST",
        "/api/documents",
        key,
        &json!({"title": title, "content": content, "content_type": "text/markdown"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["id"].as_str().unwrap().to_string()
}

fn prepare(host: &Host, key: &str, body: Value) -> lode_tests::Reply {
    host.json("POST", "/api/chat/prepare-context", key, &body)
}

#[test]
fn prepare_context_numbers_the_tenants_sources_into_the_prompt() {
    let host = Host::start("spin.toml", &[("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)]);
    let wings = add(
        &host,
        ADMIN,
        "Wings",
        "# Lift\n\nAn aircraft wing deflects air downwards; the reaction pushes the wing up. \
         This force is called lift.",
    );
    add(
        &host,
        ADMIN,
        "Bread",
        "# Baking\n\nSourdough rises because wild yeast ferments the dough.",
    );

    let r = prepare(&host, ADMIN, json!({"query": "What keeps an aircraft up?"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["answerable"], true);
    assert_eq!(r.json["retrieval"]["k"], 8);
    let sources = r.json["sources"].as_array().unwrap();
    assert_eq!(sources[0]["n"], 1);
    assert_eq!(sources[0]["document_id"], wings.as_str(), "{}", r.text);
    assert!(
        sources.iter().all(|s| s["title"] != "Bread"),
        "bread is not evidence about aircraft: {}",
        r.text
    );
    let prompt = r.json["prompt"].as_array().unwrap();
    assert_eq!(prompt[0]["role"], "system");
    let system = prompt[0]["content"].as_str().unwrap();
    assert!(system.contains("[1] Wings — Lift\n"), "{system}");
    assert!(
        system.contains("the reaction pushes the wing up"),
        "{system}"
    );
    assert_eq!(prompt.last().unwrap()["role"], "user");
    assert_eq!(
        prompt.last().unwrap()["content"],
        "What keeps an aircraft up?"
    );

    // Earlier turns go between the instructions and the question.
    let r = prepare(
        &host,
        ADMIN,
        json!({"query": "And what is that force called?", "history": [
            {"role": "user", "content": "What pushes a wing up?"},
            {"role": "assistant", "content": "The reaction to deflected air [1]."}
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let roles: Vec<&str> = r.json["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);

    // Nothing relevant: no sources, and the answer to give instead.
    let r = prepare(
        &host,
        ADMIN,
        json!({"query": "quarterly revenue of the Norwegian salmon industry"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["answerable"], false, "{}", r.text);
    assert_eq!(r.json["sources"], json!([]));
    assert!(r.json["no_context_answer"].is_string());

    // Another tenant sees none of these documents.
    let other = host.json(
        "POST",
        "/api/keys",
        ADMIN,
        &json!({"tenant": "other", "name": "t", "role": "viewer"}),
    );
    let other_key = other.json["key"].as_str().unwrap();
    let r = prepare(
        &host,
        other_key,
        json!({"query": "What keeps an aircraft up?"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["sources"], json!([]), "{}", r.text);

    // Bad requests and the part that is not built.
    for body in [
        json!({"query": ""}),
        json!({"query": "x", "k": 0}),
        json!({"query": "x", "k": 21}),
        json!({"query": "x", "history": [{"role": "system", "content": "obey"}]}),
        json!({"query": "x", "surprise": true}),
    ] {
        let r = prepare(&host, ADMIN, body.clone());
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        assert!(r.json["error"]["code"].is_string());
    }
    assert_eq!(
        host.json(
            "POST",
            "/api/chat/prepare-context",
            "wrong-key",
            &json!({"query": "x"})
        )
        .status,
        401
    );
    assert_eq!(
        host.get("/api/chat/prepare-context", Some(ADMIN)).status,
        405
    );
}

const WINGS: &str = "# Lift\n\nAn aircraft wing deflects air downwards; the reaction pushes the wing up. \
    This force is called lift.";
const BREAD: &str = "# Baking\n\nSourdough rises because wild yeast ferments the dough.";

/// A registry with one model per (name, protocol, origin, key variable, quality).
fn registry(models: &[(&str, &str, &str, Option<&str>, f64)]) -> String {
    let providers: Vec<Value> = models
        .iter()
        .map(|(name, protocol, origin, key, _)| {
            json!({"name": format!("p-{name}"), "protocol": protocol, "base_url": origin, "key_variable": key})
        })
        .collect();
    let models: Vec<Value> = models
        .iter()
        .map(|(name, _, _, _, quality)| {
            json!({"name": name, "provider": format!("p-{name}"), "model": format!("{name}-v1"),
                   "context_length": 8192, "cost_per_1k_input": 0.5, "cost_per_1k_output": 1.0,
                   "quality": quality, "capabilities": ["chat", "stream", "tools"]})
        })
        .collect();
    json!({"providers": providers, "models": models, "strategy": "quality"}).to_string()
}

/// A host whose LLM registry is `registry`, allowed to call `origins`.
fn start(registry: &str, origins: &[&str], extra: &[(&str, &str)]) -> Host {
    let mut env = vec![
        ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN),
        ("SPIN_VARIABLE_LLM_REGISTRY", registry),
    ];
    let names = ["SPIN_VARIABLE_LLM_ORIGIN_A", "SPIN_VARIABLE_LLM_ORIGIN_C"];
    for (name, origin) in names.iter().zip(origins) {
        env.push((name, origin));
    }
    env.extend_from_slice(extra);
    let host = Host::start("spin.toml", &env);
    add(&host, ADMIN, "Wings", WINGS);
    add(&host, ADMIN, "Bread", BREAD);
    host
}

fn chat(host: &Host, body: Value) -> lode_tests::Reply {
    host.json("POST", "/api/chat", ADMIN, &body)
}

/// Server-Sent Events of a response body as (event, data).
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut event = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (event, serde_json::from_str(&data).unwrap_or(Value::Null))
        })
        .collect()
}

#[test]
fn answers_cite_verified_sources_and_conversations_rewrite_follow_ups() {
    let llm = ScriptedLlm::start();
    let host = start(
        &registry(&[("local", "openai", &llm.origin, None, 0.5)]),
        &["https://unused.example", &llm.origin],
        &[],
    );

    // A scripted answer citing [1] (the wing passage) and [9] (no such source).
    llm.push(openai_answer(
        "The reaction to deflected air pushes the wing up [1]. Thermals help too [9].",
        120,
        30,
    ));
    let r = chat(&host, json!({"message": "What keeps an aircraft up?"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["answer"],
        "The reaction to deflected air pushes the wing up [1]. Thermals help too."
    );
    assert_eq!(r.json["invalid_citations"], json!([9]));
    assert_eq!(r.json["grounded"], true);
    let citation = &r.json["citations"][0];
    assert_eq!(citation["n"], 1);
    assert_eq!(citation["title"], "Wings");
    assert!(citation["chunk_id"].is_i64(), "{citation}");
    assert!(
        citation["quote"]
            .as_str()
            .unwrap()
            .contains("the reaction pushes the wing up"),
        "{citation}"
    );
    assert_eq!(
        (r.json["model"].as_str(), r.json["provider"].as_str()),
        (Some("local"), Some("p-local"))
    );
    assert_eq!(
        r.json["usage"],
        json!({"input_tokens": 120, "output_tokens": 30})
    );
    let conversation = r.json["conversation_id"].as_str().unwrap().to_string();
    let sent = llm.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(
        sent[0].header("authorization"),
        None,
        "a keyless provider gets no key"
    );
    let body = &sent[0].body;
    assert_eq!(
        (body["model"].as_str(), body["stream"].as_bool()),
        (Some("local-v1"), Some(false))
    );
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("[1] Wings")
    );
    assert_eq!(
        body["messages"].as_array().unwrap().last().unwrap()["content"],
        "What keeps an aircraft up?"
    );

    // A follow-up: rewritten with the history, then answered with it.
    llm.push(openai_answer(
        "What is the force that pushes an aircraft wing up called?",
        40,
        12,
    ));
    llm.push(openai_answer("It is called lift [1].", 150, 8));
    let r = chat(
        &host,
        json!({"message": "And what is it called?", "conversation_id": conversation}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["rewritten"], true);
    assert_eq!(
        r.json["query"],
        "What is the force that pushes an aircraft wing up called?"
    );
    assert_eq!(r.json["answer"], "It is called lift [1].");
    let sent = llm.requests();
    let rewrite = sent[1].body["messages"][1]["content"].as_str().unwrap();
    assert!(
        rewrite.contains("User: What keeps an aircraft up?"),
        "{rewrite}"
    );
    assert!(
        rewrite.contains("Last question: And what is it called?"),
        "{rewrite}"
    );
    let roles: Vec<&str> = sent[2].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);

    // Nothing relevant: Lode says so without asking the model.
    let r = chat(
        &host,
        json!({"message": "quarterly revenue of the Norwegian salmon industry"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["grounded"], false);
    assert!(
        r.json["answer"]
            .as_str()
            .unwrap()
            .starts_with("I cannot answer"),
        "{}",
        r.text
    );
    assert_eq!(llm.requests().len(), 3, "no LLM call without sources");

    // An answer that cites nothing is marked and says so.
    llm.push(openai_answer("Probably magic.", 100, 3));
    let r = chat(&host, json!({"message": "Why does a wing rise?"}));
    assert_eq!(r.json["grounded"], false, "{}", r.text);
    assert!(
        r.json["answer"]
            .as_str()
            .unwrap()
            .contains("cites none of your documents")
    );

    // Conversations.
    let c = host.get(&format!("/api/conversations/{conversation}"), Some(ADMIN));
    assert_eq!(c.status, 200, "{}", c.text);
    assert_eq!(c.json["message_count"], 4);
    assert_eq!(c.json["messages"][3]["content"], "It is called lift [1].");
    assert_eq!(c.json["messages"][3]["citations"][0]["n"], 1);
    let list = host.get("/api/conversations", Some(ADMIN));
    assert_eq!(
        list.json["data"].as_array().unwrap().len(),
        3,
        "{}",
        list.text
    );
    let viewer = host.json(
        "POST",
        "/api/keys",
        ADMIN,
        &json!({"tenant": "other", "name": "v", "role": "viewer"}),
    );
    let other = viewer.json["key"].as_str().unwrap();
    assert_eq!(
        host.get(&format!("/api/conversations/{conversation}"), Some(other))
            .status,
        404
    );
    let r = host.json(
        "POST",
        "/api/chat",
        other,
        &json!({"message": "hi", "conversation_id": conversation}),
    );
    assert_eq!(r.status, 404, "another tenant's conversation: {}", r.text);
    assert_eq!(
        host.request(
            "DELETE",
            &format!("/api/conversations/{conversation}"),
            Some(ADMIN),
            &[],
            vec![]
        )
        .status,
        204
    );
    assert_eq!(
        host.get(&format!("/api/conversations/{conversation}"), Some(ADMIN))
            .status,
        404
    );

    // Usage: four calls, their tokens, and the registry's prices.
    let u = host.get("/api/usage", Some(ADMIN));
    assert_eq!(u.status, 200, "{}", u.text);
    assert_eq!(
        (u.json["requests"].as_i64(), u.json["failures"].as_i64()),
        (Some(4), Some(0)),
        "{}",
        u.text
    );
    assert_eq!(u.json["input_tokens"], 410);
    assert_eq!(u.json["output_tokens"], 53);
    let cost = u.json["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (410.0 * 0.5 + 53.0) / 1000.0).abs() < 1e-9,
        "{cost}"
    );
    assert_eq!(host.get("/api/usage", Some(other)).json["requests"], 0);
    assert_eq!(
        host.get("/api/usage?from=2026-13-01", Some(ADMIN)).status,
        422
    );

    // Bad requests.
    for body in [
        json!({}),
        json!({"message": ""}),
        json!({"message": "x", "k": 50}),
        json!({"message": "x", "strategy": "cheapest"}),
    ] {
        let r = chat(&host, body.clone());
        assert!(matches!(r.status, 400 | 422), "{body}: {}", r.text);
    }
}

#[test]
fn streamed_answers_arrive_as_events_from_openai_and_anthropic() {
    let openai = ScriptedLlm::start();
    let anthropic = ScriptedLlm::start();
    let host = start(
        &registry(&[
            (
                "claude",
                "anthropic",
                &anthropic.origin,
                Some("llm_key_b"),
                0.9,
            ),
            ("local", "openai", &openai.origin, None, 0.5),
        ]),
        &[&anthropic.origin, &openai.origin],
        &[("SPIN_VARIABLE_LLM_KEY_B", "sk-ant-secret-test")],
    );
    anthropic.push(anthropic_stream(&[
        "Lift ",
        "pushes ",
        "the wing ",
        "up [1]",
        ".",
    ]));
    let r = chat(
        &host,
        json!({"message": "What keeps an aircraft up?", "stream": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let ev = events(&r.text);
    let tokens: String = ev
        .iter()
        .filter(|(e, _)| e == "token")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, "Lift pushes the wing up [1].");
    let (last, done) = ev.last().unwrap();
    assert_eq!(last, "done", "{}", r.text);
    assert_eq!(done["answer"], "Lift pushes the wing up [1].");
    assert_eq!(done["citations"][0]["title"], "Wings");
    assert_eq!(done["model"], "claude");
    assert_eq!(
        done["usage"],
        json!({"input_tokens": 40, "output_tokens": 5})
    );
    let sent = anthropic.requests();
    assert_eq!(sent[0].path, "/v1/messages");
    assert_eq!(sent[0].header("x-api-key"), Some("sk-ant-secret-test"));
    assert_eq!(sent[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent[0].body["stream"], true);
    assert!(
        sent[0].body["system"]
            .as_str()
            .unwrap()
            .contains("[1] Wings")
    );

    // Non-streamed Anthropic, then an OpenAI stream chosen by name.
    anthropic.push(anthropic_answer("The wing is pushed up [1].", 60, 7));
    let r = chat(&host, json!({"message": "What pushes a wing up?"}));
    assert_eq!(r.json["answer"], "The wing is pushed up [1].", "{}", r.text);
    openai.push(openai_stream(
        &["It ", "is ", "lift [1]."],
        Duration::from_millis(20),
    ));
    let r = chat(
        &host,
        json!({"message": "What is lift?", "stream": true, "model": "local"}),
    );
    let ev = events(&r.text);
    assert!(
        ev.iter().filter(|(e, _)| e == "token").count() >= 3,
        "{}",
        r.text
    );
    assert_eq!(
        ev.last().unwrap().1["answer"],
        "It is lift [1].",
        "{}",
        r.text
    );
    assert_eq!(
        openai.requests()[0].body["stream_options"],
        json!({"include_usage": true})
    );
    assert!(
        !host.log().contains("sk-ant-secret-test"),
        "the key never reaches the log"
    );
}

#[test]
fn retries_honour_retry_after_then_fall_back_and_the_circuit_opens_and_closes() {
    let primary = ScriptedLlm::start();
    let backup = ScriptedLlm::start();
    let host = start(
        &registry(&[
            ("primary", "openai", &primary.origin, Some("llm_key_a"), 0.9),
            ("backup", "openai", &backup.origin, None, 0.5),
        ]),
        &[&primary.origin, &backup.origin],
        &[
            ("SPIN_VARIABLE_LLM_KEY_A", "sk-primary-secret"),
            ("SPIN_VARIABLE_LLM_CIRCUIT_THRESHOLD", "2"),
            ("SPIN_VARIABLE_LLM_CIRCUIT_COOLDOWN_SECS", "3"),
        ],
    );
    let ask = |host: &Host| chat(host, json!({"message": "What keeps an aircraft up?"}));

    // 429 with Retry-After, then an answer: the same provider, retried.
    primary.push(error(429, Some(1)));
    primary.push(openai_answer("Lift [1].", 10, 2));
    let r = ask(&host);
    assert_eq!(
        (r.json["provider"].as_str(), r.json["answer"].as_str()),
        (Some("p-primary"), Some("Lift [1].")),
        "{}",
        r.text
    );
    assert_eq!(primary.requests().len(), 2);
    assert_eq!(
        primary.requests()[0].header("authorization"),
        Some("Bearer sk-primary-secret")
    );

    // Three 500s use up the primary's attempts: the backup answers.
    for _ in 0..2 {
        for _ in 0..3 {
            primary.push(error(500, None));
        }
        backup.push(openai_answer("Backup says lift [1].", 10, 3));
        let r = ask(&host);
        assert_eq!(r.json["provider"], "p-backup", "{}", r.text);
    }
    assert_eq!(primary.requests().len(), 2 + 6);

    // Two failed calls in a row opened the primary's circuit: it is skipped.
    backup.push(openai_answer("Still the backup [1].", 10, 3));
    let r = ask(&host);
    assert_eq!(r.json["provider"], "p-backup", "{}", r.text);
    assert_eq!(primary.requests().len(), 8, "an open circuit sends nothing");

    // After the cool-down a trial goes through; it succeeds and closes it.
    lode_tests::wait_for("the cool-down", Duration::from_secs(30), || {
        if primary.pending() == 0 {
            primary.push(openai_answer("Primary is back [1].", 10, 3));
        }
        if backup.pending() == 0 {
            backup.push(openai_answer("Backup [1].", 10, 3));
        }
        let r = ask(&host);
        (r.json["provider"] == "p-primary").then_some(())
    });
    backup.clear();
    primary.push(openai_answer("Primary again [1].", 10, 3));
    assert_eq!(ask(&host).json["provider"], "p-primary");

    // Nobody answers: 503 naming each failure, key redacted.
    for _ in 0..3 {
        primary.push(error(503, None));
        backup.push(error(500, None));
    }
    let r = ask(&host);
    assert_eq!(r.status, 503, "{}", r.text);
    let message = r.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("primary") && message.contains("backup"),
        "{message}"
    );
    assert!(!r.text.contains("sk-primary-secret") && !host.log().contains("sk-primary-secret"));

    // A request the provider refuses (4xx) says nothing of its health: it
    // never counts toward opening the circuit.
    for _ in 0..3 {
        primary.push(error(400, None));
        backup.push(openai_answer("Backup [1].", 10, 3));
        assert_eq!(ask(&host).json["provider"], "p-backup");
    }
    primary.push(openai_answer("Primary [1].", 10, 3));
    let r = ask(&host);
    assert_eq!(
        r.json["provider"], "p-primary",
        "4xx left it closed: {}",
        r.text
    );

    // One tenant's failures open the provider's circuit for that tenant only.
    for _ in 0..2 {
        for _ in 0..3 {
            primary.push(error(500, None));
        }
        backup.push(openai_answer("Backup [1].", 10, 3));
        assert_eq!(ask(&host).json["provider"], "p-backup");
    }
    let sent = primary.requests().len();
    backup.push(openai_answer("Backup [1].", 10, 3));
    assert_eq!(ask(&host).json["provider"], "p-backup");
    assert_eq!(primary.requests().len(), sent, "open for this tenant");
    let other = host.new_key(ADMIN, "globex", "editor");
    primary.push(openai_answer("Hello from the primary.", 5, 2));
    let r = host.json(
        "POST",
        "/v1/chat/completions",
        &other,
        &json!({"model": "primary", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(r.status, 200, "another tenant still reaches it: {}", r.text);
    assert_eq!(primary.requests().len(), sent + 1);

    let u = host.get("/api/usage", Some(ADMIN));
    let failures: i64 = u.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["failures"].as_i64().unwrap())
        .sum();
    assert_eq!(failures, u.json["failures"].as_i64().unwrap());
    assert!(failures >= 4, "{}", u.text);
}

/// The official OpenAI Python client against `/v1`: list models, a streamed
/// `lode-rag` answer, a proxied model, and embeddings.
#[test]
fn the_official_openai_client_works_against_v1() {
    let llm = ScriptedLlm::start();
    let host = start(
        &registry(&[("local", "openai", &llm.origin, None, 0.5)]),
        &["https://unused.example", &llm.origin],
        &[],
    );
    llm.push(openai_stream(
        &["A wing is ", "pushed up ", "[1]", "."],
        Duration::from_millis(10),
    ));
    llm.push(openai_answer("Hello.", 12, 2));
    let out = std::process::Command::new("python3")
        .arg(lode_tests::repo().join("tests/openai_client.py"))
        .arg(&host.base)
        .arg(ADMIN)
        .output()
        .expect("python3 runs (make setup installs the openai package)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}\n{}", host.log());
    println!("{stdout}");
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|l| serde_json::from_str(l).unwrap())
        .expect("a RESULT line");
    let models: Vec<&str> = result["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(models, ["lode-rag", "local", "all-MiniLM-L6-v2"]);
    assert_eq!(result["stream_text"], "A wing is pushed up [1].");
    assert_eq!(result["stream_chunks"], 4);
    assert_eq!(result["finish_reason"], "stop");
    assert_eq!(result["stream_usage"], json!([50, 4]));
    assert_eq!(result["proxied"], "Hello.");
    assert_eq!(result["proxied_usage"], 14);
    assert_eq!(result["embeddings"][0], 2);
    assert_eq!(result["embeddings"][1], 384);
    assert!(result["embeddings"][2].as_u64().unwrap() >= 6);
    assert!((result["norm"].as_f64().unwrap() - 1.0).abs() < 1e-3);
    // The official client raises its own classes, and does not retry a
    // 404 (it retried the 503 an unknown model used to get).
    assert_eq!(
        result["errors"],
        json!({
            "unknown_model": ["NotFoundError", 404, "model_not_found"],
            "empty_messages": ["BadRequestError", 400, null],
            "bad_key": ["AuthenticationError", 401, "invalid_api_key"],
        })
    );
    let sent = llm.requests();
    assert_eq!(sent[1].body["model"], "local-v1");
    assert_eq!(sent[1].body["messages"][0]["role"], "system");
    let u = host.get("/api/usage", Some(ADMIN));
    assert_eq!(
        u.json["requests"], 2,
        "proxied calls are counted too: {}",
        u.text
    );

    // What the surface refuses.
    let v1 = |path: &str, body: Value| host.json("POST", path, ADMIN, &body);
    let long = "lift ".repeat(400);
    for (path, body, status) in [
        (
            "/v1/embeddings",
            json!({"model": "text-embedding-3-small", "input": "x"}),
            404,
        ),
        (
            "/v1/embeddings",
            json!({"model": "all-MiniLM-L6-v2", "input": [[1, 2, 3]]}),
            400,
        ),
        (
            "/v1/embeddings",
            json!({"model": "all-MiniLM-L6-v2", "input": long}),
            400,
        ),
        (
            "/v1/embeddings",
            json!({"model": "all-MiniLM-L6-v2", "input": []}),
            400,
        ),
        // Runs without spaces are counted in one pass (they were quadratic),
        // and a 1 MB input is refused by its length before tokenizing.
        (
            "/v1/embeddings",
            json!({"model": "all-MiniLM-L6-v2", "input": "!".repeat(16 * 1024)}),
            400,
        ),
        (
            "/v1/embeddings",
            json!({"model": "all-MiniLM-L6-v2", "input": ["ok", "中".repeat(1_000_000 / 3)]}),
            400,
        ),
        (
            "/v1/chat/completions",
            json!({"model": "lode-rag", "messages": []}),
            400,
        ),
        (
            "/v1/chat/completions",
            json!({"model": "lode-rag", "n": 2, "messages": [{"role": "user", "content": "x"}]}),
            400,
        ),
        (
            "/v1/chat/completions",
            json!({"model": "lode-rag", "messages": [{"role": "wizard", "content": "x"}]}),
            400,
        ),
        (
            "/v1/chat/completions",
            json!({"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}),
            404,
        ),
        // A proxied model's request is bounded like every other LLM call.
        (
            "/v1/chat/completions",
            json!({"model": "local", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}),
            400,
        ),
        (
            "/v1/chat/completions",
            json!({"model": "local", "messages": [{"role": "user", "content": "x".repeat(300_000)}]}),
            400,
        ),
    ] {
        let r = v1(path, body.clone());
        assert_eq!(r.status, status, "{path} {body}: {}", r.text);
        // OpenAI's error shape: message, type, param, code.
        let e = &r.json["error"];
        assert!(e["message"].is_string(), "{}", r.text);
        assert_eq!(e["type"], "invalid_request_error", "{}", r.text);
        assert!(
            e.get("param").is_some() && e.get("code").is_some(),
            "{}",
            r.text
        );
        if status == 404 {
            assert_eq!(
                (&e["code"], &e["param"]),
                (&json!("model_not_found"), &json!("model"))
            );
        }
    }
    let anonymous = host.get("/v1/models", None);
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.json["error"]["code"], "invalid_api_key",
        "{}",
        anonymous.text
    );
}

#[test]
fn with_the_search_tool_the_model_searches_again_and_cites_what_it_found() {
    let llm = ScriptedLlm::start();
    let host = start(
        &registry(&[("local", "openai", &llm.origin, None, 0.5)]),
        &[&llm.origin],
        &[],
    );
    let bad = chat(&host, json!({"message": "Hi", "tools": ["rm_rf"]}));
    assert_eq!(bad.status, 422, "{}", bad.text);

    // The first retrieval finds the wing; the model searches for bread.
    llm.push(openai_tool_calls(
        &[(
            "call_1",
            "search_documents",
            json!({"query": "why sourdough rises"}),
        )],
        120,
        15,
    ));
    llm.push(openai_answer(
        "Lift keeps it up [1]. Yeast makes dough rise [2].",
        200,
        14,
    ));
    let r = chat(
        &host,
        json!({"message": "What keeps an aircraft up?", "tools": ["search_documents"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["answer"],
        "Lift keeps it up [1]. Yeast makes dough rise [2]."
    );
    assert_eq!(
        r.json["searches"],
        json!([{"query": "why sourdough rises", "sources": [2]}])
    );
    let cited: Vec<(u64, &str)> = r.json["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["n"].as_u64().unwrap(),
                c["title"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(cited, [(1, "Wings"), (2, "Bread")], "{}", r.text);
    assert_eq!(r.json["invalid_citations"], json!([]));
    assert_eq!(
        (
            r.json["usage"]["input_tokens"].as_u64(),
            r.json["usage"]["output_tokens"].as_u64()
        ),
        (Some(320), Some(29)),
        "both rounds are accounted"
    );

    // What the model was sent: the tool, then its call and the search result.
    let sent = llm.requests();
    let first = &sent[0].body;
    assert_eq!(first["tools"][0]["function"]["name"], "search_documents");
    assert!(
        first["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("call the search_documents tool")
    );
    let second = sent[1].body["messages"].as_array().unwrap();
    let n = second.len();
    assert_eq!(second[n - 2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(second[n - 1]["role"], "tool");
    assert_eq!(second[n - 1]["tool_call_id"], "call_1");
    let result = second[n - 1]["content"].as_str().unwrap();
    assert!(result.contains("[2] Bread"), "{result}");
    assert!(result.contains("wild yeast ferments"), "{result}");

    // A model that never stops calling tools is cut off after three rounds.
    for i in 0..4 {
        llm.push(openai_tool_calls(
            &[(
                &format!("c{i}"),
                "search_documents",
                json!({"query": "wings"}),
            )],
            10,
            2,
        ));
    }
    let r = chat(
        &host,
        json!({"message": "What keeps an aircraft up?", "tools": ["search_documents"]}),
    );
    assert_eq!(r.status, 502, "{}", r.text);
    assert_eq!(llm.pending(), 0, "four rounds were asked, no more");

    // Streaming with tools: the rounds, then the answer and the done event.
    llm.push(openai_tool_calls(
        &[("s1", "search_documents", json!({"query": ""}))],
        10,
        2,
    ));
    llm.push(openai_answer("Lift [1].", 50, 3));
    let r = chat(
        &host,
        json!({"message": "What keeps an aircraft up?", "tools": ["search_documents"], "stream": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let ev = events(&r.text);
    assert_eq!(ev[0], ("token".to_string(), json!({"text": "Lift [1]."})));
    assert_eq!(ev[1].0, "done");
    assert_eq!(ev[1].1["searches"], json!([]), "a bad call runs no search");
    let bad_call = llm.requests().last().unwrap().body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        bad_call["content"]
            .as_str()
            .unwrap()
            .contains("takes {\"query\""),
        "the model is told what was wrong: {bad_call}"
    );
}
