//! Ingestion natively: the crates the Wasm steps wrap (`lode-extract`,
//! `lode-chunk` with the model's tokenizer, `lode-embed` with the real
//! model), a real SQLite store, an in-memory key-value store, and real
//! HTTP on loopback for fetching.

use std::cell::Cell;

use lode_capabilities::native::{Loopback, NativeHost};
use lode_index::ChunkRecord;
use lode_store::rusqlite_sql::RusqliteSql;
use lode_store::{Settings, TenantSettings};

use super::*;

/// The steps as the crates that the step components wrap, counting the
/// texts the model embeds.
struct Crates {
    tokenizer: lode_chunk::ModelTokenizer,
    embedder: lode_embed::Embedder,
    embedded: Cell<usize>,
}

fn crates() -> Crates {
    let dir = lode_embed::repo_model_dir();
    let json = std::fs::read(dir.join("tokenizer.json")).expect("model files (make models)");
    Crates {
        tokenizer: lode_chunk::ModelTokenizer::from_bytes(&json).unwrap(),
        embedder: lode_embed::Embedder::load_dir(&dir).unwrap(),
        embedded: Cell::new(0),
    }
}

impl Steps for Crates {
    fn model(&self) -> String {
        "all-MiniLM-L6-v2".into()
    }

    fn extract(
        &self,
        bytes: &[u8],
        media_type: &str,
        password: Option<String>,
    ) -> Result<Extracted, ApiError> {
        let options = lode_extract::Options {
            password,
            ..lode_extract::Options::default()
        };
        let out = lode_extract::extract(bytes, media_type, &options)
            .map_err(|e| ApiError::new(ErrorCode::Unreadable, e.to_string()))?;
        Ok(Extracted {
            pages: out
                .pages
                .iter()
                .map(|p| PageSpan {
                    page: p.page,
                    start: p.start as u32,
                    end: p.end as u32,
                })
                .collect(),
            markdown: out.markdown,
            title: out.title,
            author: out.author,
            language: out.language,
            warnings: out.warnings,
        })
    }

    fn split(&self, markdown: &str, _pages: &[PageSpan], chunking: Chunking) -> Vec<ChunkRecord> {
        let options = lode_chunk::ChunkOptions {
            target_tokens: chunking.target_tokens as usize,
            overlap: chunking.overlap as f32,
            max_tokens: 254,
        };
        lode_chunk::chunk_markdown(markdown, options, &self.tokenizer)
            .into_iter()
            .enumerate()
            .map(|(i, c)| ChunkRecord {
                ordinal: i as i64,
                sha256: sha256_hex(c.text.as_bytes()),
                pages: None,
                chars: (c.chars.0 as i64, c.chars.1 as i64),
                token_count: c.token_count as i64,
                heading_path: c.heading_path,
                text: c.text,
                vector: None,
            })
            .collect()
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ApiError> {
        self.embedded.set(self.embedded.get() + texts.len());
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.embedder
            .embed(&refs)
            .map_err(|e| ApiError::internal_because(e.to_string()))
    }
}

/// Counts the slices it hears of; fails from the `fail_at`-th one.
struct Watch {
    working: Cell<usize>,
    fail_at: usize,
}

impl Progress for Watch {
    async fn done(&self, _step: Step) -> Result<(), ApiError> {
        Ok(())
    }

