//! `lode-eval`: measure retrieval quality of a running Lode through its HTTP
//! API, the path users get.
//!
//! ```text
//! lode-eval --url http://127.0.0.1:3000 --api-key KEY --dataset ../shared/data/cranfield [--json]
//! ```
//!
//! Loads the collection into the key's tenant (`POST /api/documents`, one
//! document per collection entry, chunked at the model's window without
//! overlap so that a document is usually one chunk, as in the reference
//! protocol), runs every query in every mode (`POST /api/search`, k = 100),
//! ranks documents by their best chunk, and prints nDCG@10, Recall@100 and
//! MAP@100 with trec_eval semantics. With `--json` the last line is
//! `{"vector":{"ndcg@10":…,"recall@100":…,"map@100":…},"fulltext":{…},"hybrid":{…}}`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use lode_eval::{Client, Dataset, Scores, evaluate};
use serde_json::{Value, json};

const MODES: [&str; 3] = ["vector", "fulltext", "hybrid"];
/// Concurrent requests while loading and searching.
const WORKERS: usize = 4;

struct Args {
    url: String,
    api_key: String,
    dataset: PathBuf,
    json: bool,
    patience: Option<u64>,
}

fn parse_args() -> Result<Args> {
    let mut url = None;
    let mut api_key = std::env::var("LODE_API_KEY").ok();
    let mut dataset = None;
    let mut json = false;
    let mut patience = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--url" => url = args.next(),
            "--api-key" => api_key = args.next(),
            "--dataset" => dataset = args.next().map(PathBuf::from),
            "--json" => json = true,
            "--deadline-secs" => {
                patience = Some(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .context("--deadline-secs needs a number of seconds")?,
                )
            }
            "-h" | "--help" => {
                println!(
                    "usage: lode-eval --url URL --api-key KEY --dataset DIR [--json] [--deadline-secs N]\n\
                     Waits out the server's rate limits (Retry-After) for up to N seconds in all (default 4 h)."
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}; see --help"),
        }
    }
    Ok(Args {
        url: url
            .context("--url is required")?
            .trim_end_matches('/')
            .to_string(),
        api_key: api_key.context("--api-key (or LODE_API_KEY) is required")?,
        dataset: dataset.context("--dataset is required")?,
        json,
        patience,
    })
}

/// Run `f` over `items` on [`WORKERS`] threads, stopping at the first error,
/// and say how far it got every tenth of the way (as `what`).
fn parallel<T: Sync, R: Send>(
    what: &str,
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = Mutex::new(0usize);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let started = std::time::Instant::now();
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    let error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        if *n >= items.len() || error.lock().unwrap().is_some() {
                            return;
                        }
                        *n += 1;
                        *n - 1
                    };
                    match f(&items[i]) {
                        Ok(r) => results.lock().unwrap()[i] = Some(r),
                        Err(e) => *error.lock().unwrap() = Some(e),
                    }
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    let step = (items.len() / 10).max(1);
                    if n.is_multiple_of(step) || n == items.len() {
                        eprintln!(
                            "lode-eval: {what} {n}/{} ({:.0} s)",
                            items.len(),
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
    });
    if let Some(e) = error.into_inner().unwrap() {
        return Err(e);
    }
    Ok(results
        .into_inner()
        .unwrap()
        .into_iter()
        .flatten()
        .collect())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let dataset = Dataset::load(&args.dataset)
        .with_context(|| format!("loading {}", args.dataset.display()))?;
    let mut client = Client::new(&args.url, &args.api_key);
    if let Some(secs) = args.patience {
        client = client.with_patience(std::time::Duration::from_secs(secs));
    }

    eprintln!(
        "lode-eval: loading {} documents into {}",
        dataset.documents.len(),
        args.url
    );
    let lode_ids = parallel("loaded", &dataset.documents, |d| {
        let r = client.post(
            "/api/documents?chunk_tokens=254&chunk_overlap=0",
            &json!({"title": d.id, "content": d.text, "content_type": "text/plain", "metadata": {"eval_id": d.id}}),
        )?;
        r["id"]
            .as_str()
            .map(str::to_string)
            .context("no id in the answer")
    })?;
    // Lode id → collection ids (identical texts become one Lode document).
    let mut collection_ids: HashMap<String, Vec<String>> = HashMap::new();
    for (doc, id) in dataset.documents.iter().zip(lode_ids) {
        collection_ids.entry(id).or_default().push(doc.id.clone());
    }

    eprintln!(
        "lode-eval: running {} queries × {} modes",
        dataset.queries.len(),
        MODES.len()
    );
    let mut scores: Vec<(&str, Scores)> = Vec::new();
    let failed = std::sync::atomic::AtomicUsize::new(0);
    for mode in MODES {
        let rankings = parallel(&format!("{mode} queries"), &dataset.queries, |q| {
            // One refused query is reported and scored as finding nothing;
            // the run goes on.
            let r = match client.post(
                "/api/search",
                &json!({"query": q.text, "k": 100, "mode": mode}),
            ) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("lode-eval: query {} ({mode}) failed: {e:#}", q.id);
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok((q.id.clone(), Vec::new()));
                }
            };
            let mut ranking: Vec<String> = Vec::new();
            for hit in r["data"].as_array().context("no data in the answer")? {
                let id = hit["document_id"]
                    .as_str()
                    .context("hit without document_id")?;
                for c in collection_ids.get(id).into_iter().flatten() {
                    if !ranking.contains(c) {
                        ranking.push(c.clone());
                    }
                }
            }
            Ok((q.id.clone(), ranking))
        })?;
        let runs: HashMap<String, Vec<String>> = rankings.into_iter().collect();
        scores.push((mode, evaluate(&runs, &dataset.qrels)));
    }

    if client.backoffs() > 0 {
        eprintln!(
            "lode-eval: waited {} times on 429/503 (rate limits)",
            client.backoffs()
        );
    }
    let failed = failed.into_inner();
    if failed > 0 {
        eprintln!("lode-eval: {failed} searches failed and count as finding nothing");
    }
    println!("mode      nDCG@10  Recall@100  MAP@100");
    for (mode, s) in &scores {
        println!(
            "{mode:<9} {:.4}   {:.4}      {:.4}",
            s.ndcg_10, s.recall_100, s.map_100
        );
    }
    if args.json {
        let out: serde_json::Map<String, Value> = scores
            .iter()
            .map(|(m, s)| {
                (
                    m.to_string(),
                    json!({"ndcg@10": s.ndcg_10, "recall@100": s.recall_100, "map@100": s.map_100}),
                )
            })
            .collect();
        println!("{}", Value::Object(out));
    }
    Ok(())
}
