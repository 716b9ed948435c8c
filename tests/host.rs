//! lode-host's faithfulness to Spin: capabilities, routing and headers,
//! variables, composition, the Redis trigger and outbound Redis, start-up
//! errors and clean shutdown. Uses the probe components in `tests/components`.

use std::process::Command;
use std::time::Duration;

use lode_tests::{Host, Redis, host_binary, repo, temp_dir, wait_for};
use serde_json::Value;

const TOKEN: &str = "probe-secret-token-42";

fn start(redis: Option<&Redis>, extra: &[(&str, &str)]) -> Host {
    let address = redis
        .map(Redis::url)
        .unwrap_or_else(|| "redis://127.0.0.1:1".into());
    let mut env = vec![
        ("SPIN_VARIABLE_SECRET_TOKEN", TOKEN),
        ("SPIN_VARIABLE_REDIS_ADDRESS", address.as_str()),
    ];
    env.extend_from_slice(extra);
    Host::start("tests/spin.toml", &env)
}

fn probe(host: &Host, path: &str) -> Value {
    let r = host.get(path, None);
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.json
}

#[test]
fn undeclared_stores_are_refused() {
    let host = start(None, &[]);
    assert_eq!(probe(&host, "/probe/sqlite/default")["ok"]["Ok"], 1);
    assert_eq!(
        probe(&host, "/probe/sqlite/other")["error"],
        "Error::AccessDenied"
    );
    assert_eq!(probe(&host, "/probe/kv/default")["ok"], true);
    assert_eq!(
        probe(&host, "/probe/kv/other")["error"],
        "Error::AccessDenied"
    );
}

