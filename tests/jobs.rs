//! Queued ingestion end to end: uploads and URLs are stored as jobs, a real
//! `redis-server` wakes the Redis-triggered worker component, which runs the
//! same composed pipeline steps as the synchronous path. Crashes (SIGKILL of
//! the host, a Redis restart) and a second host on the same database must
//! leave exactly the chunk table that a clean run leaves.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use lode_tests::{BOUNDARY, Host, Redis, cranfield, multipart, pdf, pdf_page, temp_dir, wait_for};
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-key-0123456789";

/// A host on `redis` that sweeps every second and treats a job untouched for
/// a second as having lost its wake-up, so recovery is quick in tests.
fn start(redis: &Redis, extra: &[(&str, &str)], state_dir: Option<PathBuf>) -> Host {
    let url = redis.url();
    let mut env = vec![
        ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN),
        ("SPIN_VARIABLE_REDIS_URL", url.as_str()),
        ("SPIN_VARIABLE_JOB_STALE_SECS", "1"),
        ("LODE_SWEEP_SECS", "1"),
    ];
    env.extend_from_slice(extra);
    Host::start_in(
        "spin.toml",
        &env,
        state_dir.unwrap_or_else(|| temp_dir("jobs")),
    )
}

fn upload(host: &Host, body: Vec<u8>) -> lode_tests::Reply {
    upload_as(host, ADMIN, body)
}

fn upload_as(host: &Host, key: &str, body: Vec<u8>) -> lode_tests::Reply {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    host.request(
        "POST",
        "/api/documents/upload",
        Some(key),
        &[("content-type", &ct)],
        body,
    )
}

/// (filename, job id) of a 202 answer.
fn jobs_of(r: &lode_tests::Reply) -> Vec<(String, String)> {
    assert_eq!(r.status, 202, "{}", r.text);
    r.json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["filename"].as_str().unwrap_or_default().to_string(),
                j["job_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
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

/// Wait until every job of `batch` is final; the batch's JSON.
fn finished_batch(host: &Host, batch: &str) -> Value {
    wait_for(
        &format!("batch {batch} to finish"),
        Duration::from_secs(600),
        || {
            let b = host.get(&format!("/api/jobs/batches/{batch}"), Some(ADMIN));
            (b.json["done"] == true).then_some(b.json)
        },
    )
}

/// `[data: …]` lines of an SSE response, parsed.
fn sse_events(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// A 33 KB PDF drawing a 32 MiB form a thousand times (written by
/// `crates/extract`'s `write_bombs` test): over the per-document budget.
fn pdf_bomb() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/form-1000-do.pdf"
    ))
    .unwrap()
}

/// Twenty files of every kind in one upload, one of them a corrupt PDF.
fn twenty_files() -> Vec<(String, &'static str, Vec<u8>)> {
    let docs = cranfield(19);
    let mut files = Vec::new();
    for (i, (id, title, text)) in docs.into_iter().enumerate() {
        let marker = format!("qx{id}marker");
        let (name, ct, bytes) = match i % 4 {
            0 => {
                let half = text.len() / 2;
                let cut = text[..half].rfind(' ').unwrap_or(half);
                let pages = [
                    format!("{marker} {}", &text[..cut]),
                    text[cut..].to_string(),
                ];
                (
                    format!("cran{id}.pdf"),
                    "application/pdf",
                    pdf(&title, "Cranfield", &pages.map(|p| pdf_page(&p)).each_ref().map(String::as_str)),
                )
            }
            1 => (
                format!("cran{id}.html"),
                "text/html",
                format!(
                    "<html><head><title>{title}</title></head><body><article><p>{marker} {text}</p></article></body></html>"
                )
                .into_bytes(),
            ),
            2 => (
                format!("cran{id}.md"),
                "text/markdown",
                format!("# {title}\n\n{marker} {text}\n").into_bytes(),
            ),
            _ => (
                format!("cran{id}.txt"),
                "text/plain",
                format!("{title}\n\n{marker} {text}\n").into_bytes(),
            ),
        };
        files.push((name, ct, bytes));
    }
    files.push((
        "broken.pdf".into(),
        "application/pdf",
        b"%PDF-1.7 this is not really a PDF at all".to_vec(),
    ));
    files
}