    async fn working(&self) -> Result<(), ApiError> {
        self.working.set(self.working.get() + 1);
        match self.working.get() >= self.fail_at {
            true => Err(ApiError::conflict("the job's lease was lost")),
            false => Ok(()),
        }
    }
}

fn text(paragraphs: usize, topic: &str) -> String {
    (0..paragraphs)
        .map(|i| {
            format!(
                "## Part {i}\n\n{}\n\n",
                format!("Notes on {topic}, section {i}. ").repeat(30)
            )
        })
        .collect()
}

fn input(title: &str, content: &str) -> DocumentInput {
    DocumentInput {
        title: title.into(),
        content: content.into(),
        content_type: "text/markdown".into(),
        metadata: None,
    }
}

const SMALL: Chunking = Chunking {
    target_tokens: 128,
    overlap: 0.0,
};

#[test]
fn documents_are_chunked_embedded_once_and_indexed_and_duplicates_cost_nothing() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let host = NativeHost::new(&[], &[]);
    let steps = crates();
    let p = Pipeline {
        host: &host,
        sql: &sql,
        tenant: &acme,
        steps: &steps,
    };
    let body = text(4, "turbine blades");
    let first = RusqliteSql::block_on(p.add(input("Blades", &body), &[], SMALL, &Quiet)).unwrap();
    assert!(!first.duplicate && first.chunk_count > 1);
    assert_eq!(first.embedded, first.chunk_count);
    assert_eq!(steps.embedded.get(), first.chunk_count);
    // The same content again: the same document, nothing embedded.
    let again =
        RusqliteSql::block_on(p.add(input("Blades copy", &body), &[], SMALL, &Quiet)).unwrap();
    assert!(again.duplicate);
    assert_eq!(again.document.id, first.document.id);
    // New content that shares chunks: only the new chunks reach the model.
    let more = format!("{body}## Extra\n\nSomething else entirely about gearboxes.\n");
    let third = RusqliteSql::block_on(p.add(input("Blades+", &more), &[], SMALL, &Quiet)).unwrap();
    assert!(
        third.embedded < third.chunk_count,
        "{} of {}",
        third.embedded,
        third.chunk_count
    );
    let index = Index::new(&sql, &acme, "all-MiniLM-L6-v2");
    let stored = RusqliteSql::block_on(index.document_chunks(&third.document.id)).unwrap();
    assert_eq!(stored.len(), third.chunk_count);
}

#[test]
fn an_update_embeds_only_the_chunks_that_changed() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let host = NativeHost::new(&[], &[]);
    let steps = crates();
    let p = Pipeline {
        host: &host,
        sql: &sql,
        tenant: &acme,
        steps: &steps,
    };
    let body = text(4, "compressors");
    let first = RusqliteSql::block_on(p.add(input("C", &body), &[], SMALL, &Quiet)).unwrap();
    let before = steps.embedded.get();
    let changed = format!("{body}## New\n\nA closing note on surge margins.\n");
    let updated =
        RusqliteSql::block_on(p.update(&first.document.id, input("C", &changed), SMALL, &Quiet))
            .unwrap()
            .unwrap();
    assert_eq!(updated.document.version, 2);
    assert!(
        updated.embedded >= 1 && updated.embedded < updated.chunk_count,
        "{updated:?}"
    );
    assert_eq!(steps.embedded.get() - before, updated.embedded);
    assert!(
        RusqliteSql::block_on(p.update("doc_missing", input("C", "x"), SMALL, &Quiet))
            .unwrap()
            .is_none()
    );
}

#[test]
fn quotas_refuse_before_any_embedding_and_a_lost_lease_stores_nothing() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let host = NativeHost::new(&[], &[]);
    let steps = crates();
    let p = Pipeline {
        host: &host,
        sql: &sql,
        tenant: &acme,
        steps: &steps,
    };
    let mut settings = TenantSettings::default();
    settings.quotas.chunks = 2;
    let ceiling = Ceiling::parse("").unwrap();
    RusqliteSql::block_on(Settings::new(&sql, &acme).put(settings, &ceiling)).unwrap();
    let e = RusqliteSql::block_on(p.add(input("Big", &text(6, "rotors")), &[], SMALL, &Quiet))
        .unwrap_err();
    assert_eq!(e.status(), 429, "{e:?}");
    assert_eq!(steps.embedded.get(), 0);

    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let p = Pipeline {
        host: &host,
        sql: &sql,
        tenant: &acme,
        steps: &steps,
    };
    let watch = Watch {
        working: Cell::new(0),
        fail_at: 2,
    };
    let e = RusqliteSql::block_on(p.add(input("Long", &text(8, "bearings")), &[], SMALL, &watch))
        .unwrap_err();
    assert_eq!(e.status(), 409);
    assert_eq!(
        watch.working.get(),
        2,
        "progress is heard after every slice of {EMBED_SLICE}"
    );
    let listed = RusqliteSql::block_on(
        Documents::new(&sql, &acme).find_by_sha256(&sha256_hex(text(8, "bearings").as_bytes())),
    )
    .unwrap();
    assert!(
        listed.is_none(),
        "nothing is stored before the chunks are embedded"
    );
}

