//! The search index: chunks with their vectors and an FTS5 full-text table,
//! all in the tenant's SQLite database, and the three ways to search them.
//!
//! - **vector**: exact cosine over f32 BLOBs (vectors are L2-normalised, so a
//!   dot product), ties broken by chunk id;
//! - **fulltext**: BM25 (k1 = 1.2, b = 0.75) from the tenant's own
//!   statistics over Lode's analysis (`analyze`: letters and digits, lower
//!   case, Porter stems), FTS5 finding the candidates (`store/fulltext.rs`);
//! - **hybrid**: Reciprocal Rank Fusion (k = 60) of the two top-N lists.

pub mod analyze;
pub mod bm25;
pub mod fulltext;
pub mod hybrid;
pub mod search;
pub mod store;
pub mod vector;

pub use hybrid::{Fused, rrf};
pub use search::{Mode, Query, SearchHit, SearchRequest};
pub use store::{BACKFILL_BATCH, ChunkRecord, Index, StoredChunk, analyze_any_pending};
pub use vector::{decode, encode};

/// One ranked chunk from a single search mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The chunk's row id.
    pub chunk_id: i64,
    /// The mode's own score (cosine for vector, BM25 for full text; higher is better).
    pub score: f64,
}
