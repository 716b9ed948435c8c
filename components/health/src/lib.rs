//! `GET /health`: per-dependency checks, 200 when all pass, 503 otherwise.
//!
//! Each check does real work against the host store (a query, a write and
//! read-back), so a passing check means the dependency works, not merely that
//! it is configured.

use lode_api::ApiError;
use lode_common::Reply;
use serde_json::{Value, json};
use spin_sdk::http::{IntoResponse, Method, Request};
use spin_sdk::{http_service, key_value, sqlite};

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    lode_common::handle(env!("CARGO_PKG_NAME"), req, serve).await
}

async fn serve(req: Request) -> Result<Reply, ApiError> {
    if req.method() != Method::GET {
        return Err(ApiError::method_not_allowed(&["GET"]));
    }
    let checks = json!({
        "sqlite": check(sqlite_check().await),
        "key_value": check(key_value_check().await),
    });
    let healthy = checks
        .as_object()
        .is_some_and(|c| c.values().all(|v| v["status"] == "ok"));
    let (status, word) = if healthy {
        (200, "ok")
    } else {
        (503, "unavailable")
    };
    Ok(Reply::json(
        status,
        json!({"status": word, "checks": checks}),
    ))
}

fn check(result: Result<Value, String>) -> Value {
    match result {
        Ok(mut details) => {
            details["status"] = json!("ok");
            details
        }
        Err(error) => json!({"status": "error", "error": error}),
    }
}

/// Query the default database: its version and whether FTS5 (needed for search) is compiled in.
async fn sqlite_check() -> Result<Value, String> {
    let conn = sqlite::Connection::open_default()
        .await
        .map_err(|e| format!("open: {e:?}"))?;
    let rows = conn
        .execute(
            "SELECT sqlite_version(), sqlite_compileoption_used('ENABLE_FTS5')",
            [],
        )
        .await
        .map_err(|e| format!("query: {e:?}"))?
        .collect()
        .await
        .map_err(|e| format!("query: {e:?}"))?;
    let row = rows.first().ok_or("query returned no row")?;
    let version: &str = row.get(0).ok_or("no version")?;
    let fts5: i64 = row.get(1).ok_or("no fts5 flag")?;
    if fts5 != 1 {
        return Err(format!("SQLite {version} lacks FTS5"));
    }
    Ok(json!({"version": version, "fts5": true}))
}

/// Write, read back and delete a probe key in the default key-value store.
async fn key_value_check() -> Result<Value, String> {
    let store = key_value::Store::open_default()
        .await
        .map_err(|e| format!("open: {e:?}"))?;
    // A random key, so concurrent health checks never read each other's probe.
    let probe = lode_store::ids::new_id("health");
    store
        .set(&probe, b"ok")
        .await
        .map_err(|e| format!("set: {e:?}"))?;
    let read = store.get(&probe).await.map_err(|e| format!("get: {e:?}"))?;
    store
        .delete(&probe)
        .await
        .map_err(|e| format!("delete: {e:?}"))?;
    if read.as_deref() != Some(b"ok".as_slice()) {
        return Err("read back a different value".into());
    }
    Ok(json!({}))
}