fn form_of(files: &[(String, &str, Vec<u8>)], fields: &[(&str, &str)]) -> Vec<u8> {
    let parts: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(n, ct, b)| (n.as_str(), *ct, b.as_slice()))
        .collect();
    multipart(&parts, fields)
}

#[test]
fn twenty_mixed_files_are_queued_processed_by_the_worker_and_searchable() {
    let redis = Redis::start();
    let host = start(&redis, &[], None);
    let mut files = twenty_files();
    files.push(("bomb.pdf".into(), "application/pdf", pdf_bomb()));
    let r = upload(
        &host,
        form_of(
            &files,
            &[("metadata", r#"{"project":"demo"}"#), ("priority", "high")],
        ),
    );
    let jobs = jobs_of(&r);
    assert_eq!(jobs.len(), 21);
    let batch = r.json["batch_id"].as_str().unwrap().to_string();
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/api/jobs/batches/{batch}")
    );

    let b = finished_batch(&host, &batch);
    assert_eq!(b["counts"], json!({"completed": 19, "failed": 2}), "{b}");
    assert_eq!(b["progress"], 100);
    for (filename, id) in &jobs {
        let j = job(&host, id);
        if filename == "bomb.pdf" {
            assert_eq!(j["status"], "failed", "{j}");
            let reason = j["error"].as_str().unwrap();
            assert!(reason.contains("limit per document"), "{j}");
            assert_eq!(j["attempts"], 1, "over the budget is not retried: {j}");
            continue;
        }
        if filename == "broken.pdf" {
            assert_eq!(j["status"], "failed", "{j}");
            let reason = j["error"].as_str().unwrap();
            assert!(reason.len() > 10, "a readable reason: {j}");
            assert_eq!(j["attempts"], 1, "a corrupt file is not retried: {j}");
            continue;
        }
        assert_eq!(j["status"], "completed", "{filename}: {j}");
        assert_eq!(
            (j["progress"].as_u64(), j["attempts"].as_u64()),
            (Some(100), Some(1))
        );
        assert_eq!(j["priority"], "high");
        let doc_id = j["document_id"].as_str().unwrap();
        let doc = host.get(&format!("/api/documents/{doc_id}"), Some(ADMIN));
        assert_eq!(doc.json["metadata"]["project"], "demo", "{}", doc.text);
        assert_eq!(doc.json["metadata"]["filename"], filename.as_str());
        // Searchable: the file's own marker word finds it, first.
        let marker = format!(
            "qx{}marker",
            filename
                .trim_start_matches("cran")
                .split('.')
                .next()
                .unwrap()
        );
        let hit = host.json(
            "POST",
            "/api/search/fulltext",
            ADMIN,
            &json!({"query": marker, "k": 3}),
        );
        let hits = hit.json["data"].as_array().unwrap();
        assert_eq!(hits.len(), 1, "{filename}: {}", hit.text);
        assert_eq!(hits[0]["document_id"], doc_id, "{}", hit.text);
    }
    let pdfs = host.get(
        &format!(
            "/api/documents/{}",
            job(&host, &jobs[0].1)["document_id"].as_str().unwrap()
        ),
        Some(ADMIN),
    );
    assert_eq!(pdfs.json["metadata"]["pages"], 2, "{}", pdfs.text);

    // The progress stream of one job: one event per step, percent rising,
    // ending with the final state.
    let (_, first) = &jobs[0];
    let sse = host.get(&format!("/api/jobs/{first}/events"), Some(ADMIN));
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
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{}", sse.text);
    let events = sse_events(&sse.text);
    let steps: Vec<&str> = events.iter().filter_map(|e| e["step"].as_str()).collect();
    assert_eq!(
        steps,
        ["extract", "chunk", "embed", "index"],
        "{}",
        sse.text
    );
    let percents: Vec<u64> = events
        .iter()
        .map(|e| e["progress"].as_u64().unwrap())
        .collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    assert_eq!(events.last().unwrap()["status"], "completed");
    let last_event = sse.text.lines().rfind(|l| l.starts_with("event: "));
    assert_eq!(last_event, Some("event: end"), "{}", sse.text);
    let resumed = host.request(
        "GET",
        &format!("/api/jobs/{first}/events"),
        Some(ADMIN),
        &[("last-event-id", &ids[ids.len() - 2].to_string())],
        vec![],
    );
    assert_eq!(sse_events(&resumed.text).len(), 1, "{}", resumed.text);

    // A failed job can be retried; it fails again for the same reason.
    let broken = &jobs[19].1;
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
        2,
        "{}",
        listed.text
    );
    let docs = host.get("/api/documents?limit=100", Some(ADMIN));
    assert_eq!(
        docs.json["data"].as_array().unwrap().len(),
        19,
        "nothing else was affected"
    );
}

