//! `spin:key-value@3.0.0`: stores declared in `key_value_stores`, kept in
//! the state directory (Spin's factor-key-value, one crate per capability).

use super::*;

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
