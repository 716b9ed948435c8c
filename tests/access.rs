//! Access control, route by route. Every route of `spin.toml` but the web
//! app's three is in `lode_auth::routes::ROUTES`, and every route there is served by a route
//! of `spin.toml` to the component its handler names; through lode-host, each rule answers 401 without a key,
//! 403 to a key holding every scope but the one it needs, and lets a key
//! holding only that scope through. Roles are the named scope sets, and a
//! key narrowed to fewer scopes than its role loses the rest.

use lode_auth::routes::{ROUTES, Route};
use lode_auth::scopes::{Scope, Scopes};
use lode_tests::{Host, repo};
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-key-0123456789";

/// The routes of the `ui` component; every other route is the API's.
const WEB_APP_ROUTES: [&str; 3] = ["/", "/app/...", "/assets/..."];

/// The HTTP routes of `spin.toml` (Spin's syntax: `/...` suffix wildcard,
/// `:name` one segment) and their components, without the catch-all.
fn manifest_routes() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("spin.toml")).unwrap();
    let manifest: toml::Value = toml::from_str(&text).unwrap();
    manifest["trigger"]["http"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let route = t["route"].as_str().unwrap().to_string();
            (route, t["component"].as_str().unwrap().to_string())
        })
        .filter(|(r, _)| r != "/...")
        .collect()
}

/// The component Spin sends `path` to: the most specific matching route
/// (exact before wildcard, then the longest), as Spin's router chooses.
fn spin_component(routes: &[(String, String)], path: &str) -> Option<String> {
    routes
        .iter()
        .filter(|(r, _)| spin_matches(r, path))
        .max_by_key(|(r, _)| (!r.ends_with("/..."), r.len()))
        .map(|(_, c)| c.clone())
}

/// Whether Spin sends `path` to `route`.
fn spin_matches(route: &str, path: &str) -> bool {
    let (fixed, wildcard) = match route.strip_suffix("/...") {
        Some(prefix) => (prefix, true),
        None => (route, false),
    };
    let want: Vec<&str> = fixed.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    if got.len() < want.len() || (!wildcard && got.len() != want.len()) {
        return false;
    }
    want.iter()
        .zip(&got)
        .all(|(w, g)| w.starts_with(':') || w == g)
}

/// A concrete path for a rule's pattern.
fn sample_path(rule: &Route) -> String {
    rule.pattern
        .replace("{id}", "x1")
        .replace("{tool}", "summarize")
        .replace("{version}", "1")
}

#[test]
fn the_route_table_and_the_manifest_agree() {
    let routes = manifest_routes();
    for rule in ROUTES {
        let path = sample_path(rule);
        assert_eq!(
            spin_component(&routes, &path).as_deref(),
            Some(rule.handler.component()),
            "{} {} is in the table for {:?}, but spin.toml sends it elsewhere",
            rule.method,
            rule.pattern,
            rule.handler,
        );
    }
    for (route, component) in &routes {
        if component == "ui" {
            // The web app's pages and files: public by design, holding no
            // data (`crates/assets`), and on these three routes only.
            assert!(
                WEB_APP_ROUTES.contains(&route.as_str()),
                "spin.toml sends {route} to the web app"
            );
            continue;
        }
        assert!(
            ROUTES.iter().any(|r| spin_matches(route, &sample_path(r))),
            "spin.toml route {route} has no entry in the table: every route declares its scope"
        );
    }
}

fn key(host: &Host, role: &str, scopes: Option<Scopes>) -> String {
    let mut body = json!({"tenant": "acme", "name": "access", "role": role});
    if let Some(s) = scopes {
        body["scopes"] = json!(s);
    }
    let r = host.json("POST", "/api/keys", ADMIN, &body);
    assert_eq!(r.status, 201, "{}", r.text);
    if let Some(s) = scopes {
        assert_eq!(r.json["scopes"], json!(s), "{}", r.text);
    }
    r.json["key"].as_str().unwrap().to_string()
}

fn call(host: &Host, rule: &Route, key: Option<&str>) -> lode_tests::Reply {
    let body = if matches!(rule.method, "POST" | "PUT" | "PATCH") {
        b"{}".to_vec()
    } else {
        Vec::new()
    };
    host.request(
        rule.method,
        &sample_path(rule),
        key,
        &[("content-type", "application/json")],
        body,
    )
}

