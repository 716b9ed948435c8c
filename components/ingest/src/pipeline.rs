//! Calls into the pipeline step components (`lode:{extract,chunk,embed}`,
//! composed in through `[component.documents.dependencies]`), with their
//! failures turned into API errors, and the chunk → embed → index sequence.

use std::collections::HashMap;

use lode_api::{ApiError, ErrorCode};
use lode_index::ChunkRecord;
use lode_store::Tenant;
use lode_store::ids::sha256_hex;

use crate::lode::chunk::chunk;
use crate::lode::embed::embed;
use crate::lode::extract::extract;
use lode_store::Chunking;

/// Pages a PDF may have before it is refused.
const MAX_PAGES: u32 = 2000;

/// A document turned into Markdown by the extract step.
pub type Extracted = extract::Extracted;

/// Extract `bytes` of `media_type` to Markdown.
pub fn extract(
    bytes: &[u8],
    media_type: &str,
    password: Option<String>,
) -> Result<Extracted, ApiError> {
    let options = extract::Options {
        password,
        max_pages: MAX_PAGES,
    };
    extract::extract(bytes, media_type, &options).map_err(|e| match e {
        extract::Error::Unsupported(m) => ApiError::new(ErrorCode::UnsupportedMediaType, m),
        extract::Error::Encrypted => ApiError::new(
            ErrorCode::Encrypted,
            "the PDF is encrypted; send its password in the Lode-Pdf-Password header",
        ),
        extract::Error::Malformed(m) => ApiError::new(ErrorCode::Unreadable, m),
        extract::Error::TooLarge(m) => ApiError::new(ErrorCode::PayloadTooLarge, m),
        extract::Error::Encoding(m) => ApiError::new(ErrorCode::Unreadable, m),
    })
}

/// The model id of the composed embed step.
pub fn model() -> String {
    embed::model()
}

/// The chunk step: `markdown` as chunk records, without vectors yet.
pub fn split(markdown: &str, pages: &[extract::PageSpan], chunking: Chunking) -> Vec<ChunkRecord> {
    let spans: Vec<chunk::PageSpan> = pages
        .iter()
        .map(|p| chunk::PageSpan {
            page: p.page,
            start: p.start,
            end: p.end,
        })
        .collect();
    let options = chunk::Options {
        target_tokens: chunking.target_tokens,
        overlap: chunking.overlap as f32,
        max_tokens: 254,
    };
    chunk::split(markdown, &spans, options)
        .into_iter()
        .enumerate()
        .map(|(i, c)| ChunkRecord {
            ordinal: i as i64,
            sha256: sha256_hex(c.text.as_bytes()),
            pages: c
                .first_page
                .zip(c.last_page)
                .map(|(a, b)| (a as i64, b as i64)),
            chars: (c.start as i64, c.end as i64),
            token_count: c.token_count as i64,
            heading_path: c.heading_path,
            text: c.text,
            vector: None,
        })
        .collect()
}

/// Chunks per call of the model: about a second of work in Wasm, so the
/// worker's lease is renewed often (batches of 32 were no faster: README).
pub const EMBED_SLICE: usize = 4;

/// The embed step: give a vector to every record that `stored` does not
/// already hold unchanged, from the vector cache or the model. Returns how
/// many the model embedded. The model runs [`EMBED_SLICE`] chunks at a time
/// and `progress` hears of each slice, so a queued job renews its lease
/// while a long document embeds (minutes, at a few chunks a second).
pub async fn embed_missing(
    tenant: &Tenant,
    records: &mut [ChunkRecord],
    stored: &HashMap<i64, String>,
    progress: &impl crate::Progress,
) -> Result<usize, ApiError> {
    let todo: Vec<usize> = (0..records.len())
        .filter(|&i| stored.get(&records[i].ordinal) != Some(&records[i].sha256))
        .collect();
    let cache = VectorCache::open(tenant).await;
    let mut missing = Vec::new();
    let looked_up = todo.len();
    for i in todo {
        match cache.get(&records[i].sha256).await {
            Some(v) => records[i].vector = Some(v),
            None => missing.push(i),
        }
    }
    let cache_counts = [("hit", looked_up - missing.len()), ("miss", missing.len())];
    for (result, n) in cache_counts.into_iter().filter(|(_, n)| *n > 0) {
        let labels = [("cache", "vectors"), ("result", result)];
        lode_common::metrics::add(lode_metrics::CACHE, &labels, n as f64).await;
    }
    if missing.is_empty() {
        return Ok(0);
    }
    for slice in missing.chunks(EMBED_SLICE) {
        let texts: Vec<String> = slice.iter().map(|&i| records[i].text.clone()).collect();
        let started = std::time::Instant::now();
        let vectors = embed(&texts)?;
        lode_common::metrics::embedded("ingest", texts.len(), started.elapsed()).await;
        for (&i, v) in slice.iter().zip(vectors) {
            cache.set(&records[i].sha256, &v).await;
            records[i].vector = Some(v);
        }
        progress.working().await?;
    }
    Ok(missing.len())
}

/// Vectors already computed for this tenant, by sha256 of the chunk text, in
/// Spin's key-value store: text that was embedded once (in any document, or
/// before a delete and re-upload) is never embedded again. A cache failure is
/// only logged: it costs an embedding, never an ingestion.
struct VectorCache {
    store: Option<spin_sdk::key_value::Store>,
    prefix: String,
}

impl VectorCache {
    async fn open(tenant: &Tenant) -> VectorCache {
        let store = spin_sdk::key_value::Store::open_default()
            .await
            .map_err(|e| lode_common::log_error!("vector cache unavailable: {e:?}"))
            .ok();
        VectorCache {
            store,
            prefix: format!("vec:{}:{}:", embed::model(), tenant.as_str()),
        }
    }

    async fn get(&self, sha256: &str) -> Option<Vec<f32>> {
        let bytes = self
            .store
            .as_ref()?
            .get(format!("{}{sha256}", self.prefix))
            .await
            .ok()??;
        lode_index::decode(&bytes)
    }

    async fn set(&self, sha256: &str, vector: &[f32]) {
        if let Some(store) = &self.store
            && let Err(e) = store
                .set(
                    format!("{}{sha256}", self.prefix),
                    lode_index::encode(vector),
                )
                .await
        {
            lode_common::log_error!("vector cache write failed: {e:?}");
        }
    }
}

/// Embed `texts` with the composed embed step.
pub fn embed(texts: &[String]) -> Result<Vec<Vec<f32>>, ApiError> {
    let out = embed::embed(texts).map_err(|e| {
        lode_common::log_error!("embed step failed: {e}");
        ApiError::unavailable("the embedding model is unavailable")
    })?;
    if out.vectors.len() != texts.len() {
        lode_common::log_error!(
            "embed step returned {} vectors for {} texts",
            out.vectors.len(),
            texts.len()
        );
        return Err(ApiError::internal());
    }
    Ok(out.vectors)
}
