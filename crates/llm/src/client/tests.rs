//! The client against real HTTP servers on loopback that speak OpenAI's
//! wire protocol, a real SQLite store and an in-memory key-value store:
//! the code a component runs, natively.

use lode_capabilities::native::{
    Loopback as Provider, NativeHost as Native, Scripted, UreqOutbound,
};
use lode_store::rusqlite_sql::RusqliteSql;
use lode_store::usage::day;
use lode_store::{Settings, Tenant, TenantSettings, Usage};
use serde_json::json;

use super::*;
use crate::chat::Message;

/// How many requests a provider has had.
fn requests(p: &Provider) -> usize {
    p.received().len()
}

fn ok(text: &str) -> Scripted {
    let body = json!({
        "id": "c1", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    });
    (200, vec![], body.to_string())
}

fn status(code: u16, body: &str) -> Scripted {
    (code, vec![], body.to_string())
}

/// Two providers in `manual` order ("first", then "second"), both allowed.
fn llm(first: &Provider, second: &Provider, threshold: u32) -> Llm<Native> {
    let registry = json!({
        "providers": [
            {"name": "a", "protocol": "openai", "base_url": first.origin, "key_variable": "key_a"},
            {"name": "b", "protocol": "openai", "base_url": second.origin}
        ],
        "models": [
            {"name": "first", "provider": "a", "context_length": 4096, "capabilities": ["chat", "stream"]},
            {"name": "second", "provider": "b", "context_length": 4096, "capabilities": ["chat", "stream"]}
        ],
        "strategy": "manual",
        "fallback": ["first", "second"]
    });
    let threshold = threshold.to_string();
    let host = Native::new(
        &[&first.origin, &second.origin],
        &[
            ("llm_registry", &registry.to_string()),
            ("llm_timeout_secs", "10"),
            ("llm_circuit_threshold", &threshold),
            ("llm_circuit_cooldown_secs", "60"),
            ("key_a", "sk-secret-a"),
        ],
    );
    RusqliteSql::block_on(Llm::load(host, "req_test".into())).unwrap()
}

fn ask() -> Ask {
    Ask {
        messages: vec![Message::text(crate::chat::Role::User, "hello")],
        max_tokens: 50,
        ..Ask::default()
    }
}

fn today(sql: &RusqliteSql, tenant: &Tenant) -> lode_store::UsageReport {
    let d = day(lode_store::ids::now_ms());
    RusqliteSql::block_on(Usage::new(sql, tenant).report(&d, &d)).unwrap()
}

#[test]
fn transient_failures_are_retried_then_the_chain_falls_back_and_every_call_is_counted() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let a = Provider::start(vec![
        (
            429,
            vec![("retry-after".into(), "2".into())],
            "slow down".into(),
        ),
        status(503, "busy"),
        status(500, "down"),
    ]);
    let b = Provider::start(vec![ok("from b")]);
    let llm = llm(&a, &b, 5);
    let answer = RusqliteSql::block_on(llm.complete(&sql, &acme, &ask())).unwrap();
    assert_eq!(
        (answer.model.as_str(), answer.provider.as_str()),
        ("second", "b")
    );
    assert_eq!(answer.response.content, "from b");
    // Three attempts at a, waits between them: Retry-After honoured first.
    assert_eq!(requests(&a), 3);
    let waits = llm.host.http.waits.borrow().clone();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert_eq!(waits[0], Duration::from_secs(2));
    // The key went to a, and only to a.
    assert_eq!(a.received()[0].authorization, "Bearer sk-secret-a");
    assert_eq!(b.received()[0].authorization, "");
    let usage = today(&sql, &acme);
    assert_eq!((usage.requests, usage.failures), (2, 1));
    assert_eq!((usage.input_tokens, usage.output_tokens), (10, 5));
    // a's failure counts against a's circuit for this tenant only.
    let circuit = RusqliteSql::block_on(llm.circuit(&acme, "a"));
    assert_ne!(circuit, Circuit::default());
    let other = Tenant::parse("globex").unwrap();
    assert_eq!(
        RusqliteSql::block_on(llm.circuit(&other, "a")),
        Circuit::default()
    );
}

