//! Users through lode-host: registration (admin-only by default, or open
//! sign-up), login for an HS256 session token, the token accepted wherever
//! a key is and held to its role's scopes, role changes and deletion taking
//! effect on live tokens, the audit trail, and password guessing slowed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lode_tests::{Host, Reply};
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-key-0123456789";
const JWT_SECRET: &str = "test-jwt-secret-of-at-least-32-bytes!";
const PASSWORD: &str = "correct horse battery staple";

fn start(extra: &[(&str, &str)]) -> Host {
    let mut env = vec![("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)];
    env.extend_from_slice(extra);
    Host::start("spin.toml", &env)
}

fn post(host: &Host, path: &str, key: Option<&str>, body: Value) -> Reply {
    host.call(
        "POST",
        path,
        key,
        Some(("application/json", body.to_string().into_bytes())),
    )
}

/// `PATCH /api/users/{id}` as the bootstrap admin.
fn patch_user(host: &Host, id: &str, body: Value) -> Reply {
    host.json("PATCH", &format!("/api/users/{id}"), ADMIN, &body)
}

/// The tenant's audit log as `admin` reads it, and its actions, newest first.
fn audit_actions(host: &Host, admin: &str) -> (Reply, Vec<String>) {
    let audit = host.get("/api/admin/audit", Some(admin));
    assert_eq!(audit.status, 200, "{}", audit.text);
    let actions = audit.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    (audit, actions)
}

fn login(host: &Host, email: &str, password: &str) -> Reply {
    post(
        host,
        "/api/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
}

#[test]
fn admins_register_users_who_log_in_for_scoped_tokens() {
    let host = start(&[("SPIN_VARIABLE_JWT_SECRET", JWT_SECRET)]);
    let ada = json!({"email": "Ada@Example.com", "password": PASSWORD, "role": "editor", "tenant": "acme"});
    // Registration is admin-only by default.
    let r = post(&host, "/api/auth/register", None, ada.clone());
    assert_eq!(r.status, 401, "{}", r.text);
    let r = post(&host, "/api/auth/register", Some(ADMIN), ada.clone());
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["email"], "ada@example.com");
    assert_eq!(r.json["role"], "editor");
    assert!(r.json.get("password").is_none() && !r.text.contains("argon2"));
    let ada_id = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(r.headers["location"], format!("/api/users/{ada_id}"));
    assert_eq!(
        post(&host, "/api/auth/register", Some(ADMIN), ada).status,
        409
    );
    let weak = json!({"email": "bob@example.com", "password": "short"});
    assert_eq!(
        post(&host, "/api/auth/register", Some(ADMIN), weak).status,
        422
    );

    // Login: a wrong password and an unknown email look the same.
    for (email, pw) in [
        ("ada@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
    ] {
        let r = login(&host, email, pw);
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.json["error"]["message"], "invalid email or password");
    }
    let r = login(&host, "ADA@example.com", PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["token_type"], "Bearer");
    assert_eq!(r.json["expires_in"], 900);
    let token = r.json["access_token"].as_str().unwrap().to_string();

    // The token is an HS256 JWT with the claims the issue names.
    let parts: Vec<&str> = token.split('.').collect();
    let decode =
        |p: &str| -> Value { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap() };
    assert_eq!(decode(parts[0]), json!({"alg": "HS256", "typ": "JWT"}));
    let claims = decode(parts[1]);
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["sub"], ada_id.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(
        claims["scopes"],
        json!([
            "documents:read",
            "documents:write",
            "search",
            "chat",
            "tools"
        ])
    );

    // Any credential may ask what it is: a session, a key narrowed to one
    // scope, the bootstrap key; nothing answers without one.
    let me = host.get("/api/auth/me", Some(&token));
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        me.json,
        json!({"tenant": "acme", "role": "editor", "credential": "user", "id": ada_id,
               "scopes": ["documents:read", "documents:write", "search", "chat", "tools"]})
    );
    let narrow = host.json(
        "POST",
        "/api/keys",
        ADMIN,
        &json!({"tenant": "acme", "name": "search only", "role": "viewer", "scopes": ["search"]}),
    );
    assert_eq!(narrow.status, 201, "{}", narrow.text);
    let me = host.get("/api/auth/me", narrow.json["key"].as_str());
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["credential"], "key");
    assert_eq!(me.json["id"], narrow.json["id"]);
    assert_eq!(me.json["scopes"], json!(["search"]));
    let me = host.get("/api/auth/me", Some(ADMIN));
    assert_eq!(
        (&me.json["credential"], &me.json["tenant"], &me.json["id"]),
        (&json!("bootstrap"), &json!("default"), &Value::Null)
    );
    assert_eq!(host.get("/api/auth/me", None).status, 401);
    assert_eq!(host.get("/api/auth/me", Some("lode_nope")).status, 401);

    // Accepted wherever a key is, in the token's tenant, within its scopes.
    let doc = post(
        &host,
        "/api/documents",
        Some(&token),
        json!({"title": "Lift", "content": "Wings deflect air downwards.", "content_type": "text/plain"}),
    );
    assert_eq!(doc.status, 201, "{}", doc.text);
    let listed = host.get("/api/documents", Some(&token));
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1);
    let r = host.get("/api/keys", Some(&token));
    assert_eq!(r.status, 403, "an editor's token lacks admin: {}", r.text);
    // The bootstrap admin's documents live in tenant "default": not visible.
    let own = post(
        &host,
        "/api/documents",
        Some(ADMIN),
        json!({"title": "Other", "content": "Another tenant.", "content_type": "text/plain"}),
    );
    assert_eq!(own.status, 201);
    let other = format!("/api/documents/{}", own.json["id"].as_str().unwrap());
    assert_eq!(host.get(&other, Some(&token)).status, 404);

    // A forged token (payload granting admin, old signature) is refused.
    let mut forged_claims = claims.clone();
    forged_claims["scopes"] = json!(["admin"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[2]
    );
    assert_eq!(host.get("/api/keys", Some(&forged)).status, 401);

    // Admins list users of their tenant and change roles; a live token
    // follows the new role at once.
    let users = host.get("/api/users", Some(ADMIN));
    assert_eq!(users.status, 200, "{}", users.text);
    assert_eq!(users.json["data"][0]["email"], "ada@example.com");
    let r = patch_user(&host, &ada_id, json!({"role": "viewer"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["role"], "viewer");
    let r = post(
        &host,
        "/api/documents",
        Some(&token),
        json!({"title": "No", "content": "Viewers cannot write.", "content_type": "text/plain"}),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(host.get("/api/documents", Some(&token)).status, 200);

    // Deleting the user ends its tokens.
    let r = host.call("DELETE", &format!("/api/users/{ada_id}"), Some(ADMIN), None);
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(host.get("/api/documents", Some(&token)).status, 401);
    assert_eq!(login(&host, "ada@example.com", PASSWORD).status, 401);

    // Every change is in the tenant's audit log, with its actor, no secret.
    let acme_admin = host.new_key(ADMIN, "acme", "admin");
    let (audit, actions) = audit_actions(&host, &acme_admin);
    assert_eq!(
        actions,
        [
            "key.created",
            "user.deleted",
            "user.role_changed",
            "key.created",
            "user.created"
        ]
    );
    assert!(!audit.text.contains(PASSWORD) && !audit.text.contains(&token));

    // A tenant admin registers users only in its own tenant.
    let r = post(
        &host,
        "/api/auth/register",
        Some(&acme_admin),
        json!({"email": "cy@example.com", "password": PASSWORD}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (r.json["tenant"].as_str(), r.json["role"].as_str()),
        (Some("acme"), Some("viewer"))
    );
    let r = post(
        &host,
        "/api/auth/register",
        Some(&acme_admin),
        json!({"email": "dee@example.com", "password": PASSWORD, "tenant": "globex"}),
    );
    assert_eq!(r.status, 403, "{}", r.text);

    // Password guessing from one address is slowed: 20 attempts a minute.
    let refused = (0..30)
        .map(|_| login(&host, "cy@example.com", "not the password"))
        .find(|r| r.status == 429)
        .expect("a 429 within 30 attempts");
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(refused.json["error"]["code"], "rate_limited");
}

#[test]
fn open_sign_up_gets_a_tenant_of_its_own_and_login_needs_a_secret() {
    let host = start(&[("SPIN_VARIABLE_AUTH_REGISTRATION", "open")]);
    let r = post(
        &host,
        "/api/auth/register",
        None,
        json!({"email": "eve@example.com", "password": PASSWORD}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["role"], "admin");
    assert!(r.json["tenant"].as_str().unwrap().starts_with("t-"));
    // A sign-up cannot choose its tenant or role.
    let r = post(
        &host,
        "/api/auth/register",
        None,
        json!({"email": "mal@example.com", "password": PASSWORD, "tenant": "default"}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    // Without jwt_secret, login is unavailable rather than weakly signed.
    let r = login(&host, "eve@example.com", PASSWORD);
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("jwt_secret")
    );
}

#[test]
fn users_change_passwords_sign_out_everywhere_and_admins_reset_them() {
    let host = start(&[("SPIN_VARIABLE_JWT_SECRET", JWT_SECRET)]);
    let r = post(
        &host,
        "/api/auth/register",
        Some(ADMIN),
        json!({"email": "ada@example.com", "password": PASSWORD, "role": "editor", "tenant": "acme"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let ada_id = r.json["id"].as_str().unwrap().to_string();
    let token = |password: &str| {
        let r = login(&host, "ada@example.com", password);
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["access_token"].as_str().unwrap().to_string()
    };
    let works = |token: &str| host.get("/api/documents", Some(token)).status == 200;
    let (phone, laptop) = (token(PASSWORD), token(PASSWORD));
    let change = |key: Option<&str>, current: &str, new: &str| {
        post(
            &host,
            "/api/auth/password",
            key,
            json!({"current_password": current, "new_password": new}),
        )
    };
    const NEW: &str = "a different long passphrase";

    // Only the holder of a session token who knows the password changes it.
    assert_eq!(change(None, PASSWORD, NEW).status, 401);
    let key = host.new_key(ADMIN, "acme", "editor");
    let r = change(Some(&key), PASSWORD, NEW);
    assert_eq!(r.status, 403, "API keys have no password: {}", r.text);
    let r = change(Some(&laptop), "not the password", NEW);
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(change(Some(&laptop), PASSWORD, "short").status, 422);
    assert!(
        works(&phone) && works(&laptop),
        "refused changes end nothing"
    );

    // A change ends every other session and answers with a fresh one.
    let r = change(Some(&laptop), PASSWORD, NEW);
    assert_eq!(r.status, 200, "{}", r.text);
    let fresh = r.json["access_token"].as_str().unwrap().to_string();
    assert_eq!(r.json["user"]["id"], ada_id.as_str());
    assert!(!works(&phone) && !works(&laptop) && works(&fresh));
    assert_eq!(login(&host, "ada@example.com", PASSWORD).status, 401);
    let again = token(NEW);

    // Sign out everywhere: this token and every other stop working.
    let r = post(&host, "/api/auth/logout", Some(&again), json!({}));
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(!works(&again) && !works(&fresh));
    assert_eq!(
        post(&host, "/api/auth/logout", Some(&again), json!({})).status,
        401
    );

    // An admin resets a forgotten password: live sessions end, it works.
    let before = token(NEW);
    let r = patch_user(
        &host,
        &ada_id,
        json!({"password": "set by the admin, long"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["role"], "editor", "the role is unchanged");
    assert!(!works(&before));
    assert!(works(&token("set by the admin, long")));
    let r = patch_user(&host, &ada_id, json!({}));
    assert_eq!(r.status, 422, "{}", r.text);

    // The audit trail names each change; no password or token in it.
    let acme_admin = host.new_key(ADMIN, "acme", "admin");
    let (audit, actions) = audit_actions(&host, &acme_admin);
    let actions: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("user."))
        .collect();
    assert_eq!(
        actions,
        [
            "user.password_reset",
            "user.sessions_ended",
            "user.password_changed",
            "user.created"
        ]
    );
    for secret in [PASSWORD, NEW, "set by the admin", &fresh] {
        assert!(!audit.text.contains(secret), "{}", audit.text);
    }
}

/// Behind a trusted proxy, each forwarded client has its own password
/// budget (and IPv6 clients one per /64); a client cannot escape its
/// bucket by prepending addresses to `X-Forwarded-For`.
#[test]
fn clients_behind_a_trusted_proxy_are_limited_one_by_one() {
    let host = start(&[
        ("SPIN_VARIABLE_JWT_SECRET", JWT_SECRET),
        ("SPIN_VARIABLE_TRUSTED_PROXIES", "127.0.0.1/32"),
    ]);
    let attempt = |forwarded_for: &str| {
        host.request(
            "POST",
            "/api/auth/login",
            None,
            &[
                ("content-type", "application/json"),
                ("x-forwarded-for", forwarded_for),
            ],
            json!({"email": "nobody@example.com", "password": "not the password"})
                .to_string()
                .into_bytes(),
        )
        .status
    };
    let until_refused = |forwarded_for: &str| (0..40).position(|_| attempt(forwarded_for) == 429);
    assert!(until_refused("203.0.113.7").is_some_and(|n| n >= 15));
    // Another client through the same proxy still has its budget, and
    // forging a first hop does not buy a new one.
    assert_eq!(attempt("203.0.113.8"), 401);
    assert_eq!(attempt("198.51.100.1, 203.0.113.7"), 429);
    // IPv6: the whole /64 shares one budget.
    assert!(until_refused("2001:db8:1:2::1").is_some());
    assert_eq!(attempt("2001:db8:1:2::ffff"), 429);
    assert_eq!(attempt("2001:db8:1:3::1"), 401);
}
