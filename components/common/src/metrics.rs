//! Recording Prometheus series (`lode-metrics`) from a component. A failed
//! write is logged and dropped: metrics must never cost a request its answer.

use lode_metrics::Family;

use crate::SpinSql;

/// Count one observation (seconds) into a histogram.
pub async fn observe(family: Family, labels: &[(&str, &str)], value: f64) {
    if let Some(sql) = crate::http::metrics_store().await {
        observe_in(&sql, family, labels, value).await;
    }
}

/// [`observe`] with a store the caller already has open.
pub async fn observe_in(sql: &SpinSql, family: Family, labels: &[(&str, &str)], value: f64) {
    if let Err(e) = lode_metrics::observe(sql, family, labels, value).await {
        crate::log_warn!("metric {} not recorded: {e}", family.name);
    }
}

/// Add `n` to a counter.
pub async fn add(family: Family, labels: &[(&str, &str)], n: f64) {
    if let Some(sql) = crate::http::metrics_store().await
        && let Err(e) = lode_metrics::add(&sql, family, labels, n).await
    {
        crate::log_warn!("metric {} not recorded: {e}", family.name);
    }
}

/// Record one call of the embed step: its duration and how many texts it
/// embedded, by stage (`ingest`, `query`, `api`).
pub async fn embedded(stage: &str, texts: usize, took: std::time::Duration) {
    let labels = [("stage", stage)];
    observe(lode_metrics::EMBED_DURATION, &labels, took.as_secs_f64()).await;
    add(lode_metrics::EMBED_TEXTS, &labels, texts as f64).await;
}
