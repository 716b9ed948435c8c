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

// ---------------------------------------------------------------- key-value

impl kv::Host for SpinView<'_> {}

impl kv::HostStore for SpinView<'_> {
    fn drop(&mut self, rep: Resource<KvStore>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

fn kv_err(e: rusqlite::Error) -> kv::Error {
    kv::Error::Other(e.to_string())
}

async fn kv_op<T: Send + 'static, D>(
    accessor: &Accessor<D, SpinHost>,
    handle: &Resource<KvStore>,
    op: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<T> + Send + 'static,
) -> wasmtime::Result<Result<T, kv::Error>> {
    let s = get(accessor, handle)?;
    tokio::task::spawn_blocking(move || {
        op(&s.db.lock().expect("kv lock"), &s.label).map_err(kv_err)
    })
    .await
    .map_err(blocking_err)
}

impl<D> kv::HostStoreWithStore<D> for SpinHost {
    async fn open(
        accessor: &Accessor<D, Self>,
        label: String,
    ) -> wasmtime::Result<Result<Resource<KvStore>, kv::Error>> {
        accessor.with(|mut a| {
            let view = a.get();
            if !view.caps.key_value_stores.contains(&label) {
                return Ok(Err(kv::Error::AccessDenied));
            }
            let store = KvStore {
                label,
                db: view.caps.key_value.clone(),
            };
            Ok(Ok(view.table.push(store)?))
        })
    }