#[test]
fn every_route_needs_a_key_and_its_scope() {
    let host = Host::start("spin.toml", &[("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)]);
    // One key per scope, holding every scope but that one, and one holding only it.
    let all_but: Vec<(Scope, String)> = Scope::ALL
        .iter()
        .map(|s| (*s, key(&host, "admin", Some(Scopes::ALL.without(*s)))))
        .collect();
    let only: Vec<(Scope, String)> = Scope::ALL
        .iter()
        .map(|s| (*s, key(&host, "admin", Some(Scopes::of(&[*s])))))
        .collect();
    let find =
        |keys: &[(Scope, String)], s: Scope| keys.iter().find(|(k, _)| *k == s).unwrap().1.clone();
    for rule in ROUTES.iter().filter(|r| r.is_authenticated()) {
        let scope = rule.scope.unwrap();
        let what = format!("{} {}", rule.method, sample_path(rule));
        let r = call(&host, rule, None);
        assert_eq!(r.status, 401, "{what} without a key: {}", r.text);
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("cache-control", "no-store"),
        ] {
            assert_eq!(r.headers[name], value, "{what}: {name}");
        }
        let r = call(&host, rule, Some(&find(&all_but, scope)));
        assert_eq!(r.status, 403, "{what} without {}: {}", scope, r.text);
        // OpenAI's shape on /v1: a 403 there has no finer code.
        let code = match rule.pattern.starts_with("/v1/") {
            true => json!(null),
            false => json!("forbidden"),
        };
        assert_eq!(r.json["error"]["code"], code, "{what}: {}", r.text);
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains(scope.as_str()),
            "{what}: the error names the missing scope: {}",
            r.text
        );
        let mut r = call(&host, rule, Some(&find(&only, scope)));
        if ["/api/admin/jobs/sweep", "/metrics"].contains(&rule.pattern) {
            // They span tenants: beyond the scope, only the bootstrap key may.
            assert_eq!(r.status, 403, "{what}: {}", r.text);
            assert!(
                r.text.contains("bootstrap admin key") || r.text.contains("admin_api_key"),
                "{what}: {}",
                r.text
            );
            r = call(&host, rule, Some(ADMIN));
        }
        assert!(
            ![401, 403].contains(&r.status),
            "{what} with only {}: {} {}",
            scope,
            r.status,
            r.text
        );
    }
}

#[test]
fn roles_are_named_scope_sets_and_keys_can_only_be_narrowed() {
    let host = Host::start("spin.toml", &[("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)]);
    let expect = [
        ("viewer", json!(["documents:read", "search", "chat"])),
        (
            "editor",
            json!([
                "documents:read",
                "documents:write",
                "search",
                "chat",
                "tools"
            ]),
        ),
        (
            "admin",
            json!([
                "documents:read",
                "documents:write",
                "search",
                "chat",
                "tools",
                "admin"
            ]),
        ),
    ];
    for (role, scopes) in &expect {
        let r = host.json(
            "POST",
            "/api/keys",
            ADMIN,
            &json!({"tenant": "acme", "name": role, "role": role}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(&r.json["scopes"], scopes, "{role}");
    }
    // A viewer narrowed to search cannot read documents; widening is refused.
    let r = host.json(
        "POST",
        "/api/keys",
        ADMIN,
        &json!({"tenant": "acme", "name": "n", "role": "viewer", "scopes": ["search"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let narrow = r.json["key"].as_str().unwrap();
    assert_eq!(host.get("/api/documents", Some(narrow)).status, 403);
    let search = host.json("POST", "/api/search", narrow, &json!({"query": "wing"}));
    assert_eq!(search.status, 200, "{}", search.text);
    for bad in [json!(["tools"]), json!(["root"]), json!("search")] {
        let r = host.json(
            "POST",
            "/api/keys",
            ADMIN,
            &json!({"tenant": "acme", "name": "w", "role": "viewer", "scopes": bad}),
        );
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
    let listed = host.get("/api/keys", Some(ADMIN));
    let scopes: Vec<&Value> = listed.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["scopes"])
        .collect();
    assert!(scopes.contains(&&json!(["search"])), "{}", listed.text);
}

#[test]
fn rate_limits_hold_per_key_and_budget_and_answer_429_with_headers() {
    let host = Host::start("spin.toml", &[("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)]);
    let tenant_key = |role: &str| host.new_key(ADMIN, "tight", role);
    let admin = tenant_key("admin");
    let bad = host.json(
        "PUT",
        "/api/settings",
        &admin,
        &json!({"rate_limits": {"api_per_minute": 0}}),
    );
    assert_eq!(bad.status, 422, "{}", bad.text);
    let set = host.json(
        "PUT",
        "/api/settings",
        &admin,
        &json!({"rate_limits": {"api_per_minute": 5, "llm_per_minute": 2}}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(
        set.json["rate_limits"]["ingest_per_minute"], 120,
        "defaults fill the rest"
    );

    // Five ordinary calls a minute per key, then 429 with the headers.
    let key = tenant_key("viewer");
    for i in 0..5 {
        assert_eq!(
            host.get("/api/documents", Some(&key)).status,
            200,
            "call {i}"
        );
    }
    let r = host.get("/api/documents", Some(&key));
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "rate_limited");
    let header = |name: &str| r.headers[name].to_str().unwrap().to_string();
    let retry: u64 = header("retry-after").parse().unwrap();
    assert!(
        (1..=12).contains(&retry),
        "one token is back in 12 s: {retry}"
    );
    assert_eq!(header("ratelimit-limit"), "5");
    assert_eq!(header("ratelimit-remaining"), "0");
    assert!(header("ratelimit-policy").contains("name=\"api\""));

    // The LLM budget is separate (and smaller); other keys have their own.
    let chat = |k: &str| {
        host.json(
            "POST",
            "/api/chat",
            k,
            &json!({"message": "zebra quantum marmalade?"}),
        )
    };
    assert_eq!(chat(&key).status, 200);
    assert_eq!(chat(&key).status, 200);
    let r = chat(&key);
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.text.contains("llm"), "{}", r.text);
    // On the OpenAI-compatible surface the same refusal takes OpenAI's shape.
    let v1 = host.json(
        "POST",
        "/v1/chat/completions",
        &key,
        &json!({"model": "lode-rag", "messages": [{"role": "user", "content": "zebra?"}]}),
    );
    assert_eq!(v1.status, 429, "{}", v1.text);
    assert_eq!(
        v1.json["error"]["code"], "rate_limit_exceeded",
        "{}",
        v1.text
    );
    assert!(v1.headers.contains_key("retry-after"));
    let other = tenant_key("viewer");
    assert_eq!(host.get("/api/documents", Some(&other)).status, 200);
    // The operator's bootstrap key is not limited.
    for _ in 0..10 {
        assert_eq!(host.get("/api/documents", Some(ADMIN)).status, 200);
    }

    // The budget is the matched route's, whatever the path's spelling: a
    // trailing slash is still an upload and spends the ingest budget.
    let set = host.json(
        "PUT",
        "/api/settings",
        &admin,
        &json!({"rate_limits": {"api_per_minute": 5, "llm_per_minute": 2, "ingest_per_minute": 2}}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    let editor = tenant_key("editor");
    let upload = |n: u32| {
        host.request(
            "POST",
            "/api/documents/upload/?sync=true",
            Some(&editor),
            &[("content-type", "text/plain")],
            format!("Glider {n} rides rising air.").into_bytes(),
        )
    };
    assert_eq!(upload(1).status, 201);
    assert_eq!(upload(2).status, 201);
    let r = upload(3);
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.text.contains("ingest"), "{}", r.text);

    // Without a valid key, the client address has the default 600 a minute.
    // (It refills at 10 a second while the loop runs, so the 429 comes a
    // little after the 600th guess.)
    let mut guesses = 0;
    loop {
        let status = host.get("/api/documents", Some("lode_guess")).status;
        if status == 429 {
            break;
        }
        assert_eq!(status, 401);
        guesses += 1;
        assert!(guesses < 3000, "guessing is never slowed down");
    }
    assert!(guesses >= 600, "refused after only {guesses} guesses");
}

/// Lode's own client, `lode-eval`, waits out a 429 instead of failing: with
/// the tenant held to 60 calls a minute, a run of searches past the burst
/// all succeed, and the client reports that it backed off.
#[test]
fn lode_eval_backs_off_on_429_and_every_call_succeeds() {
    let host = Host::start("spin.toml", &[("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)]);
    let key = |role: &str| host.new_key(ADMIN, "evals", role);
    let set = host.json(
        "PUT",
        "/api/settings",
        &key("admin"),
        &json!({"rate_limits": {"api_per_minute": 60}}),
    );
    assert_eq!(set.status, 200, "{}", set.text);

    let client = lode_eval::Client::new(&host.base, &key("viewer"));
    let mut calls = 0;
    while client.backoffs() == 0 {
        let r = client
            .post(
                "/api/search",
                &json!({"query": "boundary layer", "mode": "fulltext", "k": 5}),
            )
            .unwrap_or_else(|e| panic!("call {calls} failed instead of waiting: {e:#}"));
        assert!(r["data"].is_array(), "{r}");
        calls += 1;
        assert!(calls <= 200, "60 a minute was never enforced");
    }
    assert!(calls > 60, "the burst of 60 was cut short at {calls}");
    // After waiting, the client goes on within the limit.
    for _ in 0..3 {
        client
            .post(
                "/api/search",
                &json!({"query": "wing", "mode": "fulltext", "k": 5}),
            )
            .unwrap();
    }
}

#[test]
fn admins_read_an_audit_log_of_access_changes_and_deletions() {
    let host = Host::start("spin.toml", &[("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)]);
    let admin = host.json(
        "POST",
        "/api/keys",
        ADMIN,
        &json!({"tenant": "acme", "name": "ops", "role": "admin"}),
    );
    let (admin_id, admin) = (
        admin.json["id"].as_str().unwrap().to_string(),
        admin.json["key"].as_str().unwrap().to_string(),
    );
    let viewer = host.json(
        "POST",
        "/api/keys",
        &admin,
        &json!({"tenant": "acme", "name": "intern", "role": "viewer", "scopes": ["search"]}),
    );
    let viewer_id = viewer.json["id"].as_str().unwrap().to_string();
    let viewer_key = viewer.json["key"].as_str().unwrap().to_string();
    assert_eq!(
        host.request(
            "DELETE",
            &format!("/api/keys/{viewer_id}"),
            Some(&admin),
            &[],
            vec![]
        )
        .status,
        204
    );
    let doc = host.json(
        "POST",
        "/api/documents",
        &admin,
        &json!({"title": "T", "content": "x y z"}),
    );
    let doc_id = doc.json["id"].as_str().unwrap().to_string();
    host.request(
        "DELETE",
        &format!("/api/documents/{doc_id}"),
        Some(&admin),
        &[],
        vec![],
    );
    let put = host.json(
        "PUT",
        "/api/settings",
        &admin,
        &json!({"chunking": {"target_tokens": 100, "overlap": 0.1}}),
    );
    assert_eq!(put.status, 200, "{}", put.text);

    let log = host.get("/api/admin/audit", Some(&admin));
    assert_eq!(log.status, 200, "{}", log.text);
    let seen: Vec<(String, String, String)> = log.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            (s("action"), s("actor"), s("target"))
        })
        .collect();
    let row = |a: &str, actor: &str, t: &str| (a.to_string(), actor.to_string(), t.to_string());
    assert_eq!(
        seen,
        [
            row("settings.changed", &admin_id, "acme"),
            row("document.deleted", &admin_id, &doc_id),
            row("key.revoked", &admin_id, &viewer_id),
            row("key.created", &admin_id, &viewer_id),
            row("key.created", "bootstrap", &admin_id),
        ],
        "{}",
        log.text
    );
    assert_eq!(log.json["data"][3]["detail"]["scopes"], json!(["search"]));
    assert!(
        !log.text.contains(&viewer_key),
        "the log never holds a secret"
    );
    let page = host.get("/api/admin/audit?limit=2", Some(&admin));
    let before = page.json["next_before"].as_i64().unwrap();
    let older = host.get(&format!("/api/admin/audit?before={before}"), Some(&admin));
    assert_eq!(older.json["data"].as_array().unwrap().len(), 3);
    // Another tenant's admin sees none of it.
    let other = host.json(
        "POST",
        "/api/keys",
        ADMIN,
        &json!({"tenant": "globex", "name": "ops", "role": "admin"}),
    );
    let other_id = other.json["id"].as_str().unwrap().to_string();
    let other = other.json["key"].as_str().unwrap();
    let theirs = host.get("/api/admin/audit", Some(other));
    assert_eq!(
        theirs.json["data"].as_array().unwrap().len(),
        1,
        "{}",
        theirs.text
    );
    assert_eq!(
        theirs.json["data"][0]["target"],
        other_id.as_str(),
        "only its own key"
    );
}
