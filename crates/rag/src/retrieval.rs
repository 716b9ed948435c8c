//! Finding the sources of an answer: the query embedded by the host's
//! embedding model ([`Embed`]), a hybrid search of the tenant's index, and
//! the hits close enough in meaning kept and numbered.

use lode_api::ApiError;
use lode_index::{Index, SearchHit, SearchRequest};
use lode_store::{Sql, Tenant};
use serde_json::{Map, Value as Json, json};

use crate::Source;

/// Sources retrieved unless the request says otherwise.
pub const DEFAULT_K: u32 = 8;
/// More sources than this rarely fit a small model's context.
pub const MAX_K: u32 = 20;
/// Cosine similarity below which a passage is not evidence (all-MiniLM-L6-v2
/// scores unrelated English text around 0–0.2).
pub const DEFAULT_MIN_SCORE: f64 = 0.25;

/// The model that embedded the tenant's chunks, for queries.
#[allow(async_fn_in_trait)] // components are single-threaded: no `Send` bound is wanted
pub trait Embed {
    /// Its name (the index keeps vectors per model).
    fn model(&self) -> String;
    /// `text`'s vector.
    async fn query(&self, text: &str) -> Result<Vec<f32>, ApiError>;
}

/// How sources are found for one question (and for the search tool).
#[derive(Debug, Clone)]
pub struct Retrieval {
    k: u32,
    min_score: f64,
    document_ids: Option<Vec<String>>,
    metadata: Option<Map<String, Json>>,
}

impl Retrieval {
    /// Checked settings (422 out of range); `None`: the defaults.
    pub fn new(
        k: Option<u32>,
        min_score: Option<f64>,
        document_ids: Option<Vec<String>>,
        metadata: Option<Map<String, Json>>,
    ) -> Result<Retrieval, ApiError> {
        let k = k.unwrap_or(DEFAULT_K);
        if !(1..=MAX_K).contains(&k) {
            return Err(ApiError::invalid(format!("k must be 1-{MAX_K}")));
        }
        let min_score = min_score.unwrap_or(DEFAULT_MIN_SCORE);
        if !(-1.0..=1.0).contains(&min_score) {
            return Err(ApiError::invalid("min_score must be between -1 and 1"));
        }
        Ok(Retrieval {
            k,
            min_score,
            document_ids,
            metadata,
        })
    }

    /// The numbered sources for `query` in the tenant's index.
    pub async fn sources<S: Sql>(
        &self,
        sql: &S,
        tenant: &Tenant,
        embed: &impl Embed,
        query: &str,
    ) -> Result<Vec<Source>, ApiError> {
        let query = SearchRequest {
            query: query.to_string(),
            k: Some(self.k),
            mode: None,
            min_score: None,
            document_ids: self.document_ids.clone(),
            metadata: self.metadata.clone(),
        }
        .validate(None)?;
        let vector = embed.query(&query.text).await?;
        let hits = Index::new(sql, tenant, &embed.model())
            .search(&query, Some(&vector))
            .await?;
        Ok(numbered(hits, self.min_score))
    }

    /// What it does, for clients that build their own prompts.
    pub fn describe(&self, model: &str) -> Json {
        json!({"mode": "hybrid", "k": self.k, "min_score": self.min_score, "model": model})
    }
}

/// Hits close enough in meaning to be evidence, numbered from 1 in rank
/// order. A passage found only by its words (no vector rank) is kept: it
/// shares the question's terms.
pub fn numbered(hits: Vec<SearchHit>, min_score: f64) -> Vec<Source> {
    hits.into_iter()
        .filter(|h| h.vector.as_ref().is_none_or(|v| v.score >= min_score))
        .enumerate()
        .map(|(i, h)| Source {
            n: i + 1,
            chunk_id: h.chunk_id,
            document_id: h.document_id,
            title: h.title,
            pages: h.pages,
            heading_path: h.heading_path,
            text: h.text,
            score: h.score,
        })
        .collect()
}
