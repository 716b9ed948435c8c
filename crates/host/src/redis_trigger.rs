//! The Redis trigger: subscribe to each `[[trigger.redis]]` channel and call
//! the component's `spin:redis/inbound-redis.handle-message` for every message.
//!
//! As in Spin (https://spinframework.dev/v4/redis-trigger): one subscriber per
//! server address, every component on a channel is invoked, and a handler
//! error is logged, not retried (Redis pub/sub has no redelivery). Difference:
//! when the connection drops, Spin's trigger exits; this host reconnects with
//! backoff so a Redis restart does not stop local development.
//!
//! Handlers run concurrently, at most `LODE_REDIS_CONCURRENCY` at a time
//! (default: one per CPU); later messages wait in memory for a slot, in
//! arrival order. Each ingestion instance holds a model and a document, so
//! an unbounded burst (a 100-file upload) would only trade throughput for
//! memory. A message waiting when the process dies is lost like any pub/sub
//! message; Lode's job sweep re-publishes its job.

use std::collections::BTreeMap;
use std::sync::Arc;

use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

use anyhow::{Context, Result};
use futures::StreamExt;
use serde_json::json;

use crate::runtime::{App, Deadline, Loaded};
use crate::spin_apis::redact;

/// channel → component ids, for one server address.
type Channels = BTreeMap<String, Vec<String>>;

/// Group the manifest's Redis triggers by resolved address.
pub fn subscriptions(app: &App) -> Result<BTreeMap<String, Channels>> {
    let default = app
        .manifest
        .application
        .trigger
        .redis
        .as_ref()
        .map(|r| r.address.clone());
    let mut by_address: BTreeMap<String, Channels> = BTreeMap::new();
    for t in &app.manifest.trigger.redis {
        let address = t
            .address
            .clone()
            .or_else(|| default.clone())
            .with_context(|| {
                format!(
                    "Redis trigger for component {:?} has no address",
                    t.component
                )
            })?;
        let address = app.variables.expand_app(&address).with_context(|| {
            format!(
                "failed to resolve redis trigger address for component {:?}",
                t.component
            )
        })?;
        let channel = app.variables.expand_app(&t.channel)?;
        by_address
            .entry(address)
            .or_default()
            .entry(channel)
            .or_default()
            .push(t.component.to_string());
    }
    Ok(by_address)
}

/// The handler slots shared by every subscription: `setting` (the value of
/// `LODE_REDIS_CONCURRENCY`) or one per CPU.
pub fn concurrency(setting: Option<String>) -> Arc<Semaphore> {
    let n = setting
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    Arc::new(Semaphore::new(n))
}

/// Run one subscriber forever, reconnecting when the server goes away.
pub async fn run(app: Arc<App>, address: String, channels: Channels, slots: Arc<Semaphore>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match subscribe(&app, &address, &channels, &slots, &mut backoff).await {
            Ok(()) => eprintln!("disconnected from {}; reconnecting", redact(&address)),
            Err(e) => eprintln!(
                "Redis trigger on {}: {e:#}; retrying in {backoff:?}",
                redact(&address)
            ),
        }
        // Reconnect backoff (not a test wait): capped so a restarted Redis is picked up quickly.
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

async fn subscribe(
    app: &Arc<App>,
    address: &str,
    channels: &Channels,
    slots: &Arc<Semaphore>,
    backoff: &mut Duration,
) -> Result<()> {
    let client = redis::Client::open(address)?;
    let mut pubsub = client.get_async_pubsub().await?;
    for channel in channels.keys() {
        pubsub.subscribe(channel).await?;
    }
    *backoff = Duration::from_millis(100);
    eprintln!("Active Channels on {}:", redact(address));
    for (channel, components) in channels {
        eprintln!(
            "\t{}/{channel}: [{}]",
            redact(address),
            components.join(",")
        );
    }
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        let channel = msg.get_channel_name().to_string();
        let payload = msg.get_payload_bytes().to_vec();
        for id in channels.get(&channel).into_iter().flatten() {
            let (app, id, channel, payload) =
                (app.clone(), id.clone(), channel.clone(), payload.clone());
            let slots = slots.clone();
            tokio::spawn(async move {
                // The semaphore is never closed, so acquiring cannot fail.
                let Ok(_slot) = slots.acquire_owned().await else {
                    return;
                };
                if let Some(component) = app.components.get(&id) {
                    deliver(&app, component, &channel, payload).await;
                }
            });
        }
    }
    Ok(())
}

async fn deliver(app: &App, component: &Loaded, channel: &str, payload: Vec<u8>) {
    let start = Instant::now();
    let outcome = call(app, component, payload).await;
    let line = json!({
        "ts_ms": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
        "trigger": "redis",
        "channel": channel,
        "component": component.id,
        "status": if outcome.is_ok() { "ok" } else { "error" },
        "error": outcome.as_ref().err().map(|e| format!("{e:#}")),
        "duration_ms": (start.elapsed().as_secs_f64() * 1e6).round() / 1e3,
    });
    println!("{line}");
}

async fn call(app: &App, component: &Loaded, payload: Vec<u8>) -> Result<()> {
    let pre = component
        .redis
        .clone()
        .context("component has no Redis handler")?;
    let deadline = Deadline::after(app.deadlines.job);
    let mut store = component.store(&app.engine, &deadline)?;
    let trigger = pre.instantiate_async(&mut store).await?;
    let result = store
        .run_concurrent(async move |acc| {
            let r = trigger
                .spin_redis_inbound_redis()
                .call_handle_message(acc, payload)
                .await?;
            std::future::poll_fn(|cx| acc.poll_no_interesting_tasks(cx)).await;
            wasmtime::error::Ok(r)
        })
        .await;
    if deadline.passed() {
        // Its job's lease is no longer renewed: once it runs out, the sweep
        // re-queues the job, counting the attempt.
        anyhow::bail!(
            "stopped after {} s (LODE_JOB_TIMEOUT_SECS)",
            app.deadlines.job.as_secs()
        );
    }
    result??.map_err(|e| anyhow::anyhow!("Redis handler returned an error: {e:?}"))
}
