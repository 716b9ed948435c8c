//! The engine, the per-store state, and the application's loaded components.
//!
//! Like Spin, every request (or Redis message) gets a fresh `Store` and a fresh
//! instance; components are compiled once at start-up and pre-instantiated
//! (`InstancePre`), and instances come from wasmtime's pooling allocator, so
//! creating one is cheap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store,
    UpdateDeadline,
};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::allowed_hosts::AllowList;
use crate::manifest::{Dependency, Manifest};
use crate::outbound::OutboundPolicy;
use crate::spin_apis::{self, Capabilities, SpinView};
use crate::stores::StateDir;
use crate::variables::Resolved;

/// Bindings for components that export Spin's Redis handler.
pub mod redis_trigger {
    wasmtime::component::bindgen!({
        inline: "package lode:trigger; world redis-trigger { export spin:redis/inbound-redis@3.0.0; }",
        path: "wit/deps/spin-redis@3.0.0",
    });
}

/// Concurrent instances the pool holds; a request beyond this waits for none
/// and fails with 503, as an overloaded Spin would.
const MAX_INSTANCES: u32 = 128;

/// Everything one store (one request or one message) owns.
pub struct Ctx {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundPolicy,
    caps: Arc<Capabilities>,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Ctx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

fn spin_view(c: &mut Ctx) -> SpinView<'_> {
    SpinView {
        table: &mut c.table,
        caps: &c.caps,
    }
}

impl Ctx {
    /// The outbound-HTTP hooks, needed to convert an incoming request.
    pub fn hooks(&mut self) -> &mut OutboundPolicy {
        &mut self.hooks
    }
}

/// How often the engine's epoch advances: Spin's `DEFAULT_EPOCH_TICK_INTERVAL`
/// (`crates/core/src/lib.rs`).
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// A wasmtime engine configured like Spin's: component model with async,
/// pooling allocator, epoch interruption ticked every [`EPOCH_TICK`] by a
/// thread (as Spin's `EngineBuilder` does), and a compilation cache in
/// `cache_dir` so a restart does not recompile unchanged components.
pub fn engine(cache_dir: &std::path::Path) -> Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 16)
        .total_memories(MAX_INSTANCES * 4)
        .total_tables(MAX_INSTANCES * 16)
        .total_stacks(MAX_INSTANCES * 2)
        .max_core_instances_per_component(32)
        .max_memories_per_component(32)
        .max_tables_per_component(32)
        .max_memory_size(2 << 30)
        .max_component_instance_size(1 << 20);
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config.epoch_interruption(true);
    let mut cache = CacheConfig::new();
    cache.with_directory(cache_dir);
    config.cache(Some(Cache::new(cache)?));
    let engine = Engine::new(&config)?;
    let weak = engine.weak();
    std::thread::spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
    Ok(engine)
}

/// How long one request or message may run in a guest.
///
/// Every epoch tick the guest yields to the host's other work (so a guest
/// that computes without pause cannot hold a thread from the others), and
/// once the deadline has passed it is trapped at its next tick.
pub struct Deadline {
    at: Instant,
    passed: Arc<AtomicBool>,
}

impl Deadline {
    /// A deadline `limit` from now.
    pub fn after(limit: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + limit,
            passed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the guest was trapped for running past it.
    pub fn passed(&self) -> bool {
        self.passed.load(Ordering::Relaxed)
    }
}

/// The deadlines lode-host enforces: `LODE_REQUEST_TIMEOUT_SECS` (default
/// 120) for HTTP requests, `LODE_JOB_TIMEOUT_SECS` (default 3600) for Redis
/// messages: a job renews its lease as it works, so this is only a ceiling
/// on one run of one job (a document of thousands of chunks embeds for
/// many minutes).
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// An HTTP request's.
    pub request: Duration,
    /// A Redis message's.
    pub job: Duration,
}

impl Deadlines {
    fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Deadlines> {
        let secs = |name: &str, default: u64| -> Result<Duration> {
            match env(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
                    _ => bail!("{name}={v:?}: expected a whole number of seconds above 0"),
                },
            }
        };
        Ok(Deadlines {
            request: secs("LODE_REQUEST_TIMEOUT_SECS", 120)?,
            job: secs("LODE_JOB_TIMEOUT_SECS", 3600)?,
        })
    }
}

fn linker(engine: &Engine) -> Result<Linker<Ctx>> {
    let mut linker = Linker::<Ctx>::new(engine);
    // wasm32-wasip2 std imports WASI 0.2; spin-sdk 7's wasi:http@0.3 world imports WASI 0.3.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    // Outbound wasi:http@0.2 too (synchronous steps use it); the same hooks,
    // so the same allow-list, apply to both versions.
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    spin_apis::add_to_linker(&mut linker, spin_view)?;
    stub_release_candidates(engine, &mut linker)?;
    Ok(linker)
}

