//! Queue throughput benchmark (`make bench`; ignored by `make test`):
//! 100 three-page PDFs of Cranfield abstracts uploaded as one batch and
//! ingested by one host (one worker process, `LODE_REDIS_CONCURRENCY`
//! handlers at a time, default one per CPU). Prints documents per minute,
//! pages and chunks per second, from the upload's 202 to the batch's end.

use std::time::{Duration, Instant};

use lode_tests::{BOUNDARY, Host, Redis, cranfield, multipart, pdf, pdf_page, wait_for};
use serde_json::Value;

const ADMIN: &str = "bench-admin-key-0123456789";
const DOCUMENTS: usize = 100;
const PAGES: usize = 3;

#[test]
#[ignore = "a benchmark: run with `make bench`"]
fn queue_throughput_100_pdfs() {
    let redis = Redis::start();
    let host = Host::start(
        "spin.toml",
        &[
            ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN),
            ("SPIN_VARIABLE_REDIS_URL", &redis.url()),
        ],
    );
    let abstracts = cranfield(DOCUMENTS * PAGES);
    let files: Vec<(String, Vec<u8>)> = abstracts
        .chunks(PAGES)
        .enumerate()
        .map(|(i, pages)| {
            let text: Vec<String> = pages.iter().map(|(_, _, t)| pdf_page(t)).collect();
            let text: Vec<&str> = text.iter().map(String::as_str).collect();
            (
                format!("paper{i:03}.pdf"),
                pdf(&pages[0].1, "Cranfield", &text),
            )
        })
        .collect();
    let parts: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), "application/pdf", b.as_slice()))
        .collect();
    let body = multipart(&parts, &[]);
    let megabytes = body.len() as f64 / 1e6;
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let started = Instant::now();
    let r = host.request(
        "POST",
        "/api/documents/upload",
        Some(ADMIN),
        &[("content-type", &ct)],
        body,
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let accepted = started.elapsed();
    let batch = r.json["batch_id"].as_str().unwrap().to_string();
    let done: Value = wait_for("the batch", Duration::from_secs(3600), || {
        let b = host.get(&format!("/api/jobs/batches/{batch}"), Some(ADMIN));
        (b.json["done"] == true).then_some(b.json)
    });
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(done["counts"]["completed"], DOCUMENTS, "{done}");
    let db = rusqlite::Connection::open(host.state_dir.join("sqlite_db.db")).unwrap();
    let chunks: i64 = db
        .query_row("SELECT count(*) FROM chunks", [], |r| r.get(0))
        .unwrap();
    println!(
        "queue throughput: {DOCUMENTS} PDFs x {PAGES} pages ({megabytes:.2} MB, {chunks} chunks) \
         accepted in {:.0} ms, ingested in {elapsed:.1} s by one host: \
         {:.1} documents/min, {:.2} pages/s, {:.2} chunks/s",
        accepted.as_secs_f64() * 1e3,
        DOCUMENTS as f64 * 60.0 / elapsed,
        (DOCUMENTS * PAGES) as f64 / elapsed,
        chunks as f64 / elapsed,
    );
}
