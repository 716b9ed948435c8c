//! Search latency at scale, natively over the same `lode-index` code and
//! SQLite the components use: `cargo run --release -p lode-eval --example
//! search_latency -- CRANFIELD_DIR [N ...]`. Builds an index of N chunks (texts
//! cycled from the collection with a distinguishing suffix, random unit
//! vectors), then times 200 queries per mode and prints p50/p99.

use std::time::Instant;

use lode_eval::Dataset;
use lode_index::{ChunkRecord, Index, Mode, Query};
use lode_store::rusqlite_sql::RusqliteSql;
use lode_store::{Tenant, migrate};

const DIM: usize = 384;
const PER_DOC: usize = 10;
const QUERIES: usize = 200;

/// A deterministic xorshift generator: the same index on every run.
struct Rng(u64);

impl Rng {
    fn unit_vector(&mut self) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIM)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let data = args
        .next()
        .expect("usage: search_latency CRANFIELD_DIR [N ...]");
    let sizes: Vec<usize> = args.map(|a| a.parse().expect("N")).collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    let dataset = Dataset::load(std::path::Path::new(&data))?;
    let tenant = Tenant::parse("bench").unwrap();
    for n in sizes {
        let db = RusqliteSql::memory();
        let index = Index::new(&db, &tenant, "all-MiniLM-L6-v2");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let start = Instant::now();
        RusqliteSql::block_on(async {
            migrate(&db).await.unwrap();
            for d in 0..n.div_ceil(PER_DOC) {
                let chunks: Vec<ChunkRecord> = (0..PER_DOC)
                    .map(|o| {
                        let source =
                            &dataset.documents[(d * PER_DOC + o) % dataset.documents.len()];
                        let text = format!("{} (copy {d})", source.text);
                        ChunkRecord {
                            ordinal: o as i64,
                            sha256: lode_store::ids::sha256_hex(text.as_bytes()),
                            chars: (0, text.chars().count() as i64),
                            text,
                            heading_path: vec![],
                            pages: None,
                            token_count: 0,
                            vector: Some(rng.unit_vector()),
                        }
                    })
                    .collect();
                index.write(&format!("doc_{d}"), 1, &chunks).await.unwrap();
            }
        });
        println!(
            "search  index of {n} chunks built in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        for mode in [Mode::Vector, Mode::Fulltext, Mode::Hybrid] {
            let mut times = Vec::with_capacity(QUERIES);
            for i in 0..QUERIES {
                let q = &dataset.queries[i % dataset.queries.len()];
                let query = Query {
                    text: q.text.clone(),
                    k: 10,
                    mode,
                    min_score: None,
                    document_ids: vec![],
                    metadata: vec![],
                };
                let vector = rng.unit_vector();
                let start = Instant::now();
                RusqliteSql::block_on(index.search(&query, Some(&vector))).unwrap();
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "search  {n:>6} chunks {:<8} p50 {:>7.2} ms  p99 {:>7.2} ms",
                format!("{mode:?}").to_lowercase(),
                percentile(&times, 0.5),
                percentile(&times, 0.99)
            );
        }
    }
    Ok(())
}