    async fn get(
        accessor: &Accessor<D, Self>,
        s: Resource<KvStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, kv::Error>> {
        kv_op(accessor, &s, move |c, label| {
            stores::kv::get(c, label, &key)
        })
        .await
    }

    async fn set(
        accessor: &Accessor<D, Self>,
        s: Resource<KvStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), kv::Error>> {
        kv_op(accessor, &s, move |c, label| {
            stores::kv::set(c, label, &key, &value)
        })
        .await
    }

    async fn delete(
        accessor: &Accessor<D, Self>,
        s: Resource<KvStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), kv::Error>> {
        kv_op(accessor, &s, move |c, label| {
            stores::kv::delete(c, label, &key)
        })
        .await
    }

    async fn exists(
        accessor: &Accessor<D, Self>,
        s: Resource<KvStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, kv::Error>> {
        kv_op(accessor, &s, move |c, label| {
            stores::kv::exists(c, label, &key)
        })
        .await
    }

    async fn get_keys(
        accessor: &Accessor<D, Self>,
        s: Resource<KvStore>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), kv::Error>>)> {
        let (keys, status) = match kv_op(accessor, &s, stores::kv::keys).await? {
            Ok(keys) => (keys, Ok(())),
            Err(e) => (Vec::new(), Err(e)),
        };
        accessor.with(|mut a| {
            let stream = StreamReader::new(&mut a, keys)?;
            let done = FutureReader::new(&mut a, async move { wasmtime::error::Ok(status) })?;
            Ok((stream, done))
        })
    }
}

// ---------------------------------------------------------------- sqlite

impl sq::Host for SpinView<'_> {}

fn sq_err(e: rusqlite::Error) -> sq::Error {
    sq::Error::Io(e.to_string())
}

fn to_store(v: sq::Value) -> stores::Value {
    match v {
        sq::Value::Integer(n) => stores::Value::Integer(n),
        sq::Value::Real(f) => stores::Value::Real(f),
        sq::Value::Text(s) => stores::Value::Text(s),
        sq::Value::Blob(b) => stores::Value::Blob(b),
        sq::Value::Null => stores::Value::Null,
    }
}

fn from_store(v: stores::Value) -> sq::Value {
    match v {
        stores::Value::Integer(n) => sq::Value::Integer(n),
        stores::Value::Real(f) => sq::Value::Real(f),
        stores::Value::Text(s) => sq::Value::Text(s),
        stores::Value::Blob(b) => sq::Value::Blob(b),
        stores::Value::Null => sq::Value::Null,
    }
}

fn run_query(
    c: &SqliteConn,
    statement: &str,
    params: Vec<sq::Value>,
) -> Result<(Vec<String>, Vec<sq::RowResult>), sq::Error> {
    let conn = c.0.lock().expect("sqlite lock");
    let (columns, rows) =
        stores::execute(&conn, statement, params.into_iter().map(to_store).collect())
            .map_err(sq_err)?;
    let rows = rows
        .into_iter()
        .map(|values| sq::RowResult {
            values: values.into_iter().map(from_store).collect(),
        })
        .collect();
    Ok((columns, rows))
}

impl sq::HostConnection for SpinView<'_> {
    fn open(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<Resource<SqliteConn>, sq::Error>> {
        // Checked first, as in Spin: an undeclared label is access-denied whether or not it exists.
        if !self.caps.sqlite_databases.contains(&database) {
            return Ok(Err(sq::Error::AccessDenied));
        }
        if database != "default" {
            return Ok(Err(sq::Error::NoSuchDatabase));
        }
        let conn = match self.caps.state.open_sqlite() {
            Ok(c) => c,
            Err(e) => return Ok(Err(sq::Error::Io(e.to_string()))),
        };
        Ok(Ok(self
            .table
            .push(SqliteConn(Arc::new(Mutex::new(conn))))?))
    }

    fn execute(
        &mut self,
        c: Resource<SqliteConn>,
        statement: String,
        parameters: Vec<sq::Value>,
    ) -> wasmtime::Result<Result<sq::QueryResult, sq::Error>> {
        let conn = self.table.get(&c)?.clone();
        Ok(run_query(&conn, &statement, parameters)
            .map(|(columns, rows)| sq::QueryResult { columns, rows }))
    }

    fn last_insert_rowid(&mut self, c: Resource<SqliteConn>) -> wasmtime::Result<i64> {
        Ok(self
            .table
            .get(&c)?
            .0
            .lock()
            .expect("sqlite lock")
            .last_insert_rowid())
    }

    fn changes(&mut self, c: Resource<SqliteConn>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&c)?.0.lock().expect("sqlite lock").changes())
    }

    fn drop(&mut self, rep: Resource<SqliteConn>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl<D> sq::HostConnectionWithStore<D> for SpinHost {
    async fn open_async(
        accessor: &Accessor<D, Self>,
        database: String,
    ) -> wasmtime::Result<Result<Resource<SqliteConn>, sq::Error>> {
        accessor.with(|mut a| sq::HostConnection::open(&mut a.get(), database))
    }

    #[allow(clippy::type_complexity)]
    async fn execute_async(
        accessor: &Accessor<D, Self>,
        c: Resource<SqliteConn>,
        statement: String,
        parameters: Vec<sq::Value>,
    ) -> wasmtime::Result<
        Result<
            (
                Vec<String>,
                StreamReader<sq::RowResult>,
                FutureReader<Result<(), sq::Error>>,
            ),
            sq::Error,
        >,
    > {
        let conn = get(accessor, &c)?;
        let result = tokio::task::spawn_blocking(move || run_query(&conn, &statement, parameters))
            .await
            .map_err(blocking_err)?;
        let (columns, rows) = match result {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        accessor.with(|mut a| {
            let rows = StreamReader::new(&mut a, rows)?;
            let done = FutureReader::new(&mut a, async {
                wasmtime::error::Ok(Ok::<(), sq::Error>(()))
            })?;
            Ok(Ok((columns, rows, done)))
        })
    }

    async fn last_insert_rowid_async(
        accessor: &Accessor<D, Self>,
        c: Resource<SqliteConn>,
    ) -> wasmtime::Result<i64> {
        accessor.with(|mut a| sq::HostConnection::last_insert_rowid(&mut a.get(), c))
    }

    async fn changes_async(
        accessor: &Accessor<D, Self>,
        c: Resource<SqliteConn>,
    ) -> wasmtime::Result<u64> {
        accessor.with(|mut a| sq::HostConnection::changes(&mut a.get(), c))
    }
}

// ---------------------------------------------------------------- variables

impl vars::Host for SpinView<'_> {}

impl<D> vars::HostWithStore<D> for SpinHost {
    async fn get(
        accessor: &Accessor<D, Self>,
        name: String,
    ) -> wasmtime::Result<Result<String, vars::Error>> {
        accessor.with(|mut a| {
            let view = a.get();
            Ok(match lookup(&view.caps.id, &view.caps.variables, &name) {
                Lookup::Found(v) => Ok(v),
                Lookup::InvalidName(m) => Err(vars::Error::InvalidName(m)),
                Lookup::Undefined(m) => Err(vars::Error::Undefined(m)),
            })
        })
    }
}

/// Spin 2's synchronous `fermyon:spin/variables@2.0.0`, which Spin 3+ still
/// serves; the same lookup as `spin:variables@3.0.0`.
impl vars2::Host for SpinView<'_> {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<String, vars2::Error>> {
        Ok(match lookup(&self.caps.id, &self.caps.variables, &name) {
            Lookup::Found(v) => Ok(v),
            Lookup::InvalidName(m) => Err(vars2::Error::InvalidName(m)),
            Lookup::Undefined(m) => Err(vars2::Error::Undefined(m)),
        })
    }
}

