//! Prometheus metrics for an application that has no long-lived process.
//!
//! Spin runs a fresh instance per request, so counters cannot live in
//! memory as they do in a `prometheus` registry. Each observation is one
//! upsert into `metric_series` (migration 10): a counter is one row, a
//! histogram one row per bucket plus its sum. `GET /metrics` renders them,
//! with gauges read at scrape time from the tables that already hold the
//! truth (jobs, LLM usage), in the text exposition format 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>).
//!
//! Label values come from bounded sets (route patterns, never paths;
//! provider names; status codes), so series stay few.

use std::collections::BTreeMap;
use std::fmt::Write;

use lode_store::{Sql, StoreError};

/// Upper bounds (seconds) of the duration histograms' buckets, as the
/// Prometheus client libraries' defaults extended to slow LLM calls.
pub const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The row of a counter (no bucket).
const COUNTER_ROW: i64 = -1;

/// Most label sets one family records. Labels come from bounded sets, so
/// this is a backstop: a series beyond it is not recorded, and `/metrics`
/// cannot be grown without bound whatever requests arrive.
pub const MAX_SERIES_PER_FAMILY: i64 = 1_000;

/// The methods recorded by name; any other is `other`, so that a client
/// inventing methods cannot mint series.
const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// A request method as a metric label: its name when standard, else `other`.
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// A metric family Lode records: its name, kind and help text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// `lode_…`.
    pub name: &'static str,
    /// `counter` or `histogram` (gauges are computed, see [`render`]).
    pub kind: Kind,
    /// The `# HELP` line.
    pub help: &'static str,
}

/// How a family is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only ever added to.
    Counter,
    /// Observations counted into [`BUCKETS`].
    Histogram,
}

/// HTTP requests by route pattern, method and status, with their latency.
pub const HTTP_DURATION: Family = Family {
    name: "lode_http_request_duration_seconds",
    kind: Kind::Histogram,
    help: "Time from a request's arrival to its response, by route pattern, method and status.",
};
/// Time the embedding model took, by stage (`ingest`, `query`).
pub const EMBED_DURATION: Family = Family {
    name: "lode_embedding_duration_seconds",
    kind: Kind::Histogram,
    help: "Time the embed step took for one batch of texts, by stage.",
};
/// Texts embedded by the model, by stage.
pub const EMBED_TEXTS: Family = Family {
    name: "lode_embedded_texts_total",
    kind: Kind::Counter,
    help: "Texts embedded by the model, by stage.",
};
/// LLM calls by provider and outcome, with their latency (to the whole
/// answer, or to the first byte of a stream).
pub const LLM_DURATION: Family = Family {
    name: "lode_llm_request_duration_seconds",
    kind: Kind::Histogram,
    help: "Latency of one LLM call (to the answer, or to the stream's start), by provider and outcome.",
};
/// Cache lookups by cache and result (`hit`, `miss`).
pub const CACHE: Family = Family {
    name: "lode_cache_requests_total",
    kind: Kind::Counter,
    help: "Cache lookups by cache (vectors, tool_results) and result (hit, miss).",
};

/// Every recorded family, in the order `/metrics` shows them.
pub const FAMILIES: &[Family] = &[
    HTTP_DURATION,
    EMBED_DURATION,
    EMBED_TEXTS,
    LLM_DURATION,
    CACHE,
];

/// Canonical label text (`a="x",b="y"`, as given order), escaped per the
/// exposition format.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{k}=\"{}\"", escape(v));
    }
    out
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Add `n` to a counter.
pub async fn add<S: Sql>(
    sql: &S,
    family: Family,
    pairs: &[(&str, &str)],
    n: f64,
) -> Result<(), StoreError> {
    upsert(sql, family, &labels(pairs), COUNTER_ROW, n).await
}

/// Count one observation of `value` (seconds) into a histogram.
pub async fn observe<S: Sql>(
    sql: &S,
    family: Family,
    pairs: &[(&str, &str)],
    value: f64,
) -> Result<(), StoreError> {
    let bucket = BUCKETS
        .iter()
        .position(|&le| value <= le)
        .unwrap_or(BUCKETS.len());
    upsert(sql, family, &labels(pairs), bucket as i64, value).await
}

