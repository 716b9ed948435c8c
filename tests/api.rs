//! The documents and keys API, end to end: the real components served by
//! lode-host over loopback HTTP, with a real SQLite file.

use lode_tests::{Host, Reply};
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-key-0123456789";

fn start() -> Host {
    Host::start(
        "spin.toml",
        &[
            ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN),
            ("SPIN_VARIABLE_MAX_BODY_BYTES", "4096"),
        ],
    )
}

fn new_key(host: &Host, tenant: &str, role: &str) -> (String, String) {
    let r = host.json(
        "POST",
        "/api/keys",
        ADMIN,
        &json!({"tenant": tenant, "name": "test", "role": role}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (r.json["tenant"].as_str(), r.json["role"].as_str()),
        (Some(tenant), Some(role))
    );
    (
        r.json["id"].as_str().unwrap().to_string(),
        r.json["key"].as_str().unwrap().to_string(),
    )
}

fn doc(title: &str, content: &str, metadata: Value) -> Value {
    json!({"title": title, "content": content, "content_type": "text/markdown", "metadata": metadata})
}

fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "body: {}", r.text);
    assert_eq!(r.json["error"]["code"], code, "body: {}", r.text);
    assert!(
        r.json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {}",
        r.text
    );
}

#[test]
fn health_reports_each_dependency() {
    let host = start();
    let r = host.get("/health", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "ok");
    assert_eq!(r.json["checks"]["sqlite"]["status"], "ok");
    assert_eq!(r.json["checks"]["sqlite"]["fts5"], true);
    assert_eq!(r.json["checks"]["key_value"]["status"], "ok");
    assert_error(
        &host.call("POST", "/health", None, None),
        405,
        "method_not_allowed",
    );
}

#[test]
fn documents_crud_and_versions() {
    let host = start();
    let (_, key) = new_key(&host, "acme", "editor");

    let created = host.json(
        "POST",
        "/api/documents",
        &key,
        &doc("Guide", "# Intro\nHello", json!({"lang": "en"})),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.headers["location"],
        format!("/api/documents/{id}").as_str()
    );
    assert_eq!(created.json["version"], 1);
    let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"# Intro\nHello"));
    assert_eq!(created.json["content_sha256"], expected.as_str());

    let got = host.get(&format!("/api/documents/{id}"), Some(&key));
    assert_eq!(got.status, 200);
    assert_eq!(got.json["content"], "# Intro\nHello");
    assert_eq!(got.json["metadata"], json!({"lang": "en"}));

    let put = host.json(
        "PUT",
        &format!("/api/documents/{id}"),
        &key,
        &doc("Guide v2", "# Intro\nHi", json!({})),
    );
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.json["version"], 2);
    assert_ne!(put.json["content_sha256"], created.json["content_sha256"]);

    let versions = host.get(&format!("/api/documents/{id}/versions"), Some(&key));
    assert_eq!(versions.status, 200);
    let numbers: Vec<i64> = versions.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 2]);
    let v1 = host.get(&format!("/api/documents/{id}/versions/1"), Some(&key));
    assert_eq!(
        (v1.status, v1.json["content"].as_str()),
        (200, Some("# Intro\nHello"))
    );

    assert_eq!(
        host.call("DELETE", &format!("/api/documents/{id}"), Some(&key), None)
            .status,
        204
    );
    assert_error(
        &host.get(&format!("/api/documents/{id}"), Some(&key)),
        404,
        "not_found",
    );
    assert_error(
        &host.call("DELETE", &format!("/api/documents/{id}"), Some(&key), None),
        404,
        "not_found",
    );
    assert_error(
        &host.get(&format!("/api/documents/{id}/versions"), Some(&key)),
        404,
        "not_found",
    );
}

