//! The answer loop natively: the real embedding model (tract), the real
//! index and conversations in SQLite, and a real HTTP server on loopback
//! speaking OpenAI's protocol as the provider.

use lode_capabilities::native::{Loopback, NativeHost, Scripted};
use lode_embed::Embedder;
use lode_index::{ChunkRecord, Index};
use lode_store::rusqlite_sql::RusqliteSql;
use lode_store::{DocumentInput, Documents};

use super::*;

/// all-MiniLM-L6-v2, natively (`LODE_MODEL_DIR` or `models/`).
struct Native(Embedder);

impl Embed for Native {
    fn model(&self) -> String {
        "all-MiniLM-L6-v2".into()
    }

    async fn query(&self, text: &str) -> Result<Vec<f32>, ApiError> {
        let mut v = self
            .0
            .embed(&[text])
            .map_err(|e| ApiError::internal_because(e.to_string()))?;
        Ok(v.remove(0))
    }
}

fn embedder() -> Native {
    let dir = lode_embed::repo_model_dir();
    Native(Embedder::load_dir(&dir).expect("model files (make models)"))
}

const PASSAGES: [&str; 3] = [
    "The boundary layer separates from the wing at high angles of attack.",
    "Heat transfer in hypersonic flow is dominated by the stagnation point.",
    "Lode's cafeteria serves soup on Tuesdays.",
];

/// A tenant with one document of three passages, indexed with real vectors.
fn store(embed: &Native) -> (RusqliteSql, Tenant) {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    RusqliteSql::block_on(async {
        let doc = Documents::new(&sql, &acme)
            .create(DocumentInput {
                title: "Aerodynamics notes".into(),
                content: PASSAGES.join("\n\n"),
                content_type: "text/plain".into(),
                metadata: None,
            })
            .await
            .unwrap();
        let chunks: Vec<ChunkRecord> = PASSAGES
            .iter()
            .enumerate()
            .map(|(i, text)| ChunkRecord {
                ordinal: i as i64,
                text: text.to_string(),
                heading_path: Vec::new(),
                pages: None,
                chars: (0, text.len() as i64),
                token_count: 12,
                sha256: lode_store::ids::sha256_hex(text.as_bytes()),
                vector: Some(embed.0.embed(&[text]).unwrap().remove(0)),
            })
            .collect();
        Index::new(&sql, &acme, &embed.model())
            .write(&doc.id, doc.version, &chunks)
            .await
            .unwrap();
    });
    (sql, acme)
}

fn completion(content: &str, tool_calls: Option<Json>) -> Scripted {
    let mut message = json!({"role": "assistant", "content": content});
    if let Some(calls) = tool_calls {
        message["tool_calls"] = calls;
    }
    let body = json!({
        "id": "c", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}
    });
    (200, vec![], body.to_string())
}