#[test]
fn outbound_http_is_allow_listed() {
    let host = start(None, &[]);
    let port = host.base.rsplit(':').next().unwrap().to_string();
    // Declared: http://127.0.0.1:* — a real request back into the host.
    let allowed = probe(
        &host,
        &format!("/probe/outbound?url=http://127.0.0.1:{port}/probe/headers"),
    );
    assert_eq!(allowed["ok"], 200, "{allowed}");
    // Not declared: the same server under another name.
    let denied = probe(
        &host,
        &format!("/probe/outbound?url=http://localhost:{port}/probe/headers"),
    );
    assert!(
        denied["error"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{denied}"
    );
    let (_, output) = host.terminate();
    assert!(
        output
            .iter()
            .any(|l| l.contains("disallowed destination 'http://localhost:")),
        "the refusal is explained in the log"
    );
}

#[test]
fn variables_resolve_from_defaults_and_environment() {
    let host = start(None, &[("SPIN_VARIABLE_GREETING", "bonjour")]);
    assert_eq!(probe(&host, "/probe/variable/greeting")["ok"], "bonjour");
    assert_eq!(probe(&host, "/probe/variable/token")["ok"], TOKEN);
    assert!(
        probe(&host, "/probe/variable/undeclared")["error"]
            .as_str()
            .unwrap()
            .starts_with("Error::Undefined")
    );
    assert!(
        probe(&host, "/probe/variable/Bad-Name")["error"]
            .as_str()
            .unwrap()
            .starts_with("Error::InvalidName")
    );
    let (_, output) = host.terminate();
    assert!(
        output.iter().any(|l| l.contains("/probe/variable/token")),
        "requests were logged"
    );
    assert!(
        !output.iter().any(|l| l.contains(TOKEN)),
        "secret values are never logged"
    );
    let host = start(None, &[]);
    assert_eq!(
        probe(&host, "/probe/variable/greeting")["ok"],
        "hello",
        "manifest default"
    );
}

#[test]
fn routing_and_spin_headers() {
    let host = start(None, &[]);
    let h = &probe(&host, "/probe/headers?x=1")["ok"];
    assert_eq!(h["spin-path-info"], "/headers");
    assert_eq!(h["spin-matched-route"], "/probe/...");
    assert_eq!(h["spin-raw-component-route"], "/probe/...");
    assert_eq!(h["spin-component-route"], "/probe");
    assert_eq!(h["spin-base-path"], "/");
    assert!(
        h["spin-full-url"]
            .as_str()
            .unwrap()
            .ends_with("/probe/headers?x=1")
    );
    assert!(
        h["spin-client-addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    // The exact route wins over the wildcard.
    let exact = &probe(&host, "/probe/exact")["ok"];
    assert_eq!(
        (
            exact["spin-matched-route"].as_str(),
            exact["spin-path-info"].as_str()
        ),
        (Some("/probe/exact"), Some(""))
    );
    // No route: Spin's empty 404. Spin's own health endpoint answers before routing.
    let none = host.get("/nowhere", None);
    assert_eq!((none.status, none.text.as_str()), (404, ""));
    let health = host.get("/.well-known/spin/health", None);
    assert_eq!((health.status, health.text.as_str()), (200, "OK"));
}

#[test]
fn dependencies_are_composed_and_get_only_what_they_inherit() {
    let host = start(None, &[]);
    assert_eq!(
        probe(&host, "/probe/greet/ann")["ok"],
        "hello, ann, from the greeter component"
    );
    // The probe sees its `environment`; the greeter, which inherits nothing,
    // is composed with Spin's deny adapter and sees none of it, as on Spin.
    assert_eq!(
        probe(&host, "/probe/env/LODE_PROBE_ENV")["ok"],
        "from-probe"
    );
    assert_eq!(
        probe(&host, "/probe/greet-env/LODE_PROBE_ENV")["ok"],
        Value::Null
    );
    drop(host);

    // Inheriting the `environment` set lets exactly that through.
    let manifest = std::fs::read_to_string(repo().join("tests/spin.toml"))
        .unwrap()
        .replace("\"../target/", &format!("\"{}/target/", repo().display()))
        .replace(
            "\"lode:test/greet\" = { component = \"greeter\" }",
            "\"lode:test/greet\" = { component = \"greeter\", inherit_configuration = [\"environment\"] }",
        );
    assert!(manifest.contains("inherit_configuration"));
    let dir = temp_dir("inherit");
    std::fs::write(dir.join("spin.toml"), manifest).unwrap();
    let host = Host::start(
        dir.join("spin.toml").to_str().unwrap(),
        &[
            ("SPIN_VARIABLE_SECRET_TOKEN", TOKEN),
            ("SPIN_VARIABLE_REDIS_ADDRESS", "redis://127.0.0.1:1"),
        ],
    );
    assert_eq!(
        probe(&host, "/probe/greet-env/LODE_PROBE_ENV")["ok"],
        "from-probe"
    );
}

#[test]
fn redis_trigger_and_outbound_redis() {
    let redis = Redis::start();
    let host = start(Some(&redis), &[]);
    wait_for("the host to subscribe", Duration::from_secs(30), || {
        (redis.subscribers("lode-test") >= 1).then_some(())
    });

    let delivered = |msg: &str| {
        wait_for(
            &format!("message {msg:?} to be handled"),
            Duration::from_secs(30),
            || {
                let v = probe(&host, &format!("/probe/kv-read/redis:{msg}"));
                (v["ok"] == msg).then_some(())
            },
        )
    };
    redis.publish("lode-test", "first");
    delivered("first");

    // A failing handler is logged; the trigger keeps serving.
    redis.publish("lode-test", "fail");
    wait_for("the failure to be logged", Duration::from_secs(30), || {
        host.lines()
            .into_iter()
            .find(|l| l.contains("\"trigger\":\"redis\"") && l.contains("\"status\":\"error\""))
    });
    redis.publish("lode-test", "second");
    delivered("second");

    // Outbound Redis from a component, within its allow-list, reaches the trigger.
    let via = probe(
        &host,
        &format!(
            "/probe/redis?address=redis://127.0.0.1:{}&channel=lode-test&message=via-probe",
            redis.port
        ),
    );
    assert_eq!(via["ok"], true, "{via}");
    delivered("via-probe");
    let denied = probe(
        &host,
        &format!(
            "/probe/redis?address=redis://localhost:{}&channel=lode-test&message=x",
            redis.port
        ),
    );
    assert_eq!(denied["error"], "Error::InvalidAddress");
}

#[test]
fn missing_required_variable_fails_startup() {
    let out = Command::new(host_binary())
        .args(["up", "--from"])
        .arg(repo().join("tests/spin.toml"))
        .args(["--listen", "127.0.0.1:0", "--state-dir"])
        .arg(temp_dir("novar"))
        .env_remove("SPIN_VARIABLE_SECRET_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secret_token") && stderr.contains("SPIN_VARIABLE_SECRET_TOKEN"),
        "{stderr}"
    );
}

#[test]
fn shuts_down_cleanly_on_sigterm() {
    let host = start(None, &[]);
    assert_eq!(host.get("/probe/headers", None).status, 200);
    let (status, output) = host.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(
        output.iter().any(|l| l.contains("Shut down cleanly")),
        "{output:?}"
    );
}

/// A guest that computes without pause neither holds the host nor runs
/// forever: guests yield every epoch tick, so other requests are served
/// while more spinning guests run than the host has threads, and each
/// spinner is trapped at `LODE_REQUEST_TIMEOUT_SECS` and answered 503.
#[test]
fn spinning_guests_yield_and_stop_at_the_deadline() {
    let host = start(None, &[("LODE_REQUEST_TIMEOUT_SECS", "20")]);
    let spinners = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
    std::thread::scope(|s| {
        let running: Vec<_> = (0..spinners)
            .map(|i| {
                let host = &host;
                s.spawn(move || host.get(&format!("/probe/spin/{i}"), None))
            })
            .collect();
        // Each spinner says it started before it spins; reading that is
        // itself served while they spin.
        for i in 0..spinners {
            wait_for("a spinner to start", Duration::from_secs(60), || {
                let seen = probe(&host, &format!("/probe/kv-read/spinning-{i}"));
                (seen["ok"] == "yes").then_some(())
            });
        }
        for _ in 0..3 {
            assert_eq!(
                probe(&host, "/probe/env/LODE_PROBE_ENV")["ok"],
                "from-probe"
            );
        }
        assert!(
            running.iter().all(|t| !t.is_finished()),
            "the spinners were still running while others were served"
        );
        for t in running {
            let r = t.join().unwrap();
            assert_eq!(r.status, 503, "{}", r.text);
            assert_eq!(r.json["error"]["code"], "timeout", "{}", r.text);
        }
    });
    wait_for("the log line", Duration::from_secs(10), || {
        let out = host.output.lock().unwrap();
        out.iter()
            .any(|l| l.contains("request stopped after 20 s (LODE_REQUEST_TIMEOUT_SECS)"))
            .then_some(())
    });
}

/// A Redis handler that computes without pause is stopped at
/// `LODE_JOB_TIMEOUT_SECS` and logged; with a single handler slot, the
/// messages behind it are handled once it is stopped, not never.
#[test]
fn a_spinning_redis_handler_is_stopped_at_the_job_deadline() {
    let redis = Redis::start();
    let host = start(
        Some(&redis),
        &[
            ("LODE_JOB_TIMEOUT_SECS", "3"),
            ("LODE_REDIS_CONCURRENCY", "1"),
        ],
    );
    wait_for("the subscription", Duration::from_secs(60), || {
        (redis.subscribers("lode-test") >= 1).then_some(())
    });
    let seen = |msg: &str| probe(&host, &format!("/probe/kv-read/redis:{msg}"))["ok"] == msg;
    redis.publish("lode-test", "spin");
    wait_for("the spinner to start", Duration::from_secs(60), || {
        seen("spin").then_some(())
    });
    redis.publish("lode-test", "after");
    wait_for(
        "the message behind the spinner",
        Duration::from_secs(60),
        || seen("after").then_some(()),
    );
    wait_for("the log line", Duration::from_secs(10), || {
        let out = host.output.lock().unwrap();
        out.iter()
            .any(|l| l.contains("stopped after 3 s (LODE_JOB_TIMEOUT_SECS)"))
            .then_some(())
    });
}