#[test]
fn pagination_and_metadata_filter() {
    let host = start();
    let (_, key) = new_key(&host, "acme", "editor");
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = host.json(
            "POST",
            "/api/documents",
            &key,
            &doc(
                &format!("d{i}"),
                &format!("x{i}"),
                json!({"team": if i % 2 == 0 { "red" } else { "blue" }}),
            ),
        );
        ids.push(r.json["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut path = "/api/documents?limit=2".to_string();
    let mut pages = 0;
    loop {
        let r = host.get(&path, Some(&key));
        assert_eq!(r.status, 200, "{}", r.text);
        let data = r.json["data"].as_array().unwrap();
        assert!(data.len() <= 2 && data.iter().all(|d| d.get("content").is_none()));
        seen.extend(data.iter().map(|d| d["id"].as_str().unwrap().to_string()));
        pages += 1;
        match r.json["next_cursor"].as_str() {
            Some(c) => path = format!("/api/documents?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);

    let red = host.get("/api/documents?metadata.team=red", Some(&key));
    assert_eq!(red.json["data"].as_array().unwrap().len(), 3);
    assert_error(
        &host.get("/api/documents?limit=0", Some(&key)),
        422,
        "invalid_request",
    );
    assert_error(
        &host.get("/api/documents?cursor=nonsense", Some(&key)),
        400,
        "bad_request",
    );
}

#[test]
fn every_error_status() {
    let host = start();
    let (_, editor) = new_key(&host, "acme", "editor");
    let (_, viewer) = new_key(&host, "acme", "viewer");
    let good = doc("t", "c", json!({}));

    assert_error(&host.get("/api/documents", None), 401, "unauthorized");
    assert_error(
        &host.get("/api/documents", Some("lode_not_a_real_key")),
        401,
        "unauthorized",
    );
    assert_error(
        &host.json("POST", "/api/documents", &viewer, &good),
        403,
        "forbidden",
    );
    assert_eq!(
        host.get("/api/documents", Some(&viewer)).status,
        200,
        "viewers read"
    );
    assert_error(
        &host.json(
            "POST",
            "/api/keys",
            &editor,
            &json!({"tenant": "acme", "name": "x", "role": "admin"}),
        ),
        403,
        "forbidden",
    );
    assert_error(
        &host.get("/api/documents/doc_missing", Some(&editor)),
        404,
        "not_found",
    );
    assert_error(
        &host.get("/api/no-such-thing", Some(&editor)),
        404,
        "not_found",
    );
    assert_error(&host.get("/nowhere", None), 404, "not_found");
    // The web app's pages need no key; its paths are /, /app/... and
    // /assets/..., so every other path keeps the JSON 404 above.
    for path in ["/", "/app", "/app/documents/doc_1"] {
        let page = host.get(path, None);
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        assert!(page.text.contains(r#"<div id="app">"#), "{path}");
        assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "connect-src 'self'",
        ] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }
    assert_error(&host.get("/assets/none.js", None), 404, "not_found");
    assert_error(&host.get("/assets/../spin.toml", None), 404, "not_found");
    assert_error(
        &host.call("POST", "/", None, None),
        405,
        "method_not_allowed",
    );
    // The API keeps its own, stricter policy.
    let api = host.get("/api/documents", Some(&editor));
    assert_eq!(
        api.headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_error(
        &host.call("PATCH", "/api/documents", Some(&editor), None),
        405,
        "method_not_allowed",
    );
    let big = doc("t", &"x".repeat(5000), json!({}));
    assert_error(
        &host.json("POST", "/api/documents", &editor, &big),
        413,
        "payload_too_large",
    );
    let as_text = host.call(
        "POST",
        "/api/documents",
        Some(&editor),
        Some(("text/plain", good.to_string().into_bytes())),
    );
    assert_error(&as_text, 415, "unsupported_media_type");
    let pdf = doc("t", "c", json!({})).as_object().cloned().map(|mut o| {
        o.insert("content_type".into(), json!("application/pdf"));
        Value::Object(o)
    });
    assert_error(
        &host.json("POST", "/api/documents", &editor, &pdf.unwrap()),
        415,
        "unsupported_media_type",
    );
    let malformed = host.call(
        "POST",
        "/api/documents",
        Some(&editor),
        Some(("application/json", b"{\"title\":".to_vec())),
    );
    assert_error(&malformed, 400, "bad_request");
    assert_error(
        &host.json(
            "POST",
            "/api/documents",
            &editor,
            &json!({"content": "no title"}),
        ),
        422,
        "invalid_request",
    );
    assert_error(
        &host.json(
            "POST",
            "/api/documents",
            &editor,
            &json!({"title": "", "content": "x"}),
        ),
        422,
        "invalid_request",
    );
}

#[test]
fn internal_errors_hide_details() {
    let host = start();
    let (_, key) = new_key(&host, "acme", "editor");
    let id = host
        .json("POST", "/api/documents", &key, &doc("t", "c", json!({})))
        .json["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Break the schema underneath the running app, as a corrupted deployment would.
    let db = rusqlite::Connection::open(host.state_dir.join("sqlite_db.db")).unwrap();
    db.execute("DROP TABLE document_versions", []).unwrap();
    let r = host.get(&format!("/api/documents/{id}"), Some(&key));
    assert_error(&r, 500, "internal");
    assert_eq!(r.json["error"]["message"], "internal error");
    assert!(
        !r.text.contains("document_versions") && !r.text.contains("no such table"),
        "{}",
        r.text
    );
    // The cause is in the component's log, where an operator can find it.
    lode_tests::wait_for(
        "the cause in the log",
        std::time::Duration::from_secs(10),
        || host.log().contains("no such table").then_some(()),
    );
}

#[test]
fn tenants_cannot_see_each_other() {
    let host = start();
    let (_, acme) = new_key(&host, "acme", "editor");
    let (_, globex) = new_key(&host, "globex", "admin");
    let id = host
        .json(
            "POST",
            "/api/documents",
            &acme,
            &doc("secret plan", "acme only", json!({})),
        )
        .json["id"]
        .as_str()
        .unwrap()
        .to_string();

    let path = format!("/api/documents/{id}");
    assert_error(&host.get(&path, Some(&globex)), 404, "not_found");
    assert_error(
        &host.get(&format!("{path}/versions"), Some(&globex)),
        404,
        "not_found",
    );
    assert_error(
        &host.get(&format!("{path}/versions/1"), Some(&globex)),
        404,
        "not_found",
    );
    assert_error(
        &host.json("PUT", &path, &globex, &doc("mine", "now", json!({}))),
        404,
        "not_found",
    );
    assert_error(
        &host.call("DELETE", &path, Some(&globex), None),
        404,
        "not_found",
    );
    let list = host.get("/api/documents", Some(&globex));
    assert_eq!(list.json["data"], json!([]));
    // A tenant admin cannot mint keys for another tenant.
    assert_error(
        &host.json(
            "POST",
            "/api/keys",
            &globex,
            &json!({"tenant": "acme", "name": "x", "role": "admin"}),
        ),
        403,
        "forbidden",
    );

    let mine = host.get(&path, Some(&acme));
    assert_eq!(
        (
            mine.status,
            mine.json["title"].as_str(),
            mine.json["version"].as_i64()
        ),
        (200, Some("secret plan"), Some(1))
    );
}

#[test]
fn revoked_keys_stop_working_and_secrets_stay_hidden() {
    let host = start();
    let (id, key) = new_key(&host, "acme", "viewer");
    assert_eq!(host.get("/api/documents", Some(&key)).status, 200);

    let listed = host.get("/api/keys", Some(ADMIN));
    assert_eq!(listed.status, 200);
    assert!(
        listed.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == id.as_str())
    );
    assert!(!listed.text.contains(&key), "a key is shown only once");
    assert!(!listed.text.contains("sha256"), "hashes are never shown");

    assert_eq!(
        host.call("DELETE", &format!("/api/keys/{id}"), Some(ADMIN), None)
            .status,
        204
    );
    assert_error(&host.get("/api/documents", Some(&key)), 401, "unauthorized");
    assert_error(
        &host.call("DELETE", &format!("/api/keys/{id}"), Some(ADMIN), None),
        404,
        "not_found",
    );

    // The stored row holds the hash, never the key; the log holds neither key.
    let db = rusqlite::Connection::open(host.state_dir.join("sqlite_db.db")).unwrap();
    let hash: String = db
        .query_row(
            "SELECT key_sha256 FROM api_keys WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hash.len(), 64);
    assert_ne!(hash, key);
    let (_, output) = host.terminate();
    assert!(
        output.iter().any(|l| l.contains("/api/keys")),
        "requests were logged"
    );
    let log = output.join("\n");
    assert!(
        !log.contains(&key) && !log.contains(ADMIN),
        "secrets must not be logged"
    );
}

#[test]
fn one_log_line_per_request() {
    let host = start();
    host.get("/health", None);
    let line = lode_tests::wait_for(
        "the request log line",
        std::time::Duration::from_secs(10),
        || {
            host.lines()
                .into_iter()
                .find(|l| l.contains("\"path\":\"/health\""))
        },
    );
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (
            v["method"].as_str(),
            v["route"].as_str(),
            v["component"].as_str()
        ),
        (Some("GET"), Some("/health"), Some("health"))
    );
    assert_eq!(v["status"], 200);
    assert!(v["duration_ms"].as_f64().unwrap() > 0.0);
}
