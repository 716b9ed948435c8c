//! Ingestion as logic, shared by the documents API (in a request) and the
//! queue worker (in a job): extracted text → quota check → chunks → vectors
//! (from the cache or the model) → stored document → index rows, plus
//! fetching a URL. It runs over the host's capabilities
//! (`lode_capabilities`: the key-value store holds the vector cache,
//! variables the operator's ceiling, outbound HTTP the fetches) and the
//! pipeline [`Steps`], so the same code runs in a Spin component and in
//! native tests.

pub mod embed;
pub mod fetch;
pub mod steps;

use lode_api::{ApiError, ErrorCode};
use lode_capabilities::{KeyValue, Variables};
use lode_index::Index;
use lode_jobs::Step;
use lode_store::ids::sha256_hex;
use lode_store::{Ceiling, Chunking, Document, DocumentInput, Documents, Quota, Sql, Tenant};
use serde_json::{Map, Value as Json, json};

pub use embed::EMBED_SLICE;
pub use steps::{Extracted, PageSpan, Steps};

/// The outcome of an ingestion.
#[derive(Debug)]
pub struct Ingested {
    /// The stored document (the existing one for a duplicate).
    pub document: Document,
    /// The tenant already had this exact content; nothing was stored.
    pub duplicate: bool,
    /// Chunks indexed (0 for a duplicate).
    pub chunk_count: usize,
    /// Chunks the model had to embed (the rest came from the vector cache).
    pub embedded: usize,
    /// What the extractor noticed (unreadable pages, unknown fonts…).
    pub warnings: Vec<String>,
}

/// How to store an extracted document.
pub struct Options {
    /// The caller's title; else the document's own, else `fallback_title`.
    pub title: Option<String>,
    /// The caller's metadata; wins over the source's facts.
    pub metadata: Map<String, Json>,
    /// Chunking for this document.
    pub chunking: Chunking,
}

/// Told as each pipeline step ends: a queue job records progress (and learns
/// whether its worker still holds the job); the synchronous API reports none.
#[allow(async_fn_in_trait)] // components are single-threaded: no `Send` bound is wanted
pub trait Progress {
    /// `step` finished; an error stops the ingestion before the next step.
    async fn done(&self, step: Step) -> Result<(), ApiError>;

    /// Still working on a long step (a slice of chunks embedded): a queued
    /// job renews its lease here; an error stops the ingestion.
    async fn working(&self) -> Result<(), ApiError>;
}

/// Progress nobody watches (the synchronous API).
pub struct Quiet;

impl Progress for Quiet {
    async fn done(&self, _step: Step) -> Result<(), ApiError> {
        Ok(())
    }

