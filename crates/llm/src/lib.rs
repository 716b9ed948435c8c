//! Lode's side of the LLM provider APIs: request bodies and response
//! parsing ([`chat`], [`embeddings`], [`sse`]), the registry of providers
//! and models, and the [`client`] that walks it. No HTTP client is inside:
//! the client sends through the host's outbound HTTP (`lode_capabilities`;
//! Spin's `wasi:http` in a component), so the same code is tested natively.

pub mod chat;
pub mod circuit;
pub mod client;
pub mod embeddings;
pub mod registry;
pub mod sse;
