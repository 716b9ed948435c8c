//! The search index: chunks with their vectors and an FTS5 full-text table,
//! all in the tenant's SQLite database, and the three ways to search them.
//!
//! - **vector**: exact cosine over f32 BLOBs (vectors are L2-normalised, so a
//!   dot product), ties broken by chunk id;
//! - **fulltext**: FTS5 `bm25()` (k1 = 1.2, b = 0.75) over a Porter-stemmed
//!   `unicode61` tokenizer, the free-text query OR-ed term by term;
//! - **hybrid**: Reciprocal Rank Fusion (k = 60) of the two top-N lists.

pub mod fulltext;
pub mod hybrid;
pub mod search;
pub mod store;
pub mod vector;

pub use hybrid::{Fused, rrf};
pub use search::{Mode, Query, SearchHit, SearchRequest};
pub use store::{ChunkRecord, Index, StoredChunk};
pub use vector::{decode, encode};

/// One ranked chunk from a single search mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The chunk's row id.
    pub chunk_id: i64,
    /// The mode's own score (cosine for vector; negated bm25, higher is better, for full text).
    pub score: f64,
}
