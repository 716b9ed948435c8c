//! Structured logs: one JSON object per line on stderr (Spin collects
//! component stderr), each with the time, level, component and the current
//! request id, so one request can be followed through every component and
//! the worker that runs its job.
//!
//! What goes in a line is chosen by the caller; Lode never logs request
//! bodies, document text, keys, passwords or tokens (tests/observability.rs checks
//! the output of a whole session for them).

use serde_json::{Map, Value, json};

use crate::context;

/// Write one log line: `fields` (an object) merged with `ts`, `level`,
/// `component`, `request_id` and `tenant` when known. `component` is the
/// component serving the request when there is one (whichever crate wrote
/// the line), else `crate_name`.
pub fn line(level: &str, crate_name: &str, event: &str, fields: Value) {
    let ctx = context::current();
    let component = ctx.as_ref().map_or(crate_name, |c| c.component);
    let mut out = Map::new();
    out.insert(
        "ts".into(),
        json!(lode_store::ids::rfc3339(lode_store::ids::now_ms())),
    );
    out.insert("level".into(), json!(level));
    out.insert("component".into(), json!(component));
    out.insert("event".into(), json!(event));
    if let Some(ctx) = ctx {
        out.insert("request_id".into(), json!(ctx.request_id));
        if let Some(tenant) = ctx.tenant {
            out.insert("tenant".into(), json!(tenant));
        }
    }
    if let Value::Object(extra) = fields {
        out.extend(extra);
    }
    // One write per line, so lines of concurrent instances never interleave.
    let mut text = Value::Object(out).to_string();
    text.push('\n');
    let _ = std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes());
}

/// Log a message at `error` level: `log_error!("opening {label}: {e:?}")`.
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => {
        $crate::log::line("error", env!("CARGO_PKG_NAME"), "error", $crate::__serde_json::json!({"msg": format!($($arg)*)}))
    };
}

/// Log a message at `warn` level.
#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)*) => {
        $crate::log::line("warn", env!("CARGO_PKG_NAME"), "warning", $crate::__serde_json::json!({"msg": format!($($arg)*)}))
    };
}

/// Log a message at `info` level.
#[macro_export]
macro_rules! log_info {
    ($($arg:tt)*) => {
        $crate::log::line("info", env!("CARGO_PKG_NAME"), "info", $crate::__serde_json::json!({"msg": format!($($arg)*)}))
    };
}

/// Lines that crates write through the `log` facade (`log::warn!`), in the
/// same shape as the component's own: the crate named, the request's id.
struct Bridge;

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let (level, event) = match record.level() {
            log::Level::Error => ("error", "error"),
            log::Level::Warn => ("warn", "warning"),
            _ => ("info", "info"),
        };
        let krate = record.target().split("::").next().unwrap_or("lode");
        let krate = krate.replace('_', "-");
        line(
            level,
            &krate,
            event,
            json!({"msg": record.args().to_string()}),
        );
    }

    fn flush(&self) {}
}

static BRIDGE: Bridge = Bridge;

/// Route the `log` facade to [`line`] (once per instance; later calls are free).
pub fn install() {
    if log::set_logger(&BRIDGE).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}
