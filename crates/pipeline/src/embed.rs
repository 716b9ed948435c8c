//! The embed step with its cache: a vector for every chunk that needs one,
//! from the tenant's vector cache or the model, a few chunks at a time so
//! a queued job renews its lease while a long document embeds.

use std::collections::HashMap;

use lode_api::ApiError;
use lode_capabilities::{KeyValue, Variables};
use lode_index::ChunkRecord;
use lode_store::Sql;

use crate::{Pipeline, Progress, Steps};

/// Chunks per call of the model: about a second of work in Wasm, so the
/// worker's lease is renewed often (batches of 32 were no faster: README).
pub const EMBED_SLICE: usize = 4;

impl<H: KeyValue + Variables, S: Sql, T: Steps> Pipeline<'_, H, S, T> {
    /// Give a vector to every record that `stored` does not already hold
    /// unchanged, from the vector cache or the model. Returns how many the
    /// model embedded. The model runs [`EMBED_SLICE`] chunks at a time and
    /// `progress` hears of each slice, so a queued job renews its lease
    /// while a long document embeds (minutes, at a few chunks a second).
    pub async fn embed_missing(
        &self,
        records: &mut [ChunkRecord],
        stored: &HashMap<i64, String>,
        progress: &impl Progress,
    ) -> Result<usize, ApiError> {
        let todo: Vec<usize> = (0..records.len())
            .filter(|&i| stored.get(&records[i].ordinal) != Some(&records[i].sha256))
            .collect();
        let cache = VectorCache {
            store: self.host,
            prefix: format!("vec:{}:{}:", self.steps.model(), self.tenant.as_str()),
        };
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
            self.count(lode_metrics::CACHE, &labels, n as f64).await;
        }
        if missing.is_empty() {
            return Ok(0);
        }
        for slice in missing.chunks(EMBED_SLICE) {
            let texts: Vec<String> = slice.iter().map(|&i| records[i].text.clone()).collect();
            let started = std::time::Instant::now();
            let vectors = self.steps.embed(&texts)?;
            if vectors.len() != texts.len() {
                log::error!(
                    "embed step returned {} vectors for {} texts",
                    vectors.len(),
                    texts.len()
                );
                return Err(ApiError::internal());
            }
            let labels = [("stage", "ingest")];
            let took = started.elapsed().as_secs_f64();
            if let Err(e) =
                lode_metrics::observe(self.sql, lode_metrics::EMBED_DURATION, &labels, took).await
            {
                log::warn!("metric not recorded: {e}");
            }
            self.count(lode_metrics::EMBED_TEXTS, &labels, texts.len() as f64)
                .await;
            for (&i, v) in slice.iter().zip(vectors) {
                cache.set(&records[i].sha256, &v).await;
                records[i].vector = Some(v);
            }
            progress.working().await?;
        }
        Ok(missing.len())
    }

    async fn count(&self, family: lode_metrics::Family, labels: &[(&str, &str)], n: f64) {
        if let Err(e) = lode_metrics::add(self.sql, family, labels, n).await {
            log::warn!("metric {} not recorded: {e}", family.name);
        }
    }
}

/// Vectors already computed for this tenant, by sha256 of the chunk text,
/// in the key-value store: text that was embedded once (in any document, or
/// before a delete and re-upload) is never embedded again. A cache failure
/// is only logged: it costs an embedding, never an ingestion.
struct VectorCache<'a, K> {
    store: &'a K,
    prefix: String,
}

impl<K: KeyValue> VectorCache<'_, K> {
    async fn get(&self, sha256: &str) -> Option<Vec<f32>> {
        let bytes = self
            .store
            .get(&format!("{}{sha256}", self.prefix))
            .await
            .ok()??;
        lode_index::decode(&bytes)
    }

    async fn set(&self, sha256: &str, vector: &[f32]) {
        let key = format!("{}{sha256}", self.prefix);
        if let Err(e) = self.store.set(&key, &lode_index::encode(vector)).await {
            log::error!("vector cache write failed: {e}");
        }
    }
}
