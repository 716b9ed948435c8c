//! How long one query takes to embed in a fresh instance of an embed step,
//! split into instantiation and the `embed` call, with lode-host's engine
//! (pooling allocator, copy-on-write memory images) — the per-request cost
//! the "< 30 ms including instantiation" target is about.
//!
//! cargo run --release -p lode-host --example embed_startup -- STEP.wasm [N] [QUERY]

use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use lode_host::wizen::Ctx;
use wasmtime::Store;
use wasmtime::component::{Component, Linker, Val};

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .context("usage: embed_startup STEP.wasm [N] [QUERY]")?;
    let n: usize = args.next().map_or(Ok(50), |s| s.parse())?;
    let query = args
        .next()
        .unwrap_or_else(|| "how does a wing produce lift at low airspeed".to_string());
    let cache = std::env::var_os("LODE_COMPILE_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("lode-embed-startup-cache"));
    let engine = lode_host::runtime::engine(&cache)?;
    let t = Instant::now();
    let component = Component::from_file(&engine, &path).map_err(|e| anyhow!("{e:?}"))?;
    println!("compile (or load from cache): {:.0} ms", ms(t));
    let mut linker = Linker::<Ctx>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    let pre = linker.instantiate_pre(&component)?;

    let (mut inst_ms, mut call_ms, mut total_ms) = (vec![], vec![], vec![]);
    for _ in 0..n {
        let t = Instant::now();
        let mut store = Store::new(&engine, Ctx::new());
        let instance = pre.instantiate_async(&mut store).await?;
        let iface = instance
            .get_export_index(&mut store, None, "lode:embed/embed@0.1.0")
            .context("no lode:embed/embed export")?;
        let idx = instance
            .get_export_index(&mut store, Some(&iface), "embed")
            .context("no embed function")?;
        let func = instance
            .get_func(&mut store, idx)
            .context("embed is not a function")?;
        let instantiated = ms(t);
        let mut out = [Val::Bool(false)];
        func.call_async(
            &mut store,
            &[Val::List(vec![Val::String(query.clone())])],
            &mut out,
        )
        .await?;
        let Val::Result(Ok(Some(_))) = &out[0] else {
            anyhow::bail!("embed failed: {:?}", out[0]);
        };
        let total = ms(t);
        inst_ms.push(instantiated);
        call_ms.push(total - instantiated);
        total_ms.push(total);
    }
    for (label, v) in [
        ("instantiate", &mut inst_ms),
        ("embed call", &mut call_ms),
        ("total", &mut total_ms),
    ] {
        v.sort_by(f64::total_cmp);
        println!(
            "{label:<12} p50 {:6.1} ms  p99 {:6.1} ms  ({n} fresh instances, {} words)",
            v[v.len() / 2],
            v[(v.len() * 99 / 100).min(v.len() - 1)],
            query.split_whitespace().count()
        );
    }
    Ok(())
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
