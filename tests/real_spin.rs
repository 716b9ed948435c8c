//! The same `spin.toml` and `.wasm` files on real Spin and on lode-host.
//!
//! Installs the Spin CLI from `../shared/spin` (a checked binary, unpacked
//! into `target/spin-cli/`), runs the repository's own manifest with
//! `spin up` (real `redis-server`, variables from the environment, its own
//! state directory), drives one scenario through it — health, keys, JSON
//! ingest, a queued multipart upload completed by the Redis-triggered worker,
//! search finding the uploaded text, chat and `/v1/chat/completions` against
//! the scripted OpenAI-protocol server, an LLM tool, `/metrics` — then drives
//! the same scenario through lode-host and compares status codes and response
//! shapes step by step. Any difference is a bug in lode-host.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lode_tests::llm_server::{ScriptedLlm, openai_answer};
use lode_tests::{BOUNDARY, Host, Redis, Reply, multipart, pdf, repo, temp_dir, wait_for};
use serde_json::{Map, Value, json};

const ADMIN: &str = "parity-admin-key-0123456789";
const JWT_SECRET: &str = "parity-jwt-secret-0123456789-0123456789";

/// The Spin CLI from `../shared/spin`, unpacked by its `install.sh`; `None`
/// when this checkout has no `../shared/spin` beside it.
fn spin_cli() -> Option<PathBuf> {
    let install = repo().join("../shared/spin/install.sh");
    if !install.exists() {
        return None;
    }
    let out = Command::new("bash")
        .arg(&install)
        .arg(repo().join("target/spin-cli"))
        .output()
        .expect("run ../shared/spin/install.sh");
    assert!(
        out.status.success(),
        "install.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8(out.stdout).unwrap();
    let path = PathBuf::from(path.lines().last().unwrap().trim());
    let version = Command::new(&path).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    assert!(version.starts_with("spin 4.1"), "{version}");
    Some(path)
}

/// One step of the scenario: what was asked, the status, and the shape of
/// the answer (types and keys, not values).
#[derive(Debug, PartialEq)]
struct Step {
    name: &'static str,
    status: u16,
    content_type: String,
    shape: Value,
}

/// The JSON answer's skeleton: objects keep their keys, arrays the shape of
/// their first element, scalars become their type's name.
fn shape(v: &Value) -> Value {
    match v {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(n) if n.is_f64() => json!("number"),
        Value::Number(_) => json!("integer"),
        Value::String(_) => json!("string"),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

struct Run {
    steps: Vec<Step>,
}

impl Run {
    /// Record `reply` as step `name`, checking its status.
    fn record(&mut self, name: &'static str, want: u16, reply: Reply) -> Reply {
        assert_eq!(reply.status, want, "{name}: {}", reply.text);
        let content_type = reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let shape = if reply.json.is_null() {
            // Text answers (Prometheus): the metric families, not the values.
            let mut families: Vec<&str> = reply
                .text
                .lines()
                .filter_map(|l| l.strip_prefix("# TYPE "))
                .collect();
            families.sort();
            json!(families)
        } else {
            shape(&reply.json)
        };
        self.steps.push(Step {
            name,
            status: reply.status,
            content_type,
            shape,
        });
        reply
    }
}

const NOTES: &str = "# Ornithopters\n\nAn ornithopter flies by flapping its wings, as birds and insects do. \
Leonardo da Vinci sketched one around 1490.";

/// Drive the scenario through `host`; the steps, in order.
fn scenario(host: &Host, llm: &ScriptedLlm) -> Vec<Step> {
    let mut run = Run { steps: Vec::new() };
    run.record("health", 200, host.get("/health", None));
    run.record("no key", 401, host.get("/api/documents", None));
    run.record("unknown route", 404, host.get("/no/such/route", None));
    // The web app, from the `ui` component's `files` mount.
    let page = run.record("web app page", 200, host.get("/app/documents", None));
    assert!(page.text.contains(r#"<div id="app">"#), "{}", page.text);
    let csp = page.headers.get("content-security-policy").unwrap();
    assert!(
        csp.to_str().unwrap().contains("script-src 'self'"),
        "{csp:?}"
    );
    let script = page
        .text
        .split('"')
        .find(|p| p.starts_with("/assets/") && p.ends_with(".js"))
        .unwrap()
        .to_string();
    run.record("web app script", 200, host.get(&script, None));
    run.record(
        "web app: no such file",
        404,
        host.get("/assets/none.js", None),
    );
    run.record("who am I", 200, host.get("/api/auth/me", Some(ADMIN)));

    let key = run.record(
        "create key",
        201,
        host.json(
            "POST",
            "/api/keys",
            ADMIN,
            &json!({"tenant": "acme", "name": "parity", "role": "editor"}),
        ),
    );
    let key = key.json["key"].as_str().unwrap().to_string();
    run.record("list keys", 200, host.get("/api/keys", Some(ADMIN)));

    let doc = run.record(
        "JSON ingest",
        201,
        host.json(
            "POST",
            "/api/documents",
            &key,
            &json!({"title": "Wings", "content": "# Lift\n\nA wing deflects air downwards; the reaction pushes it up.",
                    "content_type": "text/markdown", "metadata": {"team": "red"}}),
        ),
    );
    let doc_id = doc.json["id"].as_str().unwrap().to_string();
    run.record(
        "read document",
        200,
        host.get(&format!("/api/documents/{doc_id}"), Some(&key)),
    );

    // Queued: a Markdown file and a PDF, completed by the Redis-triggered worker.
    let paper = pdf(
        "Gliders",
        "Otto Lilienthal",
        &["Gliders\nA glider has no engine and rides rising air."],
    );
    let body = multipart(
        &[
            ("notes.md", "text/markdown", NOTES.as_bytes()),
            ("gliders.pdf", "application/pdf", &paper),
        ],
        &[("metadata", "{\"project\":\"parity\"}")],
    );
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let upload = run.record(
        "queued upload",
        202,
        host.call(
            "POST",
            "/api/documents/upload",
            Some(&key),
            Some((&content_type, body)),
        ),
    );
    let batch = upload.json["batch_id"].as_str().unwrap().to_string();
    let job = upload.json["jobs"][0]["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = wait_for(
        "the worker to finish the batch",
        Duration::from_secs(300),
        || {
            let b = host.get(&format!("/api/jobs/batches/{batch}"), Some(&key));
            (b.json["done"] == true).then_some(b)
        },
    );
    assert_eq!(done.json["counts"]["completed"], 2, "{}", done.text);
    run.record("batch done", 200, done);
    let job = run.record(
        "job",
        200,
        host.get(&format!("/api/jobs/{job}"), Some(&key)),
    );
    assert_eq!(job.json["status"], "completed", "{}", job.text);

    let hits = run.record(
        "search",
        200,
        host.json(
            "POST",
            "/api/search",
            &key,
            &json!({"query": "a flying machine that flaps its wings", "k": 3}),
        ),
    );
    assert!(
        hits.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["title"] == "Ornithopters"),
        "the uploaded notes are found: {}",
        hits.text
    );
    let hits = run.record(
        "full-text search",
        200,
        host.json(
            "POST",
            "/api/search/fulltext",
            &key,
            &json!({"query": "glider engine"}),
        ),
    );
    assert_eq!(hits.json["data"][0]["title"], "Gliders", "{}", hits.text);

    llm.push(openai_answer(
        "An ornithopter flaps its wings [1].",
        100,
        10,
    ));
    let chat = run.record(
        "chat",
        200,
        host.json(
            "POST",
            "/api/chat",
            &key,
            &json!({"message": "How does an ornithopter fly?"}),
        ),
    );
    assert_eq!(
        chat.json["citations"][0]["title"], "Ornithopters",
        "{}",
        chat.text
    );

    llm.push(openai_answer("Hello from the model.", 12, 4));
    let completion = run.record(
        "v1 chat completions",
        200,
        host.json(
            "POST",
            "/v1/chat/completions",
            &key,
            &json!({"model": "small", "messages": [{"role": "user", "content": "Say hello."}]}),
        ),
    );
    assert_eq!(
        completion.json["choices"][0]["message"]["content"],
        "Hello from the model."
    );
    run.record("v1 models", 200, host.get("/v1/models", Some(&key)));

    llm.push(openai_answer(
        "{\"summary\": \"Ornithopters fly by flapping.\"}",
        50,
        8,
    ));
    let tool = run.record(
        "LLM tool",
        200,
        host.json(
            "POST",
            "/api/tools/summarize",
            &key,
            &json!({"text": NOTES}),
        ),
    );
    assert_eq!(
        tool.json["result"]["summary"],
        "Ornithopters fly by flapping."
    );

    run.record("metrics", 200, host.get("/metrics", Some(ADMIN)));
    run.record(
        "tenant admin may not read metrics",
        403,
        host.get("/metrics", Some(&key)),
    );
    run.steps
}

/// The environment both runtimes get: the same variables, their own Redis.
fn env(redis: &Redis, llm: &ScriptedLlm) -> Vec<(String, String)> {
    let registry = json!({
        "providers": [{"name": "local", "protocol": "openai", "base_url": llm.origin}],
        "models": [{"name": "small", "provider": "local", "context_length": 8192,
                    "cost_per_1k_input": 1.0, "cost_per_1k_output": 2.0,
                    "capabilities": ["chat", "stream", "tools", "json"]}]
    })
    .to_string();
    [
        ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN.to_string()),
        ("SPIN_VARIABLE_JWT_SECRET", JWT_SECRET.to_string()),
        ("SPIN_VARIABLE_REDIS_URL", redis.url()),
        ("SPIN_VARIABLE_LLM_REGISTRY", registry),
        ("SPIN_VARIABLE_LLM_ORIGIN_C", llm.origin.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn run_on(start: impl FnOnce(&[(&str, &str)]) -> Host) -> (Vec<Step>, Vec<String>) {
    let redis = Redis::start();
    let llm = ScriptedLlm::start();
    let env = env(&redis, &llm);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let host = start(&env);
    let steps = scenario(&host, &llm);
    assert_eq!(llm.pending(), 0, "every scripted answer was asked for");
    let log = host.lines();
    drop(host);
    (steps, log)
}

#[test]
fn the_same_manifest_runs_on_real_spin_and_on_lode_host_alike() {
    let Some(spin) = spin_cli() else {
        eprintln!(
            "SKIPPED: ../shared/spin is absent, so real Spin cannot be installed; \
             the lode-host half of this test does not run alone"
        );
        return;
    };
    let (on_spin, spin_log) =
        run_on(|env| Host::start_spin(&spin, "spin.toml", env, temp_dir("spin-state")));
    // Spin's state directory holds what it says it does.
    assert!(
        spin_log
            .iter()
            .any(|l| l.contains("Storing default SQLite data to")),
        "{}",
        spin_log.join("\n")
    );
    let (on_host, _) = run_on(|env| Host::start_in("spin.toml", env, temp_dir("host-state")));
    assert_eq!(on_spin.len(), on_host.len());
    for (s, h) in on_spin.iter().zip(&on_host) {
        assert_eq!(s, h, "step {:?} differs between Spin and lode-host", s.name);
    }
}

/// `up` of `manifest` on `runtime` (Spin or lode-host), which must not
/// start: its combined output once it has exited, or a panic if it serves.
fn refusal(runtime: &Path, manifest: &Path, what: &str) -> String {
    let mut child = Command::new(runtime)
        .args(["up", "--from"])
        .arg(manifest)
        .args(["--listen", "127.0.0.1:0", "--state-dir"])
        .arg(temp_dir("refused-state"))
        .env("XDG_CACHE_HOME", repo().join("target/spin-cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let status = wait_for(
        &format!("{what} to give up"),
        Duration::from_secs(120),
        || child.try_wait().unwrap(),
    );
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!status.success(), "{what} accepted the manifest:\n{text}");
    text
}

/// A component importing `imports`, each an instance with one function.
fn importer(imports: &[&str]) -> Vec<u8> {
    let imports: String = imports
        .iter()
        .map(|i| format!("(import \"{i}\" (instance (export \"run\" (func))))\n"))
        .collect();
    wat::parse_str(format!("(component\n{imports})")).unwrap()
}

/// A component exporting `export`, an instance with one function.
fn provider(export: &str) -> Vec<u8> {
    wat::parse_str(format!(
        "(component\n(core module $m (func (export \"run\")))\n(core instance $i (instantiate $m))\n\
         (func $run (canon lift (core func $i \"run\")))\n\
         (instance $x (export \"run\" (func $run)))\n(export \"{export}\" (instance $x)))"
    ))
    .unwrap()
}

/// Manifests that real Spin refuses — among them what it refused in Lode's
/// own `spin.toml` before issue 15 — are refused by lode-host too, for the
/// same reason, in the same words.
#[test]
fn spin_and_lode_host_refuse_the_same_manifests() {
    let Some(spin) = spin_cli() else {
        eprintln!(
            "SKIPPED: ../shared/spin is absent; lode-host's refusals are unit-tested in crates/host"
        );
        return;
    };
    let dir = temp_dir("refusals");
    std::fs::write(
        dir.join("main.wasm"),
        importer(&["lode:pipeline/extract@0.1.0", "lode:pipeline/chunk@0.1.0"]),
    )
    .unwrap();
    std::fs::write(
        dir.join("extract.wasm"),
        provider("lode:pipeline/extract@0.1.0"),
    )
    .unwrap();
    std::fs::write(
        dir.join("chunk.wasm"),
        provider("lode:pipeline/chunk@0.1.0"),
    )
    .unwrap();
    let base = r#"spin_manifest_version = 2
[application]
name = "refused"
[variables]
greeting = { default = "hi" }
[[trigger.http]]
route = "/..."
component = "main"
[component.main]
source = "main.wasm"
[component.main.dependencies]
"lode:pipeline/extract" = { component = "extract" }
[component.extract]
source = "extract.wasm"
[component.chunk]
source = "chunk.wasm"
"#;
    let cases: &[(&str, String, &str)] = &[
        (
            "a variable word starting with a digit",
            base.replace("greeting =", "llm_key_1 ="),
            "'_'-separated words must start with an ASCII letter; got '1'",
        ),
        (
            "a snake_case component id",
            base.replace("[component.chunk]", "[component.chunk_step]"),
            "words must be separated with '-', not '_'",
        ),
        (
            "a variable both required and with a default",
            base.replace("{ default = \"hi\" }", "{ default = \"hi\", required = true }"),
            "must be `required` OR have a `default`",
        ),
        (
            "an unknown field",
            base.replace("source = \"chunk.wasm\"", "sorce = \"chunk.wasm\""),
            "unknown field `sorce`",
        ),
        (
            "a misspelt capability",
            base.replace("source = \"main.wasm\"", "source = \"main.wasm\"\nkey-value-stores = [\"default\"]"),
            "unknown field `key-value-stores`",
        ),
        (
            "two dependencies of one package from two components",
            base.replace(
                "\"lode:pipeline/extract\" = { component = \"extract\" }",
                "\"lode:pipeline/extract\" = { component = \"extract\" }\n\"lode:pipeline/chunk\" = { component = \"chunk\" }",
            ),
            "has already been registered in the graph",
        ),
        (
            "a dependency with resources of its own",
            base.replace("source = \"extract.wasm\"", "source = \"extract.wasm\"\nkey_value_stores = [\"default\"]"),
            "cannot be used as a dependency of main because it specifies: key_value_stores",
        ),
        (
            "both inherit switches",
            base.replace(
                "{ component = \"extract\" }",
                "{ component = \"extract\", inherit_configuration = true }",
            )
            .replace("source = \"main.wasm\"", "source = \"main.wasm\"\ndependencies_inherit_configuration = true"),
            "mutually exclusive",
        ),
    ];
    for (what, manifest, reason) in cases {
        let path = dir.join("spin.toml");
        std::fs::write(&path, manifest).unwrap();
        for (runtime, name) in [
            (spin.clone(), "Spin"),
            (lode_tests::host_binary(), "lode-host"),
        ] {
            let said = refusal(&runtime, &path, name);
            assert!(said.contains(reason), "{what}: {name} said\n{said}");
        }
    }
}

/// Real Spin reuses a WASIp3 component's instance for up to 128 requests,
/// 16 at a time (`DEFAULT_WASIP3_MAX_INSTANCE_REUSE_COUNT` and
/// `…_CONCURRENT_REUSE_COUNT` in Spin's `crates/trigger-http/src/lib.rs`),
/// so one instance interleaves requests at every host call. Each response
/// must still carry its own request id and CORS grant, never a neighbour's.
#[test]
fn concurrent_requests_in_one_spin_instance_keep_their_own_context() {
    let Some(spin) = spin_cli() else {
        eprintln!("SKIPPED: ../shared/spin is absent, so real Spin cannot be installed");
        return;
    };
    let redis = Redis::start();
    let url = redis.url();
    let env = [
        ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN),
        ("SPIN_VARIABLE_JWT_SECRET", JWT_SECRET),
        ("SPIN_VARIABLE_REDIS_URL", url.as_str()),
        ("SPIN_VARIABLE_CORS_ALLOWED_ORIGINS", "*"),
    ];
    let host = Host::start_spin(&spin, "spin.toml", &env, temp_dir("spin-reuse"));
    let mismatches = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..16 {
            let (host, mismatches) = (&host, &mismatches);
            s.spawn(move || {
                for n in 0..8 {
                    let id = format!("req-{t}-{n}");
                    let origin = format!("http://o{t}-{n}.example");
                    let r = host.request(
                        "GET",
                        "/api/documents",
                        Some(ADMIN),
                        &[("x-request-id", &id), ("origin", &origin)],
                        Vec::new(),
                    );
                    assert_eq!(r.status, 200, "{}", r.text);
                    let got_id = r.headers["x-request-id"].to_str().unwrap().to_string();
                    let got_origin = r.headers["access-control-allow-origin"]
                        .to_str()
                        .unwrap()
                        .to_string();
                    if got_id != id || got_origin != origin {
                        mismatches.lock().unwrap().push(format!(
                            "sent {id} from {origin}, answered as {got_id} for {got_origin}"
                        ));
                    }
                }
            });
        }
    });
    let mismatches = mismatches.into_inner().unwrap();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
