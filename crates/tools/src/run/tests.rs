//! Tool runs against a real HTTP server on loopback speaking OpenAI's wire
//! protocol, with a real SQLite store: the code a component runs, natively.

use std::cell::RefCell;

use lode_capabilities::native::{Loopback, NativeHost, Scripted};
use lode_store::rusqlite_sql::RusqliteSql;

use super::*;

fn answer(content: &Json) -> Scripted {
    let body = json!({
        "id": "c", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content.to_string()},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    });
    (200, vec![], body.to_string())
}

/// A model with a 2,000-token context (parts of 1,500 characters).
fn llm(provider: &Loopback) -> Llm<NativeHost> {
    let registry = json!({
        "providers": [{"name": "p", "protocol": "openai", "base_url": provider.origin}],
        "models": [{"name": "small", "provider": "p", "context_length": 2000,
                    "cost_per_1k_input": 1.0, "cost_per_1k_output": 2.0, "capabilities": ["chat"]}]
    });
    let host = NativeHost::new(
        &[&provider.origin],
        &[
            ("llm_registry", &registry.to_string()),
            ("llm_timeout_secs", "10"),
            ("llm_circuit_threshold", "5"),
            ("llm_circuit_cooldown_secs", "60"),
        ],
    );
    RusqliteSql::block_on(Llm::load(host, String::new())).unwrap()
}

/// Records every report.
#[derive(Default)]
struct Recorded(RefCell<Vec<(usize, usize)>>);

impl Progress for Recorded {
    async fn call_done(&self, done: usize, total: usize) -> Result<(), ApiError> {
        self.0.borrow_mut().push((done, total));
        Ok(())
    }
}

/// The tool's input as the API checks it (defaults filled in).
fn input(tool: Tool) -> Map<String, Json> {
    tool.check_input(&json!({})).unwrap()
}

fn long_text() -> String {
    (0..3)
        .map(|i| format!("Paragraph {i}. {}\n\n", "Words about turbines. ".repeat(55)))
        .collect()
}

#[test]
fn a_long_summary_is_map_reduced_with_progress_after_every_call() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let provider = Loopback::start(vec![
        answer(&json!({"summary": "one"})),
        answer(&json!({"summary": "two"})),
        answer(&json!({"summary": "three"})),
        answer(&json!({"summary": "all of it"})),
    ]);
    let plan = Plan::new(llm(&provider), Tool::Summarize, &long_text(), None, None);
    assert_eq!(plan.calls(), 4, "three parts and the reduce step");
    let progress = Recorded::default();
    let out =
        RusqliteSql::block_on(plan.run(&sql, &acme, &input(Tool::Summarize), &progress)).unwrap();
    assert_eq!(out["result"]["summary"], "all of it");
    assert_eq!(
        (out["parts"].as_u64(), out["llm_calls"].as_u64()),
        (Some(3), Some(4))
    );
    assert_eq!(out["usage"]["input_tokens"], 400);
    assert_eq!(out["truncated"], false);
    assert_eq!(*progress.0.borrow(), [(1, 4), (2, 4), (3, 4), (4, 4)]);
    // The reduce step saw every part's summary, in order.
    let reduce = &provider.received()[3].body;
    assert!(
        reduce.contains("Part 1: one") && reduce.contains("Part 3: three"),
        "{reduce}"
    );
}

#[test]
fn other_tools_see_the_first_part_and_say_the_text_was_cut() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let provider = Loopback::start(vec![answer(&json!({"keywords": ["turbines"]}))]);
    let plan = Plan::new(llm(&provider), Tool::Keywords, &long_text(), None, None);
    assert_eq!(plan.calls(), 1);
    let out = RusqliteSql::block_on(plan.run(&sql, &acme, &input(Tool::Keywords), &Quiet)).unwrap();
    assert_eq!(out["truncated"], true);
    assert_eq!(provider.received().len(), 1);
}

#[test]
fn an_unusable_answer_is_worth_a_retry_and_an_unknown_model_is_not() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let provider = Loopback::start(vec![answer(&json!({"not": "a summary"}))]);
    let plan = Plan::new(llm(&provider), Tool::Summarize, "short", None, None);
    let e =
        RusqliteSql::block_on(plan.run(&sql, &acme, &input(Tool::Summarize), &Quiet)).unwrap_err();
    assert!(matches!(e, RunError::Output(_)), "{e:?}");
    assert!(e.is_transient());
    assert_eq!(ApiError::from(e).status(), 502);

    let plan = Plan::new(
        llm(&provider),
        Tool::Summarize,
        "short",
        Some("nope".into()),
        None,
    );
    let e =
        RusqliteSql::block_on(plan.run(&sql, &acme, &input(Tool::Summarize), &Quiet)).unwrap_err();
    assert_eq!(e, RunError::Llm(LlmError::ModelNotFound("nope".into())));
    assert!(!e.is_transient());
}
