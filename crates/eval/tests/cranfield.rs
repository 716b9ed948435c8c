//! Retrieval quality on Cranfield, through the same crates the components use
//! (lode-embed, lode-index over SQLite), run natively: embedding 1,400
//! abstracts in Wasm takes minutes, natively well under one.
//!
//! Floors from shared/data/cranfield/REFERENCE.md: dense within 0.005 nDCG@10
//! of sentence-transformers (0.3819), full text within 0.015 of Lucene BM25
//! (0.3508), hybrid (RRF, k = 60) at least the reference RRF (0.4122).

use std::collections::HashMap;
use std::path::Path;

use lode_embed::{Embedder, MODEL_ID};
use lode_eval::{Dataset, evaluate};
use lode_index::{ChunkRecord, Index, rrf};
use lode_store::rusqlite_sql::RusqliteSql;
use lode_store::{Tenant, migrate};

const DEPTH: usize = 100;

#[test]
fn cranfield_meets_reference_scores() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = root.join("../shared/data/cranfield");
    let models = lode_embed::repo_model_dir();
    let dataset = Dataset::load(&data).expect("Cranfield data in ../shared/data/cranfield");
    let embedder = Embedder::load_dir(&models).expect("model files in models/ (make setup)");

    let db = RusqliteSql::memory();
    let tenant = Tenant::parse("eval").unwrap();
    let index = Index::new(&db, &tenant, MODEL_ID);
    let texts: Vec<&str> = dataset.documents.iter().map(|d| d.text.as_str()).collect();
    let vectors = embedder.embed(&texts).unwrap();
    RusqliteSql::block_on(async {
        migrate(&db).await.unwrap();
        for (doc, vector) in dataset.documents.iter().zip(vectors) {
            let chunk = ChunkRecord {
                ordinal: 0,
                text: doc.text.clone(),
                heading_path: vec![],
                pages: None,
                chars: (0, doc.text.chars().count() as i64),
                token_count: embedder.count_tokens(&doc.text).unwrap() as i64,
                sha256: lode_store::ids::sha256_hex(doc.text.as_bytes()),
                vector: Some(vector),
            };
            index.write(&doc.id, 1, &[chunk]).await.unwrap();
        }
    });

    let mut runs: HashMap<&str, HashMap<String, Vec<String>>> = HashMap::new();
    RusqliteSql::block_on(async {
        // chunk id → document id (one chunk per document here).
        let ids: Vec<i64> = (1..=dataset.documents.len() as i64).collect();
        let chunk_doc: HashMap<i64, String> = index
            .chunks(&ids)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, c)| (id, c.document_id))
            .collect();
        let docs = |hits: &mut dyn Iterator<Item = i64>| {
            hits.map(|id| chunk_doc[&id].clone()).collect::<Vec<_>>()
        };
        let query_vectors = embedder
            .embed(
                &dataset
                    .queries
                    .iter()
                    .map(|q| q.text.as_str())
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        for (q, qv) in dataset.queries.iter().zip(&query_vectors) {
            let v = index.search_vector(qv, DEPTH, &[]).await.unwrap();
            let f = index.search_fulltext(&q.text, DEPTH, &[]).await.unwrap();
            let h = rrf(&v, &f, 60.0);
            runs.entry("vector")
                .or_default()
                .insert(q.id.clone(), docs(&mut v.iter().map(|x| x.chunk_id)));
            runs.entry("fulltext")
                .or_default()
                .insert(q.id.clone(), docs(&mut f.iter().map(|x| x.chunk_id)));
            runs.entry("hybrid").or_default().insert(
                q.id.clone(),
                docs(&mut h.iter().take(DEPTH).map(|x| x.chunk_id)),
            );
        }
    });

    let score = |mode: &str| evaluate(&runs[mode], &dataset.qrels);
    let (vector, fulltext, hybrid) = (score("vector"), score("fulltext"), score("hybrid"));
    println!("mode      nDCG@10  Recall@100  MAP@100");
    for (name, s) in [
        ("vector", vector),
        ("fulltext", fulltext),
        ("hybrid", hybrid),
    ] {
        println!(
            "{name:<9} {:.4}   {:.4}      {:.4}",
            s.ndcg_10, s.recall_100, s.map_100
        );
    }
    assert!(
        (vector.ndcg_10 - 0.3819).abs() <= 0.005,
        "dense nDCG@10 {:.4} vs reference 0.3819",
        vector.ndcg_10
    );
    assert!(
        fulltext.ndcg_10 >= 0.3508 - 0.015,
        "full-text nDCG@10 {:.4} vs Lucene 0.3508",
        fulltext.ndcg_10
    );
    assert!(
        hybrid.ndcg_10 >= 0.4122,
        "hybrid nDCG@10 {:.4} vs reference RRF 0.4122",
        hybrid.ndcg_10
    );
}
