//! Receives Redis messages and records each one as `redis:<message>` in the
//! default key-value store, so a test can observe delivery through HTTP.
//! `fail` returns an error; `spin` records itself, then computes for ever
//! (the host's `LODE_JOB_TIMEOUT_SECS` must stop it).

use spin_sdk::{key_value, redis_subscriber};

#[redis_subscriber]
async fn on_message(message: Vec<u8>) -> anyhow::Result<()> {
    let text = String::from_utf8(message)?;
    if text == "fail" {
        anyhow::bail!("asked to fail");
    }
    let store = key_value::Store::open_default()
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    store
        .set(format!("redis:{text}"), text.as_bytes())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if text == "spin" {
        let mut n = 0u64;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    Ok(())
}
