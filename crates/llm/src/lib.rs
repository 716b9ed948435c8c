//! Lode's side of the LLM provider APIs: request bodies, response parsing and
//! the retry policy, with no HTTP client inside. A component sends the bytes
//! with whatever outbound HTTP its host gives it (Spin's `wasi:http`), and the
//! same code is tested natively.

pub mod embeddings;
pub mod retry;
