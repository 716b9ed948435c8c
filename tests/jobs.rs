//! Queued ingestion end to end: a multipart upload is stored as jobs, a real
//! `redis-server` wakes the Redis-triggered worker component, which runs the
//! same composed pipeline steps as the synchronous path.

use std::time::Duration;

use lode_tests::{Host, Redis, wait_for};
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-key-0123456789";
const B: &str = "lode-test-boundary-7d1e";

/// A multipart/form-data body: files as (name, content type, bytes), then fields.
fn form(files: &[(&str, &str, &[u8])], fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, ct, bytes) in files {
        out.extend(
            format!("--{B}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n")
                .bytes(),
        );
        out.extend(*bytes);
        out.extend(b"\r\n");
    }
    for (name, value) in fields {
        out.extend(
            format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .bytes(),
        );
    }
    out.extend(format!("--{B}--\r\n").bytes());
    out
}

fn upload(host: &Host, body: Vec<u8>) -> lode_tests::Reply {
    let ct = format!("multipart/form-data; boundary={B}");
    host.request(
        "POST",
        "/api/documents/upload",
        Some(ADMIN),
        &[("content-type", &ct)],
        body,
    )
}

fn job(host: &Host, id: &str) -> Value {
    let r = host.get(&format!("/api/jobs/{id}"), Some(ADMIN));
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

fn final_state(host: &Host, id: &str) -> Value {
    wait_for(
        &format!("job {id} to finish"),
        Duration::from_secs(300),
        || {
            let j = job(host, id);
            matches!(j["status"].as_str(), Some("completed" | "failed" | "dead")).then_some(j)
        },
    )
}

#[test]
fn a_multipart_batch_is_queued_processed_by_the_worker_and_searchable() {
    let redis = Redis::start();
    let host = Host::start(
        "spin.toml",
        &[
            ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN),
            ("SPIN_VARIABLE_REDIS_URL", &redis.url()),
        ],
    );
    let body = form(
        &[
            ("wings.md", "text/markdown", b"# Lift\n\nA wing deflects air downwards and is pushed up: lift."),
            ("bread.txt", "text/plain", b"Sourdough rises because wild yeast ferments the dough."),
            ("stars.html", "text/html", b"<html><head><title>Stars</title></head><body><p>A neutron star is the collapsed core of a massive star.</p></body></html>"),
            ("broken.pdf", "application/pdf", b"%PDF-1.7 this is not really a PDF at all"),
        ],
        &[("metadata", r#"{"project":"demo"}"#), ("priority", "high")],
    );
    let r = upload(&host, body);
    assert_eq!(r.status, 202, "{}", r.text);
    let batch = r.json["batch_id"].as_str().unwrap().to_string();
    let jobs: Vec<(String, String)> = r.json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["filename"].as_str().unwrap().to_string(),
                j["job_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(jobs.len(), 4);

    let mut documents = std::collections::HashMap::new();
    for (filename, id) in &jobs {
        let j = final_state(&host, id);
        documents.insert(filename.clone(), j["document_id"].clone());
        if filename == "broken.pdf" {
            assert_eq!(j["status"], "failed", "{j}");
            assert!(
                j["error"].as_str().unwrap().len() > 10,
                "a readable reason: {j}"
            );
            assert_eq!(j["attempts"], 1, "a corrupt file is not retried: {j}");
        } else {
            assert_eq!(j["status"], "completed", "{filename}: {j}");
            assert_eq!(j["progress"], 100);
            assert_eq!(j["priority"], "high");
            let doc = host.get(
                &format!("/api/documents/{}", j["document_id"].as_str().unwrap()),
                Some(ADMIN),
            );
            assert_eq!(doc.json["metadata"]["project"], "demo", "{}", doc.text);
            assert_eq!(doc.json["metadata"]["filename"], filename.as_str());
        }
    }
    let b = host.get(&format!("/api/jobs/batches/{batch}"), Some(ADMIN));
    assert_eq!(
        (b.json["total"].as_u64(), b.json["done"].as_bool()),
        (Some(4), Some(true)),
        "{}",
        b.text
    );
    assert_eq!(b.json["counts"], json!({"completed": 3, "failed": 1}));

    let hit = host.json(
        "POST",
        "/api/search",
        ADMIN,
        &json!({"query": "why does bread rise", "k": 1}),
    );
    assert_eq!(
        hit.json["data"][0]["document_id"], documents["bread.txt"],
        "{}",
        hit.text
    );

    // The progress stream: ordered events, ending in the final state.
    let wings = &jobs[0].1;
    let sse = host.get(&format!("/api/jobs/{wings}/events"), Some(ADMIN));
    assert_eq!(sse.status, 200);
    assert!(
        sse.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let ids: Vec<i64> = sse
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1) && ids.len() >= 4,
        "{}",
        sse.text
    );
    let last_event = sse
        .text
        .lines()
        .rfind(|l| l.starts_with("event: "))
        .unwrap();
    assert_eq!(last_event, "event: end", "{}", sse.text);
    let last_data = sse.text.lines().rfind(|l| l.starts_with("data: ")).unwrap();
    assert!(
        last_data.contains("\"status\":\"completed\""),
        "{last_data}"
    );
    let resumed = host.request(
        "GET",
        &format!("/api/jobs/{wings}/events"),
        Some(ADMIN),
        &[("last-event-id", &ids[ids.len() - 2].to_string())],
        vec![],
    );
    assert_eq!(
        resumed
            .text
            .lines()
            .filter(|l| l.starts_with("id: "))
            .count(),
        1,
        "{}",
        resumed.text
    );

    // A failed job can be retried; it fails again for the same reason.
    let broken = &jobs[3].1;
    let r = host.json(
        "POST",
        &format!("/api/jobs/{broken}/retry"),
        ADMIN,
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(final_state(&host, broken)["status"], "failed");
    let listed = host.get("/api/jobs?status=failed", Some(ADMIN));
    assert_eq!(
        listed.json["data"].as_array().unwrap().len(),
        1,
        "{}",
        listed.text
    );
}

#[test]
fn bad_uploads_are_refused_before_anything_is_queued() {
    let host = Host::start("spin.toml", &[("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)]);
    let image = form(&[("cat.png", "image/png", b"\x89PNG\r\n")], &[]);
    assert_eq!(upload(&host, image).status, 415);
    let no_files = form(&[], &[("priority", "high")]);
    assert_eq!(upload(&host, no_files).status, 422);
    let bad_priority = form(&[("a.txt", "text/plain", b"x")], &[("priority", "asap")]);
    assert_eq!(upload(&host, bad_priority).status, 422);
    let bad_metadata = form(&[("a.txt", "text/plain", b"x")], &[("metadata", "[1,2]")]);
    assert_eq!(upload(&host, bad_metadata).status, 422);
    let garbage = upload(&host, b"--nope\r\nnot a form".to_vec());
    assert_eq!(garbage.status, 400, "{}", garbage.text);
    let listed = host.get("/api/jobs", Some(ADMIN));
    assert_eq!(
        listed.json["data"],
        json!([]),
        "{}\n{}",
        listed.text,
        host.log()
    );
    assert_eq!(host.get("/api/jobs/job_nope", Some(ADMIN)).status, 404);
    assert_eq!(host.get("/api/jobs", None).status, 401);
}

/// Redis down while the batch is uploaded: the wake-ups are lost, the jobs
/// are not. When Redis is back, the host's periodic sweep publishes them
/// again and every job completes exactly once.
#[test]
fn jobs_whose_wake_up_was_lost_are_swept_and_completed_when_redis_returns() {
    let port = lode_tests::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let host = Host::start(
        "spin.toml",
        &[
            ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN),
            ("SPIN_VARIABLE_REDIS_URL", &url),
            ("SPIN_VARIABLE_JOB_STALE_SECS", "1"),
            ("LODE_SWEEP_SECS", "1"),
        ],
    );
    let body = form(
        &[
            (
                "one.md",
                "text/markdown",
                b"# One\n\nThe first document about gliders.",
            ),
            (
                "two.md",
                "text/markdown",
                b"# Two\n\nThe second document about kites.",
            ),
        ],
        &[],
    );
    let r = upload(&host, body);
    assert_eq!(r.status, 202, "{}", r.text);
    let ids: Vec<String> = r.json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        assert_eq!(job(&host, id)["status"], "queued", "nobody was woken");
    }
    let _redis = lode_tests::Redis::start_on(port);
    for id in &ids {
        let j = final_state(&host, id);
        assert_eq!(
            (j["status"].as_str(), j["attempts"].as_u64()),
            (Some("completed"), Some(1)),
            "{j}"
        );
    }
    let listed = host.get("/api/documents", Some(ADMIN));
    assert_eq!(
        listed.json["data"].as_array().unwrap().len(),
        2,
        "exactly one document per job"
    );
}