#[test]
fn a_refused_request_is_not_retried_and_the_key_never_reaches_the_error() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let a = Provider::start(vec![status(401, "bad key sk-secret-a")]);
    let b = Provider::start(vec![status(400, "bad request")]);
    let llm = llm(&a, &b, 5);
    let e = RusqliteSql::block_on(llm.complete(&sql, &acme, &ask())).unwrap_err();
    let LlmError::Unavailable(message) = &e else {
        panic!("{e:?}")
    };
    assert!(message.contains("[redacted]"), "{message}");
    assert!(!message.contains("sk-secret-a"), "{message}");
    assert_eq!((requests(&a), requests(&b)), (1, 1));
    assert!(llm.host.http.waits.borrow().is_empty());
    // A 4xx says nothing about the provider's health.
    assert_eq!(
        RusqliteSql::block_on(llm.circuit(&acme, "a")),
        Circuit::default()
    );
    assert_eq!(ApiError::from(e).status(), 503);
}

#[test]
fn an_open_circuit_skips_its_provider_until_it_cools_down() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let a = Provider::start(vec![status(500, "x"), status(500, "x"), status(500, "x")]);
    let b = Provider::start(vec![ok("one"), ok("two")]);
    let llm = llm(&a, &b, 1);
    RusqliteSql::block_on(llm.complete(&sql, &acme, &ask())).unwrap();
    assert_eq!(requests(&a), 3);
    let second = RusqliteSql::block_on(llm.complete(&sql, &acme, &ask())).unwrap();
    assert_eq!(second.response.content, "two");
    assert_eq!(requests(&a), 3, "a's circuit is open: not called again");
}

#[test]
fn a_stream_is_decoded_as_it_arrives_and_counted_when_it_ends() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let events = [
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]}),
        json!({"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}}),
    ];
    let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    let sse = (
        200,
        vec![("content-type".into(), "text/event-stream".into())],
        body,
    );
    let a = Provider::start(vec![sse]);
    let b = Provider::start(vec![]);
    let llm = llm(&a, &b, 5);
    let text = RusqliteSql::block_on(async {
        let mut stream = llm.stream(&sql, &acme, &ask()).await.unwrap();
        assert_eq!(stream.model(), "first");
        let mut text = String::new();
        while let Some(delta) = stream.next().await {
            if let Delta::Text(t) = delta.unwrap() {
                text.push_str(&t);
            }
        }
        let answer = llm.finish_stream(&sql, &acme, stream).await.unwrap();
        assert_eq!(answer.response.usage.input_tokens, 7);
        text
    });
    assert_eq!(text, "Hello");
    assert!(a.received()[0].body.contains("\"stream\":true"));
    assert_eq!(today(&sql, &acme).output_tokens, 2);
}

#[test]
fn a_host_outside_the_allow_list_is_refused_without_retrying() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let a = Provider::start(vec![ok("never")]);
    let b = Provider::start(vec![ok("from b")]);
    let mut llm = llm(&a, &b, 5);
    llm.host.http = UreqOutbound::allowing(&[&b.origin]);
    let answer = RusqliteSql::block_on(llm.complete(&sql, &acme, &ask())).unwrap();
    assert_eq!(answer.provider, "b");
    assert_eq!(requests(&a), 0);
    assert!(llm.host.http.waits.borrow().is_empty());
}

#[test]
fn an_unknown_model_and_a_spent_quota_are_refused_before_any_call() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let a = Provider::start(vec![ok("one")]);
    let b = Provider::start(vec![]);
    let llm = llm(&a, &b, 5);
    let mut named = ask();
    named.model = Some("gpt-nope".into());
    let e = RusqliteSql::block_on(llm.complete(&sql, &acme, &named)).unwrap_err();
    assert_eq!(e, LlmError::ModelNotFound("gpt-nope".into()));
    assert_eq!(ApiError::from(e).status(), 404);
    // Ten tokens a day: the first answer (15 tokens) spends them.
    let mut settings = TenantSettings::default();
    settings.quotas.llm_tokens_per_day = 10;
    let ceiling = lode_store::Ceiling::parse("").unwrap();
    RusqliteSql::block_on(Settings::new(&sql, &acme).put(settings, &ceiling)).unwrap();
    RusqliteSql::block_on(llm.complete(&sql, &acme, &ask())).unwrap();
    let e = RusqliteSql::block_on(llm.complete(&sql, &acme, &ask())).unwrap_err();
    assert_eq!(ApiError::from(e).status(), 429);
    assert_eq!(requests(&a), 1);
}