#[test]
fn extracted_text_keeps_the_sources_facts_under_the_callers_metadata() {
    let (sql, acme, _) = RusqliteSql::with_two_tenants();
    let host = NativeHost::new(&[], &[]);
    let steps = crates();
    let p = Pipeline {
        host: &host,
        sql: &sql,
        tenant: &acme,
        steps: &steps,
    };
    let html = b"<html><head><title>Wind</title></head><body><h1>Wind</h1><p>Turbines turn wind into power.</p></body></html>";
    let extracted = steps.extract(html, "text/html", None).unwrap();
    let mut source = Map::new();
    source.insert("media_type".into(), json!("text/html"));
    source.insert("source_url".into(), json!("https://example.com/wind"));
    let mut caller = Map::new();
    caller.insert("source_url".into(), json!("mine"));
    let options = Options {
        title: None,
        metadata: caller,
        chunking: SMALL,
    };
    let done = RusqliteSql::block_on(p.add_extracted(
        extracted,
        options,
        Some("wind".into()),
        source,
        &Quiet,
    ))
    .unwrap();
    assert_eq!(done.document.title, "Wind");
    let meta = done.document.metadata.clone();
    assert_eq!(
        (meta["media_type"].as_str(), meta["source_url"].as_str()),
        (Some("text/html"), Some("mine"))
    );

    let empty = Extracted::default();
    let options = Options {
        title: None,
        metadata: Map::new(),
        chunking: SMALL,
    };
    let e = RusqliteSql::block_on(p.add_extracted(empty, options, None, Map::new(), &Quiet))
        .unwrap_err();
    assert_eq!(e.status(), 422);
}

#[test]
fn fetching_follows_redirects_within_the_fence_and_the_size_limit() {
    let server = Loopback::start(vec![
        (
            302,
            vec![("location".into(), "/final.txt".into())],
            String::new(),
        ),
        (
            200,
            vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            "hello".into(),
        ),
        (200, vec![], "x".repeat(2048)),
    ]);
    let http = NativeHost::new(&[&server.origin], &[("url_ingest_allow_private", "true")]);
    let url = fetch::parse_url(&format!("{}/start", server.origin)).unwrap();
    let (fence, limit) = RusqliteSql::block_on(async {
        (fetch::Fence::load(&http).await, lode_api::BodyLimit(1024))
    });
    let got = RusqliteSql::block_on(fetch::fetch(&http, url.clone(), limit, &fence)).unwrap();
    assert_eq!(got.bytes, b"hello");
    assert!(got.url.ends_with("/final.txt"));
    assert_eq!(fetch::source(&got).0.as_deref(), Some("final.txt"));
    let e = RusqliteSql::block_on(fetch::fetch(&http, url.clone(), limit, &fence)).unwrap_err();
    assert_eq!(e.status(), 413);
    let paths: Vec<String> = server.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/start", "/final.txt", "/start"]);

    // Without the operator's consent loopback is never fetched, and a host
    // outside the allow-list is refused by the host.
    let closed = NativeHost::new(&[&server.origin], &[]);
    let fence = RusqliteSql::block_on(fetch::Fence::load(&closed));
    let e = RusqliteSql::block_on(fetch::fetch(&closed, url, limit, &fence)).unwrap_err();
    assert!(e.message.contains("internal addresses"), "{}", e.message);
    let elsewhere = fetch::parse_url("http://127.0.0.1:9/x").unwrap();
    let fence = RusqliteSql::block_on(fetch::Fence::load(&http));
    let e = RusqliteSql::block_on(fetch::fetch(&http, elsewhere, limit, &fence)).unwrap_err();
    assert!(e.message.contains("not allowed"), "{}", e.message);
}
