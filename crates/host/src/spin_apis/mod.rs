//! The Spin host interfaces a component may import, implemented for the local
//! host from the WIT that spin-sdk 7 ships (copied to `crates/host/wit/deps`):
//! `spin:sqlite@3.1.0`, `spin:key-value@3.0.0`, `spin:variables@3.0.0`,
//! `spin:redis@3.0.0`, and from Spin 2's WIT `fermyon:spin/llm@2.0.0` and
//! `fermyon:spin/variables@2.0.0`, which Spin 3+ still serves.
//!
//! Capability checks follow Spin's factors: opening a database or store the
//! component did not declare is `access-denied` (factor-sqlite `open_impl`,
//! factor-key-value), a Redis address outside `allowed_outbound_hosts` is
//! `invalid-address` (factor-outbound-redis), a variable the component did not
//! declare is `undefined` (factor-variables).
//!
//! One module per capability, as Spin splits its factor crates; this one
//! holds what they share (capabilities, handles, the linker).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use wasmtime::component::{Accessor, FutureReader, HasData, Resource, ResourceTable, StreamReader};

use crate::allowed_hosts::AllowList;
use crate::stores::{self, StateDir};
use crate::variables::{Lookup, lookup};

/// Generated bindings for the imports.
pub mod bindings {
    wasmtime::component::bindgen!({
        inline: r#"
            package lode:host;
            world spin-imports {
                import spin:key-value/key-value@3.0.0;
                import spin:sqlite/sqlite@3.1.0;
                import spin:variables/variables@3.0.0;
                import spin:redis/redis@3.0.0;
                import fermyon:spin/llm@2.0.0;
                import fermyon:spin/variables@2.0.0;
            }
        "#,
        path: [
            "wit/deps/spin-key-value@3.0.0",
            "wit/deps/spin-sqlite@3.1.0",
            "wit/deps/spin-variables@3.0.0",
            "wit/deps/spin-redis@3.0.0",
            "wit/deps/fermyon-spin@2.0.0",
        ],
        imports: {
            // Embedding is CPU work: run it off the async threads.
            "fermyon:spin/llm.generate-embeddings": async | trappable,
            default: trappable,
        },
        with: {
            "spin:key-value/key-value.store": crate::spin_apis::KvStore,
            "spin:sqlite/sqlite.connection": crate::spin_apis::SqliteConn,
            "spin:redis/redis.connection": crate::spin_apis::RedisConn,
        },
    });
}

use bindings::fermyon::spin::llm;
use bindings::fermyon::spin::variables as vars2;
use bindings::spin::key_value::key_value as kv;
use bindings::spin::redis::redis as rd;
use bindings::spin::sqlite::sqlite as sq;
use bindings::spin::variables::variables as vars;

/// What one component may use, fixed at start-up from its manifest entry.
pub struct Capabilities {
    /// Component id (for messages).
    pub id: String,
    /// `sqlite_databases`.
    pub sqlite_databases: Vec<String>,
    /// `key_value_stores`.
    pub key_value_stores: Vec<String>,
    /// Resolved component variables.
    pub variables: BTreeMap<String, String>,
    /// `allowed_outbound_hosts`, parsed.
    pub allowed_hosts: AllowList,
    /// Where the stores live.
    pub state: StateDir,
    /// The shared key-value file (single statements only, so one connection serves all).
    pub key_value: Arc<Mutex<rusqlite::Connection>>,
    /// `ai_models` the component may use.
    pub ai_models: Vec<String>,
    /// The embedding model, loaded once at start-up when any component declares it.
    pub embedder: Option<Arc<lode_embed::Embedder>>,
}

/// The name Spin gives all-MiniLM-L6-v2 (spin-sdk `EmbeddingModel::AllMiniLmL6V2`).
pub const EMBEDDING_MODEL: &str = "all-minilm-l6-v2";

/// An open `spin:key-value` store handle.
#[derive(Clone)]
pub struct KvStore {
    label: String,
    db: Arc<Mutex<rusqlite::Connection>>,
}

/// An open `spin:sqlite` connection: a connection of its own, so one
/// instance's transaction never mixes with another's statements.
#[derive(Clone)]
pub struct SqliteConn(Arc<Mutex<rusqlite::Connection>>);

/// An open `spin:redis` connection.
#[derive(Clone)]
pub struct RedisConn(redis::aio::MultiplexedConnection);

/// The `HasData` marker for all Spin interfaces.
pub struct SpinHost;

impl HasData for SpinHost {
    type Data<'a> = SpinView<'a>;
}

/// What the Spin interfaces see of a store's data.
pub struct SpinView<'a> {
    /// The store's resource table (shared with WASI).
    pub table: &'a mut ResourceTable,
    /// The component's capabilities.
    pub caps: &'a Capabilities,
}

fn get<T: Clone + 'static, D>(
    accessor: &Accessor<D, SpinHost>,
    handle: &Resource<T>,
) -> wasmtime::Result<T> {
    accessor.with(|mut a| Ok(a.get().table.get(handle)?.clone()))
}

fn blocking_err(e: tokio::task::JoinError) -> wasmtime::Error {
    wasmtime::Error::msg(format!("host task failed: {e}"))
}

mod embeddings;
mod key_value;
mod outbound_redis;
mod sqlite;
mod variables;

/// An address with any password replaced, for logs.
pub fn redact(address: &str) -> String {
    match url::Url::parse(address) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => address.to_string(),
    }
}

/// Add every Spin interface to `linker`, reading each store's view with `view`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    view: fn(&mut T) -> SpinView<'_>,
) -> wasmtime::Result<()> {
    bindings::SpinImports::add_to_linker::<T, SpinHost>(linker, view)
}