/// Spin's deny adapter (composed into dependencies that do not inherit
/// their parent's configuration) also imports the WASI 0.3 release-candidate
/// interfaces (`wasi:http/types@0.3.0-rc-2026-03-15`…) that Spin 4.1 serves
/// beside 0.3.0. lode-host serves only 0.3.0, so those imports, and only
/// those, link to functions that fail if called (resources are inert). The
/// adapter uses them only in the denied functions of the same interfaces.
fn stub_release_candidates(engine: &Engine, linker: &mut Linker<Ctx>) -> Result<()> {
    use wasmtime::component::types::ComponentItem;
    use wasmtime::component::{ResourceType, Val};
    let adapter = wt(Component::new(engine, crate::compose::DENY_ADAPTER), || {
        "compiling Spin's deny adapter".into()
    })?;
    let ty = adapter.component_type();
    for (name, import) in ty.imports(engine) {
        let ComponentItem::ComponentInstance(instance) = import.ty else {
            continue;
        };
        if !name.contains("-rc-") {
            continue;
        }
        let mut inst = linker.instance(name)?;
        for (item, export) in instance.exports(engine) {
            let what =
                format!("{name}#{item}: lode-host serves WASI 0.3.0, not this release candidate");
            match export.ty {
                ComponentItem::ComponentFunc(f) if f.async_() => {
                    inst.func_new_concurrent(item, move |_, _, _: &[Val], _: &mut [Val]| {
                        let what = what.clone();
                        Box::pin(async move { Err(wasmtime::Error::msg(what)) })
                    })?
                }
                ComponentItem::ComponentFunc(_) => inst
                    .func_new(item, move |_, _, _: &[Val], _: &mut [Val]| {
                        Err(wasmtime::Error::msg(what.clone()))
                    })?,
                ComponentItem::Resource(_) => {
                    inst.resource(item, ResourceType::host::<()>(), |_, _| Ok(()))?
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// One component, ready to instantiate.
pub struct Loaded {
    /// Component id from the manifest.
    pub id: String,
    caps: Arc<Capabilities>,
    environment: Vec<(String, String)>,
    /// `files`: host directories and their guest paths, mounted read-only.
    mounts: Vec<(std::path::PathBuf, String)>,
    /// Present when an HTTP route uses the component.
    pub http: Option<ServicePre<Ctx>>,
    /// Present when a Redis trigger uses the component.
    pub redis: Option<redis_trigger::RedisTriggerPre<Ctx>>,
}

impl Loaded {
    /// A fresh store for one request or message, trapped past `deadline`.
    pub fn store(&self, engine: &Engine, deadline: &Deadline) -> Result<Store<Ctx>> {
        let mut wasi = WasiCtxBuilder::new();
        // Spin echoes component stdout and stderr to its own stderr.
        wasi.stdout(wasmtime_wasi::cli::stderr())
            .stderr(wasmtime_wasi::cli::stderr())
            .envs(&self.environment);
        for (host, guest) in &self.mounts {
            // Read-only, as Spin mounts files unless `--allow-transient-write`.
            wasi.preopened_dir(host, guest, FsPerms::ReadOnly)
                .map_err(|e| anyhow::anyhow!("mounting {} at {guest}: {e}", host.display()))?;
        }
        let wasi = wasi.build();
        let mut store = Store::new(
            engine,
            Ctx {
                table: ResourceTable::new(),
                wasi,
                http: WasiHttpCtx::new(),
                hooks: OutboundPolicy::new(&self.id, self.caps.allowed_hosts.clone()),
                caps: self.caps.clone(),
            },
        );
        let (at, passed) = (deadline.at, deadline.passed.clone());
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= at {
                passed.store(true, Ordering::Relaxed);
                return Err(wasmtime::Error::msg("the guest ran past its deadline"));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store.set_epoch_deadline(1);
        Ok(store)
    }
}

/// The loaded application.
pub struct App {
    /// The engine every component was compiled with.
    pub engine: Engine,
    /// Components by id.
    pub components: HashMap<String, Loaded>,
    /// The manifest.
    pub manifest: Manifest,
    /// Resolved variables.
    pub variables: Resolved,
    /// How long guests may run.
    pub deadlines: Deadlines,
}

impl App {
    /// Compile and pre-instantiate every component the triggers use.
    pub fn load(
        manifest: Manifest,
        state: StateDir,
        model_dir: &std::path::Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<App> {
        let variables = Resolved::resolve(&manifest, env)?;
        let deadlines = Deadlines::from_env(env)?;
        // Compiled code is shared across state directories when
        // LODE_COMPILE_CACHE names a directory (the tests do this).
        let cache = env("LODE_COMPILE_CACHE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| state.0.join("compile-cache"));
        let engine = engine(&cache)?;
        let linker = linker(&engine)?;
        let embedder = load_embedder(&manifest, model_dir)?;
        let key_value = Arc::new(Mutex::new(
            state
                .open_key_value()
                .context("opening the key-value store")?,
        ));
        let http_ids: Vec<&str> = manifest
            .trigger
            .http
            .iter()
            .map(|t| t.component.as_ref())
            .collect();
        let redis_ids: Vec<&str> = manifest
            .trigger
            .redis
            .iter()
            .map(|t| t.component.as_ref())
            .collect();
        let mut components = HashMap::new();
        // The first start compiles every component (about a minute on two
        // cores); later ones read the cache. Say which it is doing.
        let triggered = manifest
            .component
            .keys()
            .filter(|id| http_ids.contains(&id.as_ref()) || redis_ids.contains(&id.as_ref()))
            .count();
        eprintln!(
            "Loading {triggered} components (compiled code is cached in {})",
            cache.display()
        );
        for (id, c) in &manifest.component {
            let (is_http, is_redis) = (
                http_ids.contains(&id.as_ref()),
                redis_ids.contains(&id.as_ref()),
            );
            if !is_http && !is_redis {
                continue; // only used as a dependency, or unused
            }
            let started = std::time::Instant::now();
            let mounts = c
                .files
                .iter()
                .map(|f| f.directory(&manifest))
                .collect::<Result<Vec<_>>>()
                .with_context(|| format!("component {id:?} files"))?;
            let hosts = c
                .allowed_outbound_hosts
                .iter()
                .map(|h| variables.expand_app(h))
                .collect::<Result<Vec<_>>>()?;
            let caps = Arc::new(Capabilities {
                id: id.to_string(),
                sqlite_databases: c.sqlite_databases.clone(),
                key_value_stores: c.key_value_stores.clone(),
                variables: variables.component(id),
                allowed_hosts: AllowList::parse(hosts.iter().map(String::as_str))
                    .with_context(|| format!("component {id:?} allowed_outbound_hosts"))?,
                state: state.clone(),
                key_value: key_value.clone(),
                ai_models: c.ai_models.clone(),
                embedder: embedder.clone(),
            });
            let bytes = component_bytes(&manifest, id)?;
            let component = wt(Component::new(&engine, &bytes), || {
                format!("compiling component {id:?}")
            })?;
            let pre = wt(linker.instantiate_pre(&component), || {
                format!("linking component {id:?}")
            })?;
            let http = if is_http {
                Some(wt(ServicePre::new(pre.clone()), || {
                    format!(
                        "component {id:?} has an HTTP route but does not export wasi:http/handler@0.3.0"
                    )
                })?)
            } else {
                None
            };
            let redis = if is_redis {
                Some(wt(redis_trigger::RedisTriggerPre::new(pre), || {
                    format!(
                        "component {id:?} has a Redis trigger but does not export spin:redis/inbound-redis@3.0.0"
                    )
                })?)
            } else {
                None
            };
            let environment = c
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            eprintln!("  {id}: ready in {:.1} s", started.elapsed().as_secs_f64());
            components.insert(
                id.to_string(),
                Loaded {
                    id: id.to_string(),
                    caps,
                    environment,
                    mounts,
                    http,
                    redis,
                },
            );
        }
        Ok(App {
            engine,
            components,
            manifest,
            variables,
            deadlines,
        })
    }
}

/// Load the embedding model once, if any component declares it in `ai_models`.
fn load_embedder(
    manifest: &Manifest,
    dir: &std::path::Path,
) -> Result<Option<Arc<lode_embed::Embedder>>> {
    let wanted = manifest
        .component
        .values()
        .any(|c| c.ai_models.iter().any(|m| m == spin_apis::EMBEDDING_MODEL));
    if !wanted {
        return Ok(None);
    }
    let embedder = lode_embed::Embedder::load_dir(dir).with_context(|| {
        format!(
            "loading the embedding model from {} (run `make setup`, or pass --model-dir)",
            dir.display()
        )
    })?;
    Ok(Some(Arc::new(embedder)))
}

/// Attach context to a wasmtime error (which is not an `anyhow::Error` in wasmtime 48).
fn wt<T>(result: wasmtime::Result<T>, what: impl FnOnce() -> String) -> Result<T> {
    result.map_err(|e| anyhow::Error::from(e).context(what()))
}

/// The component's bytes, composed with its `[component.x.dependencies]`.
fn component_bytes(manifest: &Manifest, id: &str) -> Result<Vec<u8>> {
    let c = &manifest.component[id];
    let read = |source: &str| -> Result<Vec<u8>> {
        let path = manifest.path(source);
        std::fs::read(&path).with_context(|| {
            format!(
                "reading {} (build it first: `lode-host build`)",
                path.display()
            )
        })
    };
    let main = read(&c.source)?;
    if c.dependencies.is_empty() {
        return Ok(main);
    }
    let mut deps = Vec::new();
    for (name, dep) in &c.dependencies {
        let (bytes, export) = match dep {
            Dependency::Path { path, export, .. } => (read(path)?, export.clone()),
            Dependency::Component {
                component, export, ..
            } => (
                read(&manifest.component[component.as_ref()].source)?,
                export.clone(),
            ),
            _ => unreachable!("rejected by manifest validation"),
        };
        deps.push(crate::compose::Dep {
            name: name.clone(),
            bytes,
            export,
            inherit: c.inherits(dep),
        });
    }
    crate::compose::compose(id, &main, deps)
        .with_context(|| format!("failed to resolve dependencies for component {id:?}"))
}