    async fn working(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

/// One tenant's ingestion: the host's capabilities, its store, the steps.
pub struct Pipeline<'a, H, S, T> {
    /// Key-value (the vector cache) and variables (the operator's ceiling).
    pub host: &'a H,
    /// The store.
    pub sql: &'a S,
    /// Whose documents.
    pub tenant: &'a Tenant,
    /// Extract, chunk, embed.
    pub steps: &'a T,
}

impl<H: KeyValue + Variables, S: Sql, T: Steps> Pipeline<'_, H, S, T> {
    /// The tenant's quotas in force (its settings under the operator's ceiling).
    pub async fn quota(&self) -> Result<Quota<'_, S>, ApiError> {
        let text = self
            .host
            .variable("tenant_ceiling")
            .await
            .unwrap_or_default();
        let ceiling = Ceiling::parse(&text).map_err(|e| {
            log::error!("{e}");
            ApiError::internal()
        })?;
        Quota::in_force(self.sql, self.tenant, &ceiling).await
    }

    /// Store a new document and index it; content the tenant already has
    /// (same sha256) returns the existing document instead of a copy.
    ///
    /// Safe to re-run after a crash at any point: nothing is stored before
    /// the chunks are embedded, the document row comes before its index
    /// rows, and a stored document without index rows (a worker killed
    /// between the two writes) is indexed by the re-run instead of being
    /// called a duplicate. The index write itself is one transaction,
    /// replacing the document's rows.
    pub async fn add(
        &self,
        input: DocumentInput,
        pages: &[PageSpan],
        chunking: Chunking,
        progress: &impl Progress,
    ) -> Result<Ingested, ApiError> {
        input.check()?;
        let docs = Documents::new(self.sql, self.tenant);
        let model = self.steps.model();
        let index = Index::new(self.sql, self.tenant, &model);
        let existing = docs
            .find_by_sha256(&sha256_hex(input.content.as_bytes()))
            .await?;
        if let Some(existing) = existing.as_ref()
            && !index.stored_hashes(&existing.id).await?.is_empty()
        {
            for step in [Step::Chunk, Step::Embed] {
                progress.done(step).await?;
            }
            return Ok(Ingested {
                document: existing.clone(),
                duplicate: true,
                chunk_count: 0,
                embedded: 0,
                warnings: Vec::new(),
            });
        }
        let mut records = self.steps.split(&input.content, pages, chunking);
        // The tenant's quotas must hold the document before it is embedded.
        let adding = lode_store::Holdings {
            documents: u64::from(existing.is_none()),
            stored_bytes: if existing.is_none() {
                input.content.len() as u64
            } else {
                0
            },
            chunks: records.len() as u64,
            queued_jobs: 0,
        };
        self.quota().await?.admit(adding).await?;
        progress.done(Step::Chunk).await?;
        let embedded = self
            .embed_missing(&mut records, &Default::default(), progress)
            .await?;
        progress.done(Step::Embed).await?;
        let document = match existing {
            Some(existing) => {
                index
                    .write(&existing.id, existing.version, &records)
                    .await?;
                existing
            }
            None => {
                let doc = docs.create(input).await?;
                if let Err(e) = index.write(&doc.id, doc.version, &records).await {
                    // Never leave a document that search cannot see.
                    docs.delete(&doc.id).await?;
                    return Err(e.into());
                }
                doc
            }
        };
        Ok(Ingested {
            document,
            duplicate: false,
            chunk_count: records.len(),
            embedded,
            warnings: Vec::new(),
        })
    }

    /// Replace document `id`'s content: a new version, re-indexed; chunks
    /// whose text did not change keep their vectors, and only the new
    /// version's bytes and added chunks count against the quotas. `None`:
    /// no such document.
    pub async fn update(
        &self,
        id: &str,
        input: DocumentInput,
        chunking: Chunking,
        progress: &impl Progress,
    ) -> Result<Option<Ingested>, ApiError> {
        input.check()?;
        let docs = Documents::new(self.sql, self.tenant);
        if docs.get(id).await?.is_none() {
            return Ok(None);
        }
        let model = self.steps.model();
        let index = Index::new(self.sql, self.tenant, &model);
        let stored = index.stored_hashes(id).await?;
        let mut records = self.steps.split(&input.content, &[], chunking);
        let adding = lode_store::Holdings {
            stored_bytes: input.content.len() as u64,
            chunks: records.len().saturating_sub(stored.len()) as u64,
            ..Default::default()
        };
        self.quota().await?.admit(adding).await?;
        progress.done(Step::Chunk).await?;
        let embedded = self.embed_missing(&mut records, &stored, progress).await?;
        progress.done(Step::Embed).await?;
        let Some(document) = docs.update(id, input).await? else {
            return Ok(None);
        };
        index
            .write(&document.id, document.version, &records)
            .await?;
        Ok(Some(Ingested {
            document,
            duplicate: false,
            chunk_count: records.len(),
            embedded,
            warnings: Vec::new(),
        }))
    }

    /// Store extracted Markdown as a `text/markdown` document; the source's
    /// facts (media type, file name, URL, pages, author, language) go into
    /// metadata unless the caller set those keys. `name` is the title of
    /// last resort.
    pub async fn add_extracted(
        &self,
        extracted: Extracted,
        options: Options,
        name: Option<String>,
        mut source: Map<String, Json>,
        progress: &impl Progress,
    ) -> Result<Ingested, ApiError> {
        if extracted.markdown.trim().is_empty() {
            return Err(ApiError::new(
                ErrorCode::Unreadable,
                "no text could be extracted from the document (a scanned PDF without a text layer?)",
            ));
        }
        if !extracted.pages.is_empty() {
            source.insert("pages".into(), json!(extracted.pages.len()));
        }
        if let Some(a) = &extracted.author {
            source.insert("author".into(), json!(a));
        }
        if let Some(l) = &extracted.language {
            source.insert("language".into(), json!(l));
        }
        let mut metadata = source;
        metadata.extend(options.metadata);
        let title = options
            .title
            .or(extracted.title.clone())
            .or(name)
            .unwrap_or_else(|| "Untitled".to_string());
        let input = DocumentInput {
            title: title.chars().take(500).collect(),
            content: extracted.markdown.clone(),
            content_type: "text/markdown".into(),
            metadata: Some(Json::Object(metadata)),
        };
        let mut ingested = self
            .add(input, &extracted.pages, options.chunking, progress)
            .await?;
        ingested.warnings = extracted.warnings;
        Ok(ingested)
    }
}

/// A media type without parameters, lower-cased (`Text/HTML; charset=x` → `text/html`).
pub fn base_type(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