async fn upsert<S: Sql>(
    sql: &S,
    family: Family,
    labels: &str,
    bucket: i64,
    value: f64,
) -> Result<(), StoreError> {
    // A new label set is added only while the family has room for it (the
    // count is read only then).
    sql.execute(
        "INSERT INTO metric_series (name, labels, bucket, count, sum) SELECT ?1, ?2, ?3, 1, ?4 \
         WHERE CASE WHEN EXISTS (SELECT 1 FROM metric_series WHERE name = ?1 AND labels = ?2) THEN 1 \
         ELSE (SELECT COUNT(DISTINCT labels) FROM metric_series WHERE name = ?1) < ?5 END \
         ON CONFLICT (name, labels, bucket) DO UPDATE SET count = count + 1, sum = sum + excluded.sum",
        vec![
            family.name.into(),
            labels.into(),
            bucket.into(),
            lode_store::Value::Real(value),
            MAX_SERIES_PER_FAMILY.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Everything `GET /metrics` shows, in the Prometheus text format.
pub async fn render<S: Sql>(sql: &S) -> Result<String, StoreError> {
    let mut out = String::new();
    let rows = sql
        .query(
            "SELECT name, labels, bucket, count, sum FROM metric_series ORDER BY name, labels, bucket",
            vec![],
        )
        .await?;
    // name -> labels -> (per-bucket counts, count, sum)
    let mut series: BTreeMap<String, BTreeMap<String, Series>> = BTreeMap::new();
    for r in &rows {
        let s = series
            .entry(r.text(0)?)
            .or_default()
            .entry(r.text(1)?)
            .or_default();
        let (bucket, count, sum) = (r.int(2)?, r.int(3)?, r.real(4)?);
        if bucket >= 0 {
            s.buckets[bucket as usize] += count;
        }
        s.count += count;
        s.sum += sum;
    }
    for family in FAMILIES {
        let empty = BTreeMap::new();
        let all = series.get(family.name).unwrap_or(&empty);
        match family.kind {
            Kind::Counter => {
                header(&mut out, family.name, "counter", family.help);
                for (labels, s) in all {
                    sample(&mut out, family.name, labels, s.sum);
                }
            }
            Kind::Histogram => histogram(&mut out, family, all),
        }
        if *family == HTTP_DURATION {
            // The request counter Prometheus users look for first.
            header(
                &mut out,
                "lode_http_requests_total",
                "counter",
                "HTTP requests by route pattern, method and status.",
            );
            for (labels, s) in all {
                sample(&mut out, "lode_http_requests_total", labels, s.count as f64);
            }
        }
    }
    gauges(sql, &mut out).await?;
    Ok(out)
}

#[derive(Default)]
struct Series {
    buckets: [i64; BUCKETS.len() + 1],
    count: i64,
    sum: f64,
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: f64) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

fn with_le(labels: &str, le: &str) -> String {
    if labels.is_empty() {
        format!("le=\"{le}\"")
    } else {
        format!("{labels},le=\"{le}\"")
    }
}

fn histogram(out: &mut String, family: &Family, all: &BTreeMap<String, Series>) {
    header(out, family.name, "histogram", family.help);
    let bucket = format!("{}_bucket", family.name);
    for (labels, s) in all {
        let mut cumulative = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += s.buckets[i];
            sample(
                out,
                &bucket,
                &with_le(labels, &le.to_string()),
                cumulative as f64,
            );
        }
        sample(out, &bucket, &with_le(labels, "+Inf"), s.count as f64);
        sample(out, &format!("{}_sum", family.name), labels, s.sum);
        sample(
            out,
            &format!("{}_count", family.name),
            labels,
            s.count as f64,
        );
    }
}

/// Gauges and totals read from the tables that hold them: jobs by kind and
/// state, the queue's depth by kind and priority, and LLM tokens, cost and
/// calls by provider (from the usage ledger every call is recorded in).
async fn gauges<S: Sql>(sql: &S, out: &mut String) -> Result<(), StoreError> {
    header(out, "lode_jobs", "gauge", "Jobs by kind and state.");
    for r in sql
        .query(
            "SELECT kind, status, count(*) FROM jobs GROUP BY kind, status ORDER BY kind, status",
            vec![],
        )
        .await?
    {
        let l = labels(&[("kind", &r.text(0)?), ("state", &r.text(1)?)]);
        sample(out, "lode_jobs", &l, r.int(2)? as f64);
    }
    header(
        out,
        "lode_queue_depth",
        "gauge",
        "Jobs waiting to run, by kind and priority.",
    );
    for r in sql
        .query(
            "SELECT kind, priority, count(*) FROM jobs WHERE status = 'queued' \
             GROUP BY kind, priority ORDER BY kind, priority",
            vec![],
        )
        .await?
    {
        let priority = lode_jobs::Priority::from_rank(r.int(1)?).as_str();
        let l = labels(&[("kind", &r.text(0)?), ("priority", priority)]);
        sample(out, "lode_queue_depth", &l, r.int(2)? as f64);
    }
    let usage = sql
        .query(
            "SELECT provider, sum(requests), sum(failures), sum(input_tokens), sum(output_tokens), sum(cost_usd) \
             FROM llm_usage GROUP BY provider ORDER BY provider",
            vec![],
        )
        .await?;
    header(
        out,
        "lode_llm_requests_total",
        "counter",
        "LLM calls by provider and outcome.",
    );
    for r in &usage {
        let p = r.text(0)?;
        let failed = r.int(2)?;
        sample(
            out,
            "lode_llm_requests_total",
            &labels(&[("provider", &p), ("outcome", "ok")]),
            (r.int(1)? - failed) as f64,
        );
        sample(
            out,
            "lode_llm_requests_total",
            &labels(&[("provider", &p), ("outcome", "error")]),
            failed as f64,
        );
    }
    header(
        out,
        "lode_llm_tokens_total",
        "counter",
        "LLM tokens by provider and direction.",
    );
    for r in &usage {
        let p = r.text(0)?;
        sample(
            out,
            "lode_llm_tokens_total",
            &labels(&[("provider", &p), ("direction", "input")]),
            r.int(3)? as f64,
        );
        sample(
            out,
            "lode_llm_tokens_total",
            &labels(&[("provider", &p), ("direction", "output")]),
            r.int(4)? as f64,
        );
    }
    header(
        out,
        "lode_llm_cost_usd_total",
        "counter",
        "Estimated LLM spend in US dollars, by provider.",
    );
    for r in &usage {
        sample(
            out,
            "lode_llm_cost_usd_total",
            &labels(&[("provider", &r.text(0)?)]),
            r.real(5)?,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lode_store::migrate;
    use lode_store::rusqlite_sql::RusqliteSql;

    #[test]
    fn invented_methods_and_label_sets_cannot_grow_the_series() {
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(method_label("get"), "other");
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(async {
            migrate(&db).await.unwrap();
            let n = MAX_SERIES_PER_FAMILY as usize + 50;
            for i in 0..n {
                let id = i.to_string();
                observe(&db, HTTP_DURATION, &[("route", &id)], 0.01)
                    .await
                    .unwrap();
                add(&db, CACHE, &[("cache", &id)], 1.0).await.unwrap();
            }
            // Existing series still count.
            observe(&db, HTTP_DURATION, &[("route", "0")], 3.0)
                .await
                .unwrap();
            let text = render(&db).await.unwrap();
            let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
            assert_eq!(
                count("lode_http_request_duration_seconds_count{"),
                MAX_SERIES_PER_FAMILY as usize
            );
            assert_eq!(
                count("lode_cache_requests_total{"),
                MAX_SERIES_PER_FAMILY as usize
            );
            assert!(
                text.lines()
                    .any(|l| l == r#"lode_http_request_duration_seconds_count{route="0"} 2"#)
            );
        });
    }

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(async {
            migrate(&db).await.unwrap();
            let route = [
                ("route", "/api/documents/{id}"),
                ("method", "GET"),
                ("status", "200"),
            ];
            for secs in [0.004, 0.02, 0.02, 7.0, 100.0] {
                observe(&db, HTTP_DURATION, &route, secs).await.unwrap();
            }
            add(&db, CACHE, &[("cache", "vectors"), ("result", "hit")], 3.0)
                .await
                .unwrap();
            add(&db, CACHE, &[("cache", "vectors"), ("result", "hit")], 2.0)
                .await
                .unwrap();
            add(
                &db,
                CACHE,
                &[("cache", "say \"hi\"\n"), ("result", "miss")],
                1.0,
            )
            .await
            .unwrap();
            let text = render(&db).await.unwrap();
            let l = r#"route="/api/documents/{id}",method="GET",status="200""#;
            for line in [
                "# TYPE lode_http_request_duration_seconds histogram".to_string(),
                format!("lode_http_request_duration_seconds_bucket{{{l},le=\"0.005\"}} 1"),
                format!("lode_http_request_duration_seconds_bucket{{{l},le=\"0.025\"}} 3"),
                format!("lode_http_request_duration_seconds_bucket{{{l},le=\"5\"}} 3"),
                format!("lode_http_request_duration_seconds_bucket{{{l},le=\"10\"}} 4"),
                format!("lode_http_request_duration_seconds_bucket{{{l},le=\"60\"}} 4"),
                format!("lode_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 5"),
                format!("lode_http_request_duration_seconds_sum{{{l}}} 107.044"),
                format!("lode_http_request_duration_seconds_count{{{l}}} 5"),
                format!("lode_http_requests_total{{{l}}} 5"),
                "# TYPE lode_cache_requests_total counter".to_string(),
                r#"lode_cache_requests_total{cache="vectors",result="hit"} 5"#.to_string(),
                r#"lode_cache_requests_total{cache="say \"hi\"\n",result="miss"} 1"#.to_string(),
                "# TYPE lode_jobs gauge".to_string(),
                "# TYPE lode_llm_cost_usd_total counter".to_string(),
            ] {
                assert!(
                    text.lines().any(|x| x == line),
                    "missing {line:?} in\n{text}"
                );
            }
            // Every sample line is `name{labels} number` or `name number`.
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                let value = line.rsplit(' ').next().unwrap();
                assert!(value.parse::<f64>().is_ok(), "{line}");
            }
        });
    }
}
