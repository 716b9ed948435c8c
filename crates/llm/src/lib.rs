//! Lode's side of the LLM provider APIs: request bodies and response parsing,
//! with no HTTP client inside (the retry policy is `lode-retry`). A component sends the bytes
//! with whatever outbound HTTP its host gives it (Spin's `wasi:http`), and the
//! same code is tested natively.

pub mod chat;
pub mod circuit;
pub mod embeddings;
pub mod registry;
pub mod sse;
