//! What metrics cost a request: `cargo run --release -p lode-metrics
//! --example record` (part of `make bench`). Times 10,000 observations
//! (one upsert each, as every request makes) into a WAL-mode SQLite file,
//! as lode-host stores it, and one render of the result. Prints numbers;
//! asserts nothing.

use std::time::Instant;

use lode_metrics::{HTTP_DURATION, observe, render};
use lode_store::migrate;
use lode_store::rusqlite_sql::RusqliteSql;

const OBSERVATIONS: usize = 10_000;

fn main() {
    let dir = std::env::temp_dir().join(format!("lode-metrics-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = RusqliteSql::file(&dir.join("bench.db"));
    RusqliteSql::block_on(async {
        migrate(&db).await.unwrap();
        let routes = [
            "/api/documents",
            "/api/documents/{id}",
            "/api/search",
            "/api/chat",
        ];
        let statuses = ["200", "201", "404", "422"];
        let started = Instant::now();
        for i in 0..OBSERVATIONS {
            let labels = [
                ("route", routes[i % routes.len()]),
                ("method", "GET"),
                ("status", statuses[i / 7 % statuses.len()]),
            ];
            observe(&db, HTTP_DURATION, &labels, (i % 1000) as f64 / 1000.0)
                .await
                .unwrap();
        }
        let per = started.elapsed().as_secs_f64() * 1e6 / OBSERVATIONS as f64;
        println!(
            "metrics: one observation (upsert, WAL file): {per:.1} µs mean over {OBSERVATIONS}"
        );
        let started = Instant::now();
        let text = render(&db).await.unwrap();
        println!(
            "metrics: render {} lines: {:.2} ms",
            text.lines().count(),
            started.elapsed().as_secs_f64() * 1e3
        );
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
