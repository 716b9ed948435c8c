//! `lode-host wizen`: pre-initialise a component at build time with
//! wasmtime-wizer, so that work done by its `wizer-initialize` export (the
//! embed step loads and optimises its model there) is in the snapshot and
//! never repeated per request.
//!
//! The output is an ordinary component (wasmtime-wizer rewrites the core
//! modules' data segments and globals; the instrumentation is not kept), so
//! Spin runs it unchanged. Only linear memory and globals are snapshotted, so
//! the initialiser must not keep host handles: it gets WASI (random numbers
//! seed std's hash maps) and nothing else.

use anyhow::{Context, Result, anyhow};
use wasmtime::component::{Component, Instance, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wizer::Wizer;

/// A store's data with WASI and nothing else: what an initialiser (or a
/// benchmark of a step component) may use.
pub struct Ctx {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl Ctx {
    /// An empty WASI context and resource table.
    pub fn new() -> Self {
        Ctx {
            wasi: WasiCtxBuilder::new().build(),
            table: ResourceTable::new(),
        }
    }
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx::new()
    }
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

async fn instantiate(store: &mut Store<Ctx>, component: &Component) -> wasmtime::Result<Instance> {
    let mut linker = Linker::new(store.engine());
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    // Only WASI: any other import makes instantiation fail, which is the
    // point (an initialiser must not reach Spin). Not
    // `define_unknown_imports_as_traps`: it stubs `wasi:io/error@0.2.12` with
    // a fresh resource type although `@0.2.6` is defined, and the two clash.
    linker.instantiate_async(store, component).await
}

/// Run `input`'s `wizer-initialize` export and return the snapshot.
pub async fn wizen(input: &[u8]) -> Result<Vec<u8>> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    // As `wasmtime wizer` does: the snapshot must not depend on this CPU.
    config.relaxed_simd_deterministic(true);
    let engine = Engine::new(&config).map_err(|e| anyhow!("{e:?}"))?;
    let mut store = Store::new(&engine, Ctx::new());
    // The snapshot reads whole linear memories (hundreds of MB with the model)
    // through the instrumentation's exports; lift the DoS limit on that copy.
    store.set_hostcall_fuel(usize::MAX);
    // keep_init_func(true): without it the rewrite drops the core export the
    // component still aliases (bytecodealliance/wasmtime#13168).
    let (wasm, _) = Wizer::new()
        .keep_init_func(true)
        .run_component(&mut store, input, instantiate)
        .await
        .map_err(|e| anyhow!("{e:?}"))
        .context("pre-initialising the component")?;
    Component::new(&engine, &wasm)
        .map_err(|e| anyhow!("{e:?}"))
        .context("the pre-initialised component does not validate")?;
    Ok(wasm)
}
