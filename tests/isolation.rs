//! Tenant isolation, proven route by route: tenant B, with a key holding
//! every scope, tries every route of `lode_auth::routes::ROUTES` that names
//! an id on tenant A's real ids (a document and its version, a job and its
//! batch, a conversation, a stored tool result, a key, a user) and gets 404, never
//! data; B's lists and searches show nothing of A's; A's data is unchanged.

use lode_auth::routes::ROUTES;
use lode_tests::Host;
use lode_tests::llm_server::{ScriptedLlm, openai_answer};
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-key-0123456789";

fn admin_key(host: &Host, tenant: &str) -> (String, String) {
    let r = host.json(
        "POST",
        "/api/keys",
        ADMIN,
        &json!({"tenant": tenant, "name": "iso", "role": "admin"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    (
        r.json["id"].as_str().unwrap().to_string(),
        r.json["key"].as_str().unwrap().to_string(),
    )
}

/// A's ids, one per kind of resource.
struct Ids {
    document: String,
    job: String,
    batch: String,
    conversation: String,
    key: String,
    user: String,
}

impl Ids {
    /// `pattern` with A's ids in it.
    fn path(&self, pattern: &str) -> String {
        let id = if pattern.starts_with("/api/jobs/batches/") {
            &self.batch
        } else if pattern.starts_with("/api/jobs/") {
            &self.job
        } else if pattern.starts_with("/api/conversations/") {
            &self.conversation
        } else if pattern.starts_with("/api/keys/") {
            &self.key
        } else if pattern.starts_with("/api/users/") {
            &self.user
        } else {
            &self.document
        };
        pattern
            .replace("{id}", id)
            .replace("{version}", "1")
            .replace("{tool}", "sentiment")
    }
}

/// A body each write route would accept from A, so a 404 cannot be a 422.
fn body_for(pattern: &str) -> Value {
    match pattern {
        "/api/documents/{id}" => json!({"title": "Stolen", "content": "overwritten"}),
        "/api/users/{id}" => json!({"role": "admin"}),
        _ => json!({}),
    }
}

#[test]
fn another_tenant_reaches_none_of_a_tenants_ids() {
    let llm = ScriptedLlm::start();
    let registry = json!({
        "providers": [{"name": "local", "protocol": "openai", "base_url": llm.origin}],
        "models": [{"name": "small", "provider": "local", "context_length": 8192}]
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
    let (_, a) = admin_key(&host, "acme");
    let (_, b) = admin_key(&host, "globex");

    // Tenant A's resources.
    let doc = host.json(
        "POST",
        "/api/documents",
        &a,
        &json!({"title": "Merger plan", "content": "# Plan\n\nAcme acquires Initech in March."}),
    );
    assert_eq!(doc.status, 201, "{}", doc.text);
    let queued = host.request(
        "POST",
        "/api/documents/upload?title=Memo",
        Some(&a),
        &[("content-type", "text/plain")],
        b"Initech memo: the deal closes in March.".to_vec(),
    );
    assert_eq!(queued.status, 202, "{}", queued.text);
    let chat = host.json(
        "POST",
        "/api/chat",
        &a,
        &json!({"message": "zebra quantum marmalade?"}),
    );
    assert_eq!(chat.status, 200, "{}", chat.text);
    llm.push(openai_answer(
        "{\"sentiment\": \"positive\", \"score\": 0.7}",
        10,
        5,
    ));
    let document = doc.json["id"].as_str().unwrap().to_string();
    let tool = host.json(
        "POST",
        &format!("/api/documents/{document}/tools/sentiment"),
        &a,
        &json!({}),
    );
    assert_eq!(tool.status, 200, "{}", tool.text);
    let (key, _) = admin_key(&host, "acme");
    let user = host.json(
        "POST",
        "/api/auth/register",
        &a,
        &json!({"email": "ceo@acme.example", "password": "a long password"}),
    );
    assert_eq!(user.status, 201, "{}", user.text);
    let ids = Ids {
        document,
        job: queued.json["jobs"][0]["job_id"]
            .as_str()
            .unwrap()
            .to_string(),
        batch: queued.json["batch_id"].as_str().unwrap().to_string(),
        conversation: chat.json["conversation_id"].as_str().unwrap().to_string(),
        key,
        user: user.json["id"].as_str().unwrap().to_string(),
    };

    // B on every route that names one of A's ids.
    let mut tried = 0;
    // (`/api/tools/{tool}` names a tool, not tenant data.)
    for rule in ROUTES.iter().filter(|r| r.pattern.contains("{id}")) {
        let path = ids.path(rule.pattern);
        let body = body_for(rule.pattern);
        let r = if matches!(rule.method, "GET" | "DELETE") {
            host.request(rule.method, &path, Some(&b), &[], Vec::new())
        } else {
            host.json(rule.method, &path, &b, &body)
        };
        assert_eq!(
            r.status, 404,
            "{} {path} as tenant B: {}",
            rule.method, r.text
        );
        assert_eq!(r.json["error"]["code"], "not_found");
        for secret in ["Merger", "Initech", "zebra", "positive"] {
            assert!(
                !r.text.contains(secret),
                "{} {path} leaked {secret}",
                rule.method
            );
        }
        tried += 1;
    }
    assert!(tried >= 16, "only {tried} routes name an id");
    assert_eq!(
        llm.requests().len(),
        1,
        "B's tool call never reached the LLM"
    );

    // B's lists and searches show nothing of A's.
    for path in [
        "/api/documents",
        "/api/jobs",
        "/api/jobs/dead",
        "/api/conversations",
    ] {
        let r = host.get(path, Some(&b));
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.json["data"], json!([]), "{path}: {}", r.text);
    }
    let keys = host.get("/api/keys", Some(&b));
    assert!(
        keys.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["tenant"] == "globex"),
        "{}",
        keys.text
    );
    let search = host.json(
        "POST",
        "/api/search",
        &b,
        &json!({"query": "Initech merger"}),
    );
    assert_eq!(search.json["data"], json!([]), "{}", search.text);
    let context = host.json(
        "POST",
        "/api/chat/prepare-context",
        &b,
        &json!({"query": "Initech merger"}),
    );
    assert_eq!(context.json["sources"], json!([]), "{}", context.text);
    let usage = host.get("/api/usage", Some(&b));
    assert_eq!(usage.json["requests"], 0, "{}", usage.text);

    // Full-text scores are B's own: A storing B's rare words moves nothing.
    for (title, content) in [
        (
            "Ornithopter",
            "# Ornithopter\n\nThe zyzzyva ornithopter flaps its wings.",
        ),
        (
            "Glider",
            "# Glider\n\nA glider soars on thermals with long wings.",
        ),
    ] {
        let r = host.json(
            "POST",
            "/api/documents",
            &b,
            &json!({"title": title, "content": content}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let scores = || {
        let r = host.json(
            "POST",
            "/api/search/fulltext",
            &b,
            &json!({"query": "zyzzyva ornithopter wings"}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["chunk_id"].clone(), h["score"].clone()))
            .collect::<Vec<_>>()
    };
    let before = scores();
    assert_eq!(before.len(), 2, "{before:?}");
    for i in 0..5 {
        let r = host.json(
            "POST",
            "/api/documents",
            &a,
            &json!({"title": format!("A{i}"), "content": format!("Zyzzyva ornithopter wings, model {i}.")}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }
    assert_eq!(scores(), before, "B's scores moved when A stored B's words");

    // A's data is untouched: same version, the conversation and result kept.
    let mine = host.get(&format!("/api/documents/{}", ids.document), Some(&a));
    assert_eq!(
        (mine.json["version"].as_i64(), mine.json["title"].as_str()),
        (Some(1), Some("Merger plan"))
    );
    let conv = host.get(
        &format!("/api/conversations/{}", ids.conversation),
        Some(&a),
    );
    assert_eq!(conv.status, 200, "{}", conv.text);
    let again = host.json(
        "POST",
        &format!("/api/documents/{}/tools/sentiment", ids.document),
        &a,
        &json!({}),
    );
    assert_eq!(again.json["cached"], true, "{}", again.text);
    assert_eq!(
        host.get(&format!("/api/jobs/{}", ids.job), Some(&a)).status,
        200
    );
    // A's user is still a viewer, and B's list of users is empty.
    let users = host.get("/api/users", Some(&a));
    assert_eq!(users.json["data"][0]["role"], "viewer", "{}", users.text);
    assert_eq!(host.get("/api/users", Some(&b)).json["data"], json!([]));
}
