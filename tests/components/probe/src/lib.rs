//! A component for host tests: each route tries one capability and reports
//! what the host answered, so tests can prove that undeclared stores, hosts
//! and variables are refused and declared ones work.

use serde_json::{Value, json};
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::{http_service, key_value, sqlite, variables};

spin_sdk::wit_bindgen::generate!({
    world: "probe-deps",
    path: "../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let arg = path.rsplit('/').next().unwrap_or("").to_string();
    let body = match path.as_str() {
        p if p.starts_with("/probe/sqlite/") => match sqlite::Connection::open(&arg).await {
            Ok(c) => match c.execute("SELECT 1", []).await {
                Ok(r) => {
                    json!({"ok": r.collect().await.map(|rows| rows.len()).map_err(|e| format!("{e:?}"))})
                }
                Err(e) => json!({"error": format!("{e:?}")}),
            },
            Err(e) => json!({"error": format!("{e:?}")}),
        },
        p if p.starts_with("/probe/kv/") => match key_value::Store::open(&arg).await {
            Ok(_) => json!({"ok": true}),
            Err(e) => json!({"error": format!("{e:?}")}),
        },
        p if p.starts_with("/probe/kv-read/") => match key_value::Store::open_default().await {
            Ok(s) => match s.get(&arg).await {
                Ok(v) => json!({"ok": v.map(|b| String::from_utf8_lossy(&b).into_owned())}),
                Err(e) => json!({"error": format!("{e:?}")}),
            },
            Err(e) => json!({"error": format!("{e:?}")}),
        },
        p if p.starts_with("/probe/variable/") => match variables::get(&arg).await {
            Ok(v) => json!({"ok": v}),
            Err(e) => json!({"error": format!("{e:?}")}),
        },
        // Say so in the key-value store, then compute forever: the host must
        // keep serving others and stop this one at its deadline.
        p if p.starts_with("/probe/spin/") => {
            if let Ok(store) = key_value::Store::open_default().await {
                let _ = store.set(format!("spinning-{arg}"), b"yes".to_vec()).await;
            }
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "/probe/outbound" => outbound(&query).await,
        "/probe/redis" => redis(&query).await,
        p if p.starts_with("/probe/greet/") => json!({"ok": lode::test::greet::greet(&arg)}),
        p if p.starts_with("/probe/greet-env/") => json!({"ok": lode::test::greet::env(&arg)}),
        p if p.starts_with("/probe/env/") => json!({"ok": std::env::var(&arg).ok()}),
        "/probe/headers" | "/probe/exact" => {
            let headers: serde_json::Map<String, Value> = req
                .headers()
                .iter()
                .filter(|(k, _)| k.as_str().starts_with("spin-"))
                .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                .collect();
            json!({"ok": headers})
        }
        _ => return Response::builder().status(404).body(String::new()).unwrap(),
    };
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.to_string())
        .unwrap()
}

/// `?url=…`: GET it and report the status or the host's error code.
async fn outbound(query: &str) -> Value {
    let url = query.strip_prefix("url=").unwrap_or("");
    match spin_sdk::http::get(url).await {
        Ok(resp) => json!({"ok": resp.status().as_u16()}),
        Err(e) => json!({"error": format!("{e:?}")}),
    }
}

/// `?address=…&channel=…&message=…`: publish through outbound Redis.
async fn redis(query: &str) -> Value {
    let mut parts = query.split('&').filter_map(|kv| kv.split_once('='));
    let (mut address, mut channel, mut message) = (String::new(), String::new(), String::new());
    for (k, v) in parts.by_ref() {
        let v = v.replace("%3A", ":").replace("%2F", "/");
        match k {
            "address" => address = v,
            "channel" => channel = v,
            "message" => message = v,
            _ => {}
        }
    }
    let conn = match spin_sdk::redis::Connection::open(&address).await {
        Ok(c) => c,
        Err(e) => return json!({"error": format!("{e:?}")}),
    };
    match conn.publish(&channel, message.as_bytes()).await {
        Ok(()) => json!({"ok": true}),
        Err(e) => json!({"error": format!("{e:?}")}),
    }
}
