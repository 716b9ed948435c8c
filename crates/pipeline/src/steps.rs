//! The pipeline's steps as the logic sees them. In a component they are
//! the composed Wasm steps (`lode:{extract,chunk,embed}`); natively, the
//! crates those steps wrap (`lode-extract`, `lode-chunk`, `lode-embed`).

use lode_api::ApiError;
use lode_index::ChunkRecord;
use lode_store::Chunking;

/// Where a page's text lies in the Markdown (character offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSpan {
    /// 1-based page number.
    pub page: u32,
    /// First character.
    pub start: u32,
    /// One past the last character.
    pub end: u32,
}

/// A document turned into Markdown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    /// The text.
    pub markdown: String,
    /// Page spans, for paged sources.
    pub pages: Vec<PageSpan>,
    /// The document's own title.
    pub title: Option<String>,
    /// Its author.
    pub author: Option<String>,
    /// Its language.
    pub language: Option<String>,
    /// What the extractor noticed (unreadable pages, unknown fonts…).
    pub warnings: Vec<String>,
}

/// Extract, chunk and embed.
pub trait Steps {
    /// The embedding model's id (vectors are kept per model).
    fn model(&self) -> String;
    /// `bytes` of `media_type` as Markdown (415, 422, 413, or 423 for a
    /// PDF that needs its password).
    fn extract(
        &self,
        bytes: &[u8],
        media_type: &str,
        password: Option<String>,
    ) -> Result<Extracted, ApiError>;
    /// `markdown` as chunk records, without vectors yet.
    fn split(&self, markdown: &str, pages: &[PageSpan], chunking: Chunking) -> Vec<ChunkRecord>;
    /// One vector per text, in order.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ApiError>;
}
