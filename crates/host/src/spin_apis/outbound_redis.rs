//! `spin:redis@3.0.0` outbound: addresses in `allowed_outbound_hosts` only
//! (Spin's factor-outbound-redis).

use super::*;

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
