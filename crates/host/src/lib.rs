//! lode-host: a local runner for Spin applications, built on wasmtime.
//!
//! It reads `spin.toml`, builds components on request (`lode-host build`), and
//! serves them (`lode-host up`): HTTP routes and Redis triggers, with the Spin
//! host interfaces (SQLite, key-value, variables, outbound HTTP and Redis)
//! scoped by each component's declared capabilities. The same manifest and
//! `.wasm` files run unchanged on real Spin.

pub mod allowed_hosts;
pub mod build;
pub mod compose;
pub mod http_server;
pub mod ids;
pub mod manifest;
pub mod outbound;
pub mod redis_trigger;
pub mod routes;
pub mod runtime;
pub mod spin_apis;
pub mod stores;
pub mod sweeper;
pub mod variables;
pub mod wizen;
