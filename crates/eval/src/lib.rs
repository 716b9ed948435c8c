//! Measuring retrieval quality the way the IR literature does.
//!
//! [`dataset`] reads test collections (Cranfield's SMART files, or any BEIR
//! dataset); [`metrics`] scores ranked runs with trec_eval semantics (nDCG@10
//! with linear graded gain, Recall@100, MAP@100), so Lode's numbers compare
//! directly with the references in `shared/data/cranfield/REFERENCE.md`;
//! [`client`] is the rate-limit-aware HTTP client the `lode-eval` binary uses.

pub mod client;
pub mod dataset;
pub mod metrics;

pub use client::Client;
pub use dataset::{Dataset, Document, Query};
pub use metrics::{Scores, evaluate};