fn new_engine(
    sql: RusqliteSql,
    tenant: Tenant,
    provider: &Loopback,
) -> Engine<NativeHost, RusqliteSql, Native> {
    let registry = json!({
        "providers": [{"name": "p", "protocol": "openai", "base_url": provider.origin}],
        "models": [{"name": "m", "provider": "p", "context_length": 8192,
                    "capabilities": ["chat", "stream", "tools"]}]
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
    let llm = RusqliteSql::block_on(Llm::load(host, String::new())).unwrap();
    Engine {
        llm,
        sql,
        tenant,
        embed: embedder(),
    }
}

fn question(
    text: &str,
    search: bool,
    history: Vec<Message>,
    conversation: Option<String>,
) -> Question {
    Question {
        question: text.into(),
        history,
        retrieval: Retrieval::new(Some(3), None, None, None).unwrap(),
        ask: Ask {
            max_tokens: 200,
            ..Ask::default()
        },
        conversation_id: conversation,
        remember: true,
        search,
    }
}

#[test]
fn an_answer_cites_verified_sources_and_its_turn_is_remembered() {
    let embed = embedder();
    let (sql, acme) = store(&embed);
    let provider = Loopback::start(vec![completion(
        "Flow separates at high angles of attack [1]. Also see [7].",
        None,
    )]);
    let engine = new_engine(sql, acme.clone(), &provider);
    let q = question(
        "When does the boundary layer separate?",
        false,
        Vec::new(),
        None,
    );
    let payload = RusqliteSql::block_on(async {
        Prepared::new(engine, q)
            .await
            .unwrap()
            .answer()
            .await
            .unwrap()
    });
    // The most similar passage is source 1; the cafeteria is below min_score.
    assert!(
        payload["sources"][0]["text"]
            .as_str()
            .unwrap()
            .contains("boundary layer")
    );
    assert!(
        payload["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s["text"].as_str().unwrap().contains("soup"))
    );
    assert_eq!(payload["grounded"], true);
    assert_eq!(payload["invalid_citations"], json!([7]));
    assert!(!payload["answer"].as_str().unwrap().contains("[7]"));
    assert_eq!(payload["usage"]["input_tokens"], 50);
    assert!(payload["conversation_id"].is_string());
    // The prompt the provider saw numbers the sources.
    assert!(provider.received()[0].body.contains("[1]"));
}

#[test]
fn a_follow_up_is_rewritten_and_the_search_tool_adds_numbered_sources() {
    let embed = embedder();
    let (sql, acme) = store(&embed);
    let call = json!([{"id": "call_1", "type": "function",
        "function": {"name": "search_documents", "arguments": "{\"query\": \"boundary layer separation on a wing\"}"}}]);
    let provider = Loopback::start(vec![
        completion(
            "What is the stagnation point's role in heat transfer?",
            None,
        ),
        completion("", Some(call)),
        completion(
            "The stagnation point dominates heat transfer [1]; separation matters too [2].",
            None,
        ),
    ]);
    let engine = new_engine(sql, acme, &provider);
    let history = vec![
        Message::text(Role::User, "Tell me about hypersonic flow."),
        Message::text(Role::Assistant, "It is flow far above the speed of sound."),
    ];
    let q = question("And the heat?", true, history, None);
    let payload = RusqliteSql::block_on(async {
        Prepared::new(engine, q)
            .await
            .unwrap()
            .answer()
            .await
            .unwrap()
    });
    assert_eq!(payload["rewritten"], true);
    assert_eq!(
        payload["query"],
        "What is the stagnation point's role in heat transfer?"
    );
    // The search found the other passage, numbered after the first.
    assert_eq!(
        payload["searches"][0]["query"],
        "boundary layer separation on a wing"
    );
    assert_eq!(payload["searches"][0]["sources"], json!([2]));
    assert!(
        payload["sources"][1]["text"]
            .as_str()
            .unwrap()
            .contains("boundary layer")
    );
    assert_eq!(payload["grounded"], true);
    assert_eq!(payload["invalid_citations"], json!([]));
    // Both rounds are counted in one usage.
    assert_eq!(payload["usage"]["input_tokens"], 100);
    // The tool's result went back to the model as a tool message.
    assert!(
        provider.received()[2]
            .body
            .contains("\"tool_call_id\":\"call_1\"")
    );
}

#[test]
fn no_evidence_means_no_model_call_and_an_unknown_conversation_is_refused() {
    let embed = embedder();
    let (sql, acme) = store(&embed);
    let provider = Loopback::start(vec![]);
    let engine = new_engine(sql, acme, &provider);
    let mut q = question(
        "What is the airspeed of an unladen swallow?",
        false,
        Vec::new(),
        None,
    );
    q.retrieval = Retrieval::new(Some(3), Some(0.99), None, None).unwrap();
    let payload = RusqliteSql::block_on(async {
        Prepared::new(engine, q)
            .await
            .unwrap()
            .answer()
            .await
            .unwrap()
    });
    assert_eq!(payload["answer"], crate::NO_CONTEXT_ANSWER);
    assert_eq!(payload["grounded"], false);
    assert!(provider.received().is_empty());

    let (sql, acme) = store(&embed);
    let provider = Loopback::start(vec![completion("It separates [1].", None)]);
    let engine = new_engine(sql, acme, &provider);
    let q = question(
        "Boundary layer?",
        false,
        Vec::new(),
        Some("conv_missing".into()),
    );
    let e = RusqliteSql::block_on(async {
        Prepared::new(engine, q)
            .await
            .unwrap()
            .answer()
            .await
            .unwrap_err()
    });
    assert_eq!(e.status(), 404);
}