#[test]
fn bad_uploads_are_refused_before_anything_is_queued() {
    let host = Host::start("spin.toml", &[("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)]);
    let image = multipart(&[("cat.png", "image/png", b"\x89PNG\r\n")], &[]);
    assert_eq!(upload(&host, image).status, 415);
    let no_files = multipart(&[], &[("priority", "high")]);
    assert_eq!(upload(&host, no_files).status, 422);
    let bad_priority = multipart(&[("a.txt", "text/plain", b"x")], &[("priority", "asap")]);
    assert_eq!(upload(&host, bad_priority).status, 422);
    let bad_metadata = multipart(&[("a.txt", "text/plain", b"x")], &[("metadata", "[1,2]")]);
    assert_eq!(upload(&host, bad_metadata).status, 422);
    let garbage = upload(&host, b"--nope\r\nnot a form".to_vec());
    assert_eq!(garbage.status, 400, "{}", garbage.text);
    // Raw bodies: a type Lode cannot read, no type, nothing, a stored password.
    let raw = |headers: &[(&str, &str)], body: &[u8]| {
        host.request(
            "POST",
            "/api/documents/upload",
            Some(ADMIN),
            headers,
            body.to_vec(),
        )
    };
    assert_eq!(
        raw(&[("content-type", "image/png")], b"\x89PNG").status,
        415
    );
    assert_eq!(raw(&[], b"hello").status, 415);
    assert_eq!(raw(&[("content-type", "text/plain")], b"").status, 422);
    let pw = raw(
        &[
            ("content-type", "application/pdf"),
            ("lode-pdf-password", "secret"),
        ],
        b"%PDF-1.4",
    );
    assert_eq!(pw.status, 422, "{}", pw.text);
    // Within the request, a PDF over the per-document budget is 413.
    let bomb = host.request(
        "POST",
        "/api/documents/upload?sync=true",
        Some(ADMIN),
        &[("content-type", "application/pdf")],
        pdf_bomb(),
    );
    assert_eq!(bomb.status, 413, "{}", bomb.text);
    assert_eq!(
        bomb.json["error"]["code"], "payload_too_large",
        "{}",
        bomb.text
    );
    let bad = host.request(
        "POST",
        "/api/documents/upload?priority=asap",
        Some(ADMIN),
        &[("content-type", "text/plain")],
        b"x".to_vec(),
    );
    assert_eq!(bad.status, 422, "{}", bad.text);
    for body in [
        json!({"url": "ftp://example.com/x"}),
        json!({"url": "https://example.com", "priority": "now"}),
    ] {
        let r = host.json("POST", "/api/documents/from-url", ADMIN, &body);
        assert_eq!(r.status, 422, "{body}: {}", r.text);
    }
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

/// A web server whose pages fail on purpose: `/flaky` answers 503 twice,
/// then a page; `/down` answers 503 until `up` is set; `/gone` is 404.
struct Web {
    origin: String,
    up: Arc<AtomicBool>,
    flaky_calls: Arc<AtomicUsize>,
}

fn web() -> Web {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let up = Arc::new(AtomicBool::new(false));
    let flaky_calls = Arc::new(AtomicUsize::new(0));
    let (up2, calls2) = (up.clone(), flaky_calls.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let page = |title: &str, text: &str| {
                format!(
                    "<html><head><title>{title}</title></head><body><p>{text}</p></body></html>"
                )
            };
            let (status, body) = match path.as_str() {
                "/flaky" if calls2.fetch_add(1, Ordering::SeqCst) < 2 => {
                    ("503 Service Unavailable", "busy".to_string())
                }
                "/flaky" => (
                    "200 OK",
                    page(
                        "Flaky",
                        "A flaky page about supersonic inlets and shock waves.",
                    ),
                ),
                "/down" if !up2.load(Ordering::SeqCst) => {
                    ("503 Service Unavailable", "down".to_string())
                }
                "/down" => (
                    "200 OK",
                    page(
                        "Down",
                        "A page about hypersonic boundary layers, back online.",
                    ),
                ),
                _ => ("404 Not Found", "no such page".to_string()),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    Web {
        origin,
        up,
        flaky_calls,
    }
}

/// Raw uploads and URLs are queued too. A URL that fails twice succeeds on
/// the third attempt; one that always fails is dead after the limit and
/// listed; redrive brings it back once the server is up; a 404 fails at once.
#[test]
fn raw_uploads_and_urls_are_queued_retried_dead_lettered_and_redriven() {
    let redis = Redis::start();
    let web = web();
    let host = start(
        &redis,
        &[
            ("SPIN_VARIABLE_URL_INGEST_ORIGIN", &web.origin),
            ("SPIN_VARIABLE_URL_INGEST_ALLOW_PRIVATE", "true"),
            ("SPIN_VARIABLE_JOB_MAX_ATTEMPTS", "3"),
        ],
        None,
    );
    let raw = host.request(
        "POST",
        "/api/documents/upload?priority=urgent&metadata.team=red",
        Some(ADMIN),
        &[
            ("content-type", "text/markdown"),
            ("content-disposition", "attachment; filename=\"wings.md\""),
        ],
        b"# Wings\n\nA wing deflects air downwards and is pushed up: lift.".to_vec(),
    );
    let raw_jobs = jobs_of(&raw);
    assert_eq!(raw_jobs[0].0, "wings.md");
    let from_url = |path: &str| {
        let r = host.json(
            "POST",
            "/api/documents/from-url",
            ADMIN,
            &json!({"url": format!("{}{path}", web.origin), "metadata": {"team": "blue"}}),
        );
        jobs_of(&r)[0].1.clone()
    };
    let flaky = from_url("/flaky");
    let down = from_url("/down");
    let gone = from_url("/gone");

    let j = final_state(&host, &raw_jobs[0].1);
    assert_eq!(
        (j["status"].as_str(), j["priority"].as_str()),
        (Some("completed"), Some("urgent")),
        "{j}"
    );
    let doc = host.get(
        &format!("/api/documents/{}", j["document_id"].as_str().unwrap()),
        Some(ADMIN),
    );
    assert_eq!(doc.json["metadata"]["team"], "red", "{}", doc.text);

    let j = final_state(&host, &flaky);
    assert_eq!(
        (j["status"].as_str(), j["attempts"].as_u64()),
        (Some("completed"), Some(3)),
        "{j}"
    );
    assert_eq!(web.flaky_calls.load(Ordering::SeqCst), 3);
    let events = sse_events(
        &host
            .get(&format!("/api/jobs/{flaky}/events"), Some(ADMIN))
            .text,
    );
    let retried: Vec<&Value> = events
        .iter()
        .filter(|e| e["status"] == "queued" && e["message"].is_string())
        .collect();
    assert_eq!(
        retried.len(),
        2,
        "two failed attempts were re-queued: {events:?}"
    );
    assert!(
        retried[0]["message"].as_str().unwrap().contains("503"),
        "{events:?}"
    );
    let steps: Vec<&str> = events.iter().filter_map(|e| e["step"].as_str()).collect();
    assert!(
        steps.ends_with(&["fetch", "extract", "chunk", "embed", "index"]),
        "{steps:?}"
    );
    let doc = host.get(
        &format!("/api/documents/{}", j["document_id"].as_str().unwrap()),
        Some(ADMIN),
    );
    assert_eq!(
        doc.json["metadata"]["source_url"],
        format!("{}/flaky", web.origin)
    );
    assert_eq!(doc.json["metadata"]["team"], "blue");

    let j = final_state(&host, &gone);
    assert_eq!(
        (j["status"].as_str(), j["attempts"].as_u64()),
        (Some("failed"), Some(1)),
        "{j}"
    );
    assert!(j["error"].as_str().unwrap().contains("404"), "{j}");

    let j = final_state(&host, &down);
    assert_eq!(
        (j["status"].as_str(), j["attempts"].as_u64()),
        (Some("dead"), Some(3)),
        "{j}"
    );
    assert!(j["error"].as_str().unwrap().contains("503"), "{j}");
    let dead = host.get("/api/jobs/dead", Some(ADMIN));
    let dead_ids: Vec<&str> = dead.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(dead_ids, [down.as_str()], "{}", dead.text);

    web.up.store(true, Ordering::SeqCst);
    let r = host.json("POST", "/api/jobs/redrive", ADMIN, &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let j = final_state(&host, &down);
    assert_eq!(
        (j["status"].as_str(), j["attempts"].as_u64()),
        (Some("completed"), Some(1)),
        "{j}"
    );
    let hit = host.json(
        "POST",
        "/api/search",
        ADMIN,
        &json!({"query": "hypersonic boundary layers", "k": 1}),
    );
    assert_eq!(
        hit.json["data"][0]["document_id"], j["document_id"],
        "{}",
        hit.text
    );
    assert_eq!(
        host.get("/api/jobs/dead", Some(ADMIN)).json["data"],
        json!([])
    );
}

/// Sixteen documents of three Cranfield abstracts each: enough work that a
/// batch is still running when the test interrupts it.
fn crash_batch() -> Vec<(String, &'static str, Vec<u8>)> {
    cranfield(48)
        .chunks(3)
        .enumerate()
        .map(|(i, docs)| {
            let body: Vec<String> = docs
                .iter()
                .map(|(id, title, text)| format!("## {title}\n\nAbstract {id}. {text}"))
                .collect();
            (
                format!("part{i:02}.md"),
                "text/markdown",
                format!("# Part {i}\n\n{}\n", body.join("\n\n")).into_bytes(),
            )
        })
        .collect()
}

/// Every indexed chunk by file name: (ordinal, sha256, vectors held); and
/// checks that no chunk is orphaned, no file stored twice, and the
/// full-text index matches the chunks.
fn chunk_table(state_dir: &Path) -> BTreeMap<String, Vec<(i64, String, i64)>> {
    let db = rusqlite::Connection::open(state_dir.join("sqlite_db.db")).unwrap();
    let orphans: i64 = db
        .query_row(
            "SELECT count(*) FROM chunks WHERE document_id NOT IN \
             (SELECT id FROM documents WHERE deleted_at IS NULL)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "chunks without a live document");
    db.execute(
        "INSERT INTO chunk_terms (chunk_terms) VALUES ('integrity-check')",
        [],
    )
    .expect("the full-text index matches the chunks");
    let mut stmt = db
        .prepare(
            "SELECT json_extract(d.metadata, '$.filename'), c.ordinal, c.sha256, \
             (SELECT count(*) FROM chunk_vectors v WHERE v.chunk_id = c.id) \
             FROM chunks c JOIN documents d ON d.id = c.document_id AND d.deleted_at IS NULL \
             ORDER BY 1, 2",
        )
        .unwrap();
    let mut table: BTreeMap<String, Vec<(i64, String, i64)>> = BTreeMap::new();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    for row in rows {
        let (file, ordinal, sha, vectors) = row.unwrap();
        table.entry(file).or_default().push((ordinal, sha, vectors));
    }
    let documents: i64 = db
        .query_row(
            "SELECT count(*) FROM documents WHERE deleted_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(documents as usize, table.len(), "one document per file");
    table
}

/// Jobs of a batch by status, read straight from SQLite (the host may be dead).
fn statuses(state_dir: &Path) -> HashMap<String, i64> {
    let db = rusqlite::Connection::open(state_dir.join("sqlite_db.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT status, count(*) FROM jobs GROUP BY status")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Wait until `done` jobs have completed.
fn until_completed(host: &Host, done: i64) {
    wait_for("some jobs to complete", Duration::from_secs(600), || {
        (statuses(&host.state_dir)
            .get("completed")
            .copied()
            .unwrap_or(0)
            >= done)
            .then_some(())
    });
}

/// The kill test and the Redis restart, each compared with a clean run:
/// same files, same chunks (ordinal and text hash), one vector each, no
/// duplicate and no missing chunk.
#[test]
fn a_killed_host_or_a_restarted_redis_loses_and_duplicates_nothing() {
    let files = crash_batch();
    let expected_files: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    let env = [("SPIN_VARIABLE_JOB_LEASE_SECS", "10")];

    // The clean run.
    let redis = Redis::start();
    let clean = start(&redis, &env, None);
    let batch = upload(&clean, form_of(&files, &[])).json["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = finished_batch(&clean, &batch);
    assert_eq!(b["counts"], json!({"completed": 16}), "{b}");
    let reference = chunk_table(&clean.state_dir);
    assert_eq!(
        reference.keys().cloned().collect::<Vec<_>>(),
        expected_files
    );
    assert!(
        reference
            .values()
            .all(|c| c.len() >= 2 && c.iter().all(|x| x.2 == 1))
    );
    drop(clean);

    // SIGKILL mid-batch, then a new host on the same state.
    let state = temp_dir("kill");
    let host = start(&redis, &env, Some(state.clone()));
    let batch = upload(&host, form_of(&files, &[])).json["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    until_completed(&host, 2);
    host.kill();
    let at_kill = statuses(&state);
    eprintln!("kill test: job states when the host was killed: {at_kill:?}");
    assert!(
        at_kill.get("completed").copied().unwrap_or(0) < 16,
        "the batch must be interrupted mid-way: {at_kill:?}"
    );
    let host = start(&redis, &env, Some(state.clone()));
    let b = finished_batch(&host, &batch);
    assert_eq!(b["counts"], json!({"completed": 16}), "{b}");
    assert_eq!(chunk_table(&state), reference, "after SIGKILL and restart");
    drop(host);

    // Redis restarted mid-batch; half of the files are uploaded while it is
    // down, so their wake-ups are lost.
    let port = lode_tests::free_port();
    let redis = Redis::start_on(port);
    let host = start(&redis, &env, None);
    let (first, second) = files.split_at(8);
    let one = upload(&host, form_of(first, &[])).json["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    until_completed(&host, 1);
    drop(redis);
    let two = upload(&host, form_of(second, &[])).json["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    let at_stop = statuses(&host.state_dir);
    eprintln!("Redis restart: job states when Redis stopped: {at_stop:?}");
    assert!(
        at_stop.get("completed").copied().unwrap_or(0) < 16,
        "{at_stop:?}"
    );
    let _redis = Redis::start_on(port);
    for batch in [one, two] {
        let b = finished_batch(&host, &batch);
        assert_eq!(b["counts"], json!({"completed": 8}), "{b}");
    }
    assert_eq!(
        chunk_table(&host.state_dir),
        reference,
        "after the Redis restart"
    );
}

/// Two hosts (two worker processes) on one Redis and one database: every
/// message reaches both, and each job is claimed and processed exactly once.
#[test]
fn two_hosts_on_one_redis_and_one_database_process_each_job_once() {
    let redis = Redis::start();
    let state = temp_dir("two-hosts");
    let a = start(&redis, &[], Some(state.clone()));
    let b = start(&redis, &[], Some(state.clone()));
    let files: Vec<(String, &str, Vec<u8>)> = cranfield(12)
        .into_iter()
        .map(|(id, title, text)| {
            (
                format!("cran{id}.md"),
                "text/markdown",
                format!("# {title}\n\n{text}\n").into_bytes(),
            )
        })
        .collect();
    let r = upload(&a, form_of(&files, &[]));
    let jobs = jobs_of(&r);
    let batch = r.json["batch_id"].as_str().unwrap().to_string();
    let done = finished_batch(&b, &batch);
    assert_eq!(done["counts"], json!({"completed": 12}), "{done}");
    let claims = |host: &Host| -> Vec<String> {
        host.lines()
            .iter()
            .filter_map(|l| l.split_once("job ").map(|(_, rest)| rest))
            .filter(|rest| rest.contains(" claimed by "))
            .map(|rest| rest.split_whitespace().next().unwrap().to_string())
            .collect()
    };
    let (claims_a, claims_b) = (claims(&a), claims(&b));
    eprintln!(
        "host a claimed {}, host b claimed {}",
        claims_a.len(),
        claims_b.len()
    );
    let mut all: Vec<String> = claims_a.into_iter().chain(claims_b).collect();
    all.sort();
    let mut expected: Vec<String> = jobs.iter().map(|j| j.1.clone()).collect();
    expected.sort();
    assert_eq!(
        all, expected,
        "every job claimed exactly once, by one of the two hosts"
    );
    for (_, id) in &jobs {
        assert_eq!(job(&a, id)["attempts"], 1);
    }
    let table = chunk_table(&state);
    assert_eq!(table.len(), 12);
}

/// Fair queueing: tenant A queues 200 files, then tenant B queues 2. Two
/// handlers work through the wake-ups in the order they were published (A's
/// 200 first), but each wake-up takes the job of the tenant served longest
/// ago, so B's files finish among the first few after they were queued
/// instead of after A's 200. And `urgent`, which runs ahead of everyone's
/// normal work, is for admins only (`urgent_roles`).
#[test]
fn one_tenants_big_batch_does_not_starve_another_tenants_files() {
    let redis = Redis::start();
    let host = start(&redis, &[("LODE_REDIS_CONCURRENCY", "2")], None);
    let a = host.new_key(ADMIN, "tenant-a", "editor");
    let b = host.new_key(ADMIN, "tenant-b", "editor");
    let note =
        |i: usize| format!("Note {i}: the wing section number {i} was tested at Mach 0.{i}.");

    let urgent = multipart(
        &[("now.txt", "text/plain", b"Now.")],
        &[("priority", "urgent")],
    );
    let refused = upload_as(&host, &a, urgent.clone());
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.json["error"]["code"], "forbidden");
    assert!(statuses(&host.state_dir).is_empty(), "nothing was queued");
    let raw = host.request(
        "POST",
        "/api/documents/upload?priority=urgent",
        Some(&b),
        &[("content-type", "text/plain")],
        b"Now.".to_vec(),
    );
    assert_eq!(raw.status, 403, "{}", raw.text);

    for part in 0..2 {
        let files: Vec<(String, &str, Vec<u8>)> = (0..100)
            .map(|i| {
                let i = part * 100 + i;
                (format!("a{i}.txt"), "text/plain", note(i).into_bytes())
            })
            .collect();
        assert_eq!(
            jobs_of(&upload_as(&host, &a, form_of(&files, &[]))).len(),
            100
        );
    }
    let files: Vec<(String, &str, Vec<u8>)> = (0..2)
        .map(|i| {
            (
                format!("b{i}.txt"),
                "text/plain",
                note(1000 + i).into_bytes(),
            )
        })
        .collect();
    let b_jobs = jobs_of(&upload_as(&host, &b, form_of(&files, &[])));
    assert_eq!(b_jobs.len(), 2);
    // The bootstrap admin may queue urgent work.
    assert_eq!(jobs_of(&upload(&host, urgent)).len(), 1);
    until_completed(&host, 203);

    let db = rusqlite::Connection::open(host.state_dir.join("sqlite_db.db")).unwrap();
    let (b_queued, b_done): (i64, i64) = db
        .query_row(
            "SELECT MIN(created_at), MAX(updated_at) FROM jobs WHERE tenant = 'tenant-b'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let (a_meanwhile, a_after): (i64, i64) = db
        .query_row(
            "SELECT SUM(updated_at > ? AND updated_at <= ?), SUM(updated_at > ?) \
             FROM jobs WHERE tenant = 'tenant-a' AND status = 'completed'",
            [b_queued, b_done, b_done],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    eprintln!(
        "while B's 2 files waited and ran, {a_meanwhile} of A's finished; {a_after} of A's finished after B's"
    );
    // Two handlers: at most the two of A's in flight when B queued, then
    // A and B alternate.
    assert!(
        a_meanwhile <= 6,
        "B waited behind {a_meanwhile} of A's jobs"
    );
    assert!(
        a_after > 100,
        "A's batch was still running when B's finished"
    );
}

/// A step longer than the lease (embedding a long document): the worker
/// renews its lease after every few chunks, so the wake-ups that arrive
/// meanwhile (published again and again, as a second worker or a sweep
/// would) never start the job a second time.
#[test]
fn a_step_longer_than_the_lease_never_runs_twice_at_once() {
    let redis = Redis::start();
    let lease_secs = 4;
    let lease = lease_secs.to_string();
    let host = start(
        &redis,
        &[
            ("SPIN_VARIABLE_JOB_LEASE_SECS", lease.as_str()),
            ("LODE_REDIS_CONCURRENCY", "2"),
        ],
        None,
    );
    let text: Vec<String> = cranfield(60)
        .into_iter()
        .map(|(id, title, text)| format!("## {title}\n\nAbstract {id}. {text}"))
        .collect();
    let files = [(
        "long.md".to_string(),
        "text/markdown",
        text.join("\n\n").into_bytes(),
    )];
    let jobs = jobs_of(&upload(&host, form_of(&files, &[])));
    let id = jobs[0].1.clone();
    let mut wake_ups = 0;
    let done = loop {
        let j = job(&host, &id);
        match j["status"].as_str() {
            Some("completed" | "failed" | "dead") => break j,
            Some("processing") => {
                redis.publish("lode-jobs-normal", &id);
                wake_ups += 1;
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(done["status"], "completed", "{done}");
    let db = rusqlite::Connection::open(host.state_dir.join("sqlite_db.db")).unwrap();
    let (claimed, finished): (i64, i64) = db
        .query_row(
            "SELECT MIN(at), MAX(at) FROM job_events WHERE job_id = ? AND status = 'processing'",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    eprintln!(
        "the job ran {} ms against a {lease_secs} s lease; {wake_ups} extra wake-ups",
        finished - claimed
    );
    // The premise: one step outlasted the lease, with wake-ups arriving.
    assert!(
        finished - claimed > 2 * lease_secs * 1000,
        "the job was too quick to test"
    );
    assert!(wake_ups > 4);
    assert_eq!(done["attempts"], 1, "{done}");
    let claims = host
        .lines()
        .iter()
        .filter(|l| l.contains(&format!("job {id} claimed by")))
        .count();
    assert_eq!(claims, 1, "claimed once: {}", host.log());
}