// ---------------------------------------------------------------- redis (outbound)

impl rd::Host for SpinView<'_> {}

impl rd::HostConnection for SpinView<'_> {
    fn drop(&mut self, rep: Resource<RedisConn>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

fn rd_err(e: redis::RedisError) -> rd::Error {
    if e.kind() == redis::ErrorKind::TypeError {
        rd::Error::TypeError
    } else {
        rd::Error::Other(e.to_string())
    }
}

async fn redis_query<T: redis::FromRedisValue, D>(
    accessor: &Accessor<D, SpinHost>,
    c: &Resource<RedisConn>,
    cmd: &redis::Cmd,
) -> wasmtime::Result<Result<T, rd::Error>> {
    let mut conn = get(accessor, c)?.0;
    Ok(cmd.query_async(&mut conn).await.map_err(rd_err))
}

fn redis_results(v: redis::Value, out: &mut Vec<rd::RedisResult>) -> Result<(), rd::Error> {
    use redis::Value as V;
    match v {
        V::Nil => out.push(rd::RedisResult::Nil),
        V::Int(n) => out.push(rd::RedisResult::Int64(n)),
        V::BulkString(b) => out.push(rd::RedisResult::Binary(b)),
        V::SimpleString(s) => out.push(rd::RedisResult::Status(s)),
        V::Okay => out.push(rd::RedisResult::Status("OK".into())),
        V::Array(items) | V::Set(items) => {
            for item in items {
                redis_results(item, out)?;
            }
        }
        V::ServerError(e) => return Err(rd::Error::Other(format!("{e:?}"))),
        other => out.push(rd::RedisResult::Binary(format!("{other:?}").into_bytes())),
    }
    Ok(())
}

impl<D> rd::HostConnectionWithStore<D> for SpinHost {
    async fn open(
        accessor: &Accessor<D, Self>,
        address: String,
    ) -> wasmtime::Result<Result<Resource<RedisConn>, rd::Error>> {
        let allowed = accessor.with(|mut a| a.get().caps.allowed_hosts.allows_url(&address));
        if !allowed {
            eprintln!(
                "A component tried to make an outbound network connection to disallowed destination '{}'.",
                redact(&address)
            );
            return Ok(Err(rd::Error::InvalidAddress));
        }
        let client = match redis::Client::open(address.as_str()) {
            Ok(c) => c,
            Err(_) => return Ok(Err(rd::Error::InvalidAddress)),
        };
        let conn = match client.get_multiplexed_async_connection().await {
            Ok(c) => c,
            Err(e) => return Ok(Err(rd_err(e))),
        };
        accessor.with(|mut a| Ok(Ok(a.get().table.push(RedisConn(conn))?)))
    }

    async fn publish(
        accessor: &Accessor<D, Self>,
        c: Resource<RedisConn>,
        channel: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<(), rd::Error>> {
        redis_query::<i64, D>(
            accessor,
            &c,
            redis::cmd("PUBLISH").arg(channel).arg(payload),
        )
        .await
        .map(|r| r.map(drop))
    }

    async fn get(
        accessor: &Accessor<D, Self>,
        c: Resource<RedisConn>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, rd::Error>> {
        redis_query(accessor, &c, redis::cmd("GET").arg(key)).await
    }

    async fn set(
        accessor: &Accessor<D, Self>,
        c: Resource<RedisConn>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), rd::Error>> {
        redis_query::<(), D>(accessor, &c, redis::cmd("SET").arg(key).arg(value)).await
    }

    async fn incr(
        accessor: &Accessor<D, Self>,
        c: Resource<RedisConn>,
        key: String,
    ) -> wasmtime::Result<Result<i64, rd::Error>> {
        redis_query(accessor, &c, redis::cmd("INCR").arg(key)).await
    }

    async fn del(
        accessor: &Accessor<D, Self>,
        c: Resource<RedisConn>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<u32, rd::Error>> {
        redis_query(accessor, &c, redis::cmd("DEL").arg(keys)).await
    }

    async fn sadd(
        accessor: &Accessor<D, Self>,
        c: Resource<RedisConn>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, rd::Error>> {
        redis_query(accessor, &c, redis::cmd("SADD").arg(key).arg(values)).await
    }

    async fn smembers(
        accessor: &Accessor<D, Self>,
        c: Resource<RedisConn>,
        key: String,
    ) -> wasmtime::Result<Result<Vec<String>, rd::Error>> {
        redis_query(accessor, &c, redis::cmd("SMEMBERS").arg(key)).await
    }

    async fn srem(
        accessor: &Accessor<D, Self>,
        c: Resource<RedisConn>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, rd::Error>> {
        redis_query(accessor, &c, redis::cmd("SREM").arg(key).arg(values)).await
    }

    async fn execute(
        accessor: &Accessor<D, Self>,
        c: Resource<RedisConn>,
        command: String,
        arguments: Vec<rd::RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<rd::RedisResult>, rd::Error>> {
        let mut cmd = redis::cmd(&command);
        for arg in arguments {
            match arg {
                rd::RedisParameter::Int64(n) => cmd.arg(n),
                rd::RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        let value = match redis_query::<redis::Value, D>(accessor, &c, &cmd).await? {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let mut out = Vec::new();
        Ok(redis_results(value, &mut out).map(|()| out))
    }
}

// ---------------------------------------------------------------- llm (embeddings)

impl llm::Host for SpinView<'_> {
    fn infer(
        &mut self,
        model: String,
        _prompt: String,
        _params: Option<llm::InferencingParams>,
    ) -> wasmtime::Result<Result<llm::InferencingResult, llm::Error>> {
        Ok(Err(match self.model_access(&model) {
            Err(e) => e,
            // lode-host runs no local LLM; Lode's LLM features call providers over HTTP.
            Ok(()) => llm::Error::ModelNotSupported,
        }))
    }

    async fn generate_embeddings(
        &mut self,
        model: String,
        text: Vec<String>,
    ) -> wasmtime::Result<Result<llm::EmbeddingsResult, llm::Error>> {
        if let Err(e) = self.model_access(&model) {
            return Ok(Err(e));
        }
        let Some(embedder) = self
            .caps
            .embedder
            .clone()
            .filter(|_| model == EMBEDDING_MODEL)
        else {
            return Ok(Err(llm::Error::ModelNotSupported));
        };
        let result = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = text.iter().map(String::as_str).collect();
            let embeddings = embedder.embed(&refs)?;
            let tokens: usize = refs
                .iter()
                .map(|t| embedder.count_tokens(t).unwrap_or(0))
                .sum();
            anyhow::Ok(llm::EmbeddingsResult {
                embeddings,
                usage: llm::EmbeddingsUsage {
                    prompt_token_count: tokens as u32,
                },
            })
        })
        .await
        .map_err(blocking_err)?;
        Ok(result.map_err(|e| llm::Error::RuntimeError(format!("{e:#}"))))
    }
}

impl SpinView<'_> {
    /// Spin's factor-llm check: a model not in `ai_models` is refused with this message.
    fn model_access(&self, model: &str) -> Result<(), llm::Error> {
        if self.caps.ai_models.iter().any(|m| m == model) {
            return Ok(());
        }
        Err(llm::Error::InvalidInput(format!(
            "The component does not have access to use '{model}'. To give the component access, \
             add '{model}' to the 'ai_models' key for the component in your spin.toml manifest"
        )))
    }
}

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
