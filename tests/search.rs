//! Ingestion and search end to end: documents go in through the real
//! documents component (composed with the extract, chunk and embed step
//! components), are embedded by the real all-MiniLM-L6-v2, indexed in a real
//! SQLite file, and found again through the search component.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use lode_tests::{Host, Reply, read_message};
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-key-0123456789";

fn start(extra: &[(&str, &str)]) -> Host {
    let mut env = vec![("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)];
    env.extend_from_slice(extra);
    Host::start("spin.toml", &env)
}

fn add(host: &Host, key: &str, title: &str, content: &str, metadata: Value) -> Reply {
    host.json(
        "POST",
        "/api/documents",
        key,
        &json!({"title": title, "content": content, "content_type": "text/markdown", "metadata": metadata}),
    )
}

fn search(host: &Host, key: &str, path: &str, body: Value) -> Reply {
    host.json("POST", path, key, &body)
}

fn ids(r: &Reply) -> Vec<String> {
    r.json["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {}", r.text))
        .iter()
        .map(|h| h["document_id"].as_str().unwrap().to_string())
        .collect()
}

const WINGS: &str = "# Aerodynamics\n\n## Lift\n\nAn aircraft wing is shaped so that air flowing over it \
    is deflected downwards; the reaction pushes the wing up. This force is called lift and it grows \
    with the square of the airspeed.\n\n## Drag\n\nDrag opposes the motion of the aircraft through the air.";
const BREAD: &str = "# Baking\n\nSourdough bread rises because wild yeast and lactobacilli ferment the \
    dough, producing carbon dioxide and acids that give the loaf its sour taste.";
const STARS: &str = "# Astronomy\n\nA neutron star is the collapsed core of a massive star after a \
    supernova; a teaspoon of its matter weighs billions of tonnes.";

#[test]
fn markdown_is_chunked_embedded_indexed_and_found_in_every_mode() {
    let host = start(&[]);
    let wings = add(
        &host,
        ADMIN,
        "Flight",
        WINGS,
        json!({"topic": "physics", "year": 2024}),
    );
    assert_eq!(wings.status, 201, "{}", wings.text);
    assert!(wings.json["chunk_count"].as_u64().unwrap() >= 1);
    let wings_id = wings.json["id"].as_str().unwrap().to_string();
    let bread = add(&host, ADMIN, "Bread", BREAD, json!({"topic": "food"}));
    let bread_id = bread.json["id"].as_str().unwrap().to_string();
    let stars = add(
        &host,
        ADMIN,
        "Stars",
        STARS,
        json!({"topic": "physics", "year": 2020}),
    );
    let stars_id = stars.json["id"].as_str().unwrap().to_string();

    // By meaning, with no shared words: vector search.
    let r = search(
        &host,
        ADMIN,
        "/api/search",
        json!({"query": "what keeps an airplane up in the sky", "mode": "vector", "k": 3}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r)[0], wings_id, "{}", r.text);
    let top = &r.json["data"][0];
    assert_eq!(top["title"], "Flight");
    assert!(top["score"].as_f64().unwrap() > 0.2, "{top}");
    assert_eq!(top["vector"]["rank"], 1);
    assert!(top["fulltext"].is_null());
    assert_eq!(r.json["model"], "all-MiniLM-L6-v2");

    // By keyword, and through the alias routes.
    let r = search(
        &host,
        ADMIN,
        "/api/search/fulltext",
        json!({"query": "sourdough"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r), vec![bread_id.clone()], "{}", r.text);
    assert!(
        r.json["data"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>Sourdough</mark>")
    );
    let r = search(
        &host,
        ADMIN,
        "/api/search/vector",
        json!({"query": "collapsed stellar core", "k": 1}),
    );
    assert_eq!(ids(&r), vec![stars_id.clone()], "{}", r.text);

    // Hybrid (the default) has both ranks, and the heading path of the chunk.
    let r = search(
        &host,
        ADMIN,
        "/api/search",
        json!({"query": "wing lift airspeed"}),
    );
    assert_eq!(r.json["mode"], "hybrid");
    let top = &r.json["data"][0];
    assert_eq!(top["document_id"], wings_id.as_str(), "{}", r.text);
    assert_eq!(top["fulltext"]["rank"], 1, "{top}");
    assert!(top["vector"]["rank"].as_u64().is_some(), "{top}");
    assert_eq!(top["heading_path"][0], "Aerodynamics", "{top}");

    // Filters: metadata and document ids; min_score.
    let r = search(
        &host,
        ADMIN,
        "/api/search",
        json!({"query": "physics of matter", "metadata": {"topic": "physics", "year": 2020}}),
    );
    assert_eq!(ids(&r), vec![stars_id.clone()], "{}", r.text);
    let r = search(
        &host,
        ADMIN,
        "/api/search",
        json!({"query": "air", "document_ids": [bread_id.clone()], "mode": "vector"}),
    );
    assert!(ids(&r).iter().all(|d| *d == bread_id), "{}", r.text);
    let r = search(
        &host,
        ADMIN,
        "/api/search",
        json!({"query": "no such topic", "metadata": {"topic": "nothing"}}),
    );
    assert_eq!(r.json["data"], json!([]), "{}", r.text);
    let r = search(
        &host,
        ADMIN,
        "/api/search",
        json!({"query": "bread", "mode": "vector", "min_score": 0.99}),
    );
    assert_eq!(r.json["data"], json!([]), "{}", r.text);

    // A long query (a pasted paragraph, past the old 2,000-character cap)
    // is searched in every mode; past 8,000 characters it is refused.
    let paragraph = "Why does bread rise when the dough is left in a warm place? ".repeat(45);
    assert!(paragraph.len() > 2_500);
    for mode in ["vector", "fulltext", "hybrid"] {
        let r = search(
            &host,
            ADMIN,
            "/api/search",
            json!({"query": paragraph, "mode": mode, "k": 3}),
        );
        assert_eq!(r.status, 200, "{mode}: {}", r.text);
        assert!(
            !r.json["data"].as_array().unwrap().is_empty(),
            "{mode}: {}",
            r.text
        );
    }
    let too_long = search(
        &host,
        ADMIN,
        "/api/search",
        json!({"query": "x".repeat(8_001)}),
    );
    assert_eq!(too_long.status, 422, "{}", too_long.text);

    // Bad requests are clear errors.
    for (path, body, status) in [
        ("/api/search", json!({"query": "x", "k": 1000}), 422),
        ("/api/search", json!({"query": ""}), 422),
        ("/api/search", json!({"query": "x", "mode": "fuzzy"}), 422),
        (
            "/api/search/vector",
            json!({"query": "x", "mode": "fulltext"}),
            422,
        ),
        ("/api/search", json!({"q": "x"}), 422),
    ] {
        let r = search(&host, ADMIN, path, body.clone());
        assert_eq!(r.status, status, "{path} {body}: {}", r.text);
        assert!(r.json["error"]["code"].is_string(), "{}", r.text);
    }
    assert_eq!(host.get("/api/search", Some(ADMIN)).status, 405);
    assert_eq!(
        host.call(
            "POST",
            "/api/search",
            None,
            Some(("application/json", b"{}".to_vec()))
        )
        .status,
        401
    );

    // Chunks of a document, in order, with offsets and token counts.
    let chunks = host.get(&format!("/api/documents/{wings_id}/chunks"), Some(ADMIN));
    assert_eq!(chunks.status, 200, "{}", chunks.text);
    let list = chunks.json["data"].as_array().unwrap();
    assert_eq!(
        list.len() as u64,
        wings.json["chunk_count"].as_u64().unwrap()
    );
    assert!(
        list.iter()
            .all(|c| c["token_count"].as_u64().unwrap() <= 256)
    );
    assert_eq!(list[0]["ordinal"], 0);

    // The same content again is the same document, not a copy.
    let again = add(&host, ADMIN, "Flight (copy)", WINGS, json!({}));
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        (again.json["id"].as_str(), again.json["duplicate"].as_bool()),
        (Some(wings_id.as_str()), Some(true))
    );

    // An edit re-embeds only what changed.
    let edited = WINGS.replace("Drag opposes", "Drag, a retarding force, opposes");
    let r = host.json(
        "PUT",
        &format!("/api/documents/{wings_id}"),
        ADMIN,
        &json!({"title": "Flight", "content": edited, "content_type": "text/markdown"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let (total, embedded) = (
        r.json["chunk_count"].as_u64().unwrap(),
        r.json["chunks_embedded"].as_u64().unwrap(),
    );
    assert!(
        embedded >= 1 && embedded < total,
        "embedded {embedded} of {total}"
    );
    let r = search(
        &host,
        ADMIN,
        "/api/search/fulltext",
        json!({"query": "retarding"}),
    );
    assert_eq!(ids(&r), vec![wings_id.clone()], "{}", r.text);

    // Deleting a document removes it from search and its chunks from the index.
    assert_eq!(
        host.call(
            "DELETE",
            &format!("/api/documents/{wings_id}"),
            Some(ADMIN),
            None
        )
        .status,
        204
    );
    let r = search(
        &host,
        ADMIN,
        "/api/search",
        json!({"query": "wing lift airspeed", "k": 10}),
    );
    assert!(!ids(&r).contains(&wings_id), "{}", r.text);
    assert_eq!(
        host.get(&format!("/api/documents/{wings_id}/chunks"), Some(ADMIN))
            .status,
        404
    );

    // Adding it again embeds nothing: every chunk's vector is in the cache.
    let back = add(&host, ADMIN, "Flight", &edited, json!({}));
    assert_eq!(back.status, 201, "{}", back.text);
    assert_eq!(back.json["chunks_embedded"], 0, "{}", back.text);
    let r = search(
        &host,
        ADMIN,
        "/api/search/vector",
        json!({"query": "what keeps an airplane up in the sky", "k": 1}),
    );
    assert_eq!(
        r.json["data"][0]["document_id"], back.json["id"],
        "{}",
        r.text
    );
}

#[test]
fn tenants_never_see_each_others_chunks() {
    let host = start(&[]);
    let key = |tenant: &str| {
        let r = host.json(
            "POST",
            "/api/keys",
            ADMIN,
            &json!({"tenant": tenant, "name": "t", "role": "editor"}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        r.json["key"].as_str().unwrap().to_string()
    };
    let (a, b) = (key("tenant-a"), key("tenant-b"));
    let doc = add(&host, &a, "Bread", BREAD, json!({}));
    assert_eq!(doc.status, 201, "{}", doc.text);
    let id = doc.json["id"].as_str().unwrap();
    for mode in ["vector", "fulltext", "hybrid"] {
        let r = search(
            &host,
            &b,
            "/api/search",
            json!({"query": "sourdough bread", "mode": mode}),
        );
        assert_eq!(
            (r.status, &r.json["data"]),
            (200, &json!([])),
            "{mode}: {}",
            r.text
        );
        let r = search(
            &host,
            &a,
            "/api/search",
            json!({"query": "sourdough bread", "mode": mode}),
        );
        assert_eq!(ids(&r), vec![id.to_string()], "{mode}: {}", r.text);
    }
    assert_eq!(
        host.get(&format!("/api/documents/{id}/chunks"), Some(&b))
            .status,
        404
    );
    // The same content in another tenant is a new document there.
    let copy = add(&host, &b, "Bread", BREAD, json!({}));
    assert_eq!(copy.status, 201, "{}", copy.text);
    assert_ne!(copy.json["id"].as_str(), Some(id));
}

/// A PDF with one text page per entry (see `lode_tests::pdf`).
fn pdf(pages: &[&str]) -> Vec<u8> {
    lode_tests::pdf("Field Notes on Gliding", "A. Pilot", pages)
}

/// A raw-body upload processed within the request (`?sync=true`: these
/// tests are about extraction, not the queue; `tests/jobs.rs` covers that).
fn upload(host: &Host, media_type: &str, filename: &str, body: Vec<u8>) -> Reply {
    let disposition = format!("attachment; filename=\"{filename}\"");
    host.request(
        "POST",
        "/api/documents/upload?sync=true",
        Some(ADMIN),
        &[
            ("content-type", media_type),
            ("content-disposition", &disposition),
        ],
        body,
    )
}

#[test]
fn uploads_of_pdf_html_and_text_are_extracted_with_pages_and_metadata() {
    let host = start(&[("SPIN_VARIABLE_MAX_UPLOAD_BYTES", "200000")]);

    let r = upload(
        &host,
        "application/pdf",
        "gliding.pdf",
        pdf(&[
            "Thermals are columns of rising warm air.\nGlider pilots circle inside them to climb.",
            "Ridge lift forms where wind meets a slope.\nThe air is forced upwards over the hill.",
        ]),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["title"], "Field Notes on Gliding", "{}", r.text);
    assert_eq!(r.json["metadata"]["pages"], 2, "{}", r.text);
    assert_eq!(r.json["metadata"]["author"], "A. Pilot", "{}", r.text);
    assert_eq!(r.json["metadata"]["media_type"], "application/pdf");
    assert_eq!(r.json["metadata"]["filename"], "gliding.pdf");
    let pdf_id = r.json["id"].as_str().unwrap().to_string();
    let hit = search(
        &host,
        ADMIN,
        "/api/search",
        json!({"query": "ridge lift slope", "k": 1}),
    );
    assert_eq!(ids(&hit), vec![pdf_id.clone()], "{}", hit.text);
    let pages = &hit.json["data"][0]["pages"];
    assert!(
        pages[1].as_i64().unwrap() == 2,
        "the hit cites page 2: {}",
        hit.text
    );

    let html = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Kites</title></head>
        <body><nav><a href="/">Home</a> zeppelinmenu</nav>
        <main><h1>Kites</h1><p>A kite flies because the wind pushes on its tilted sail.</p>
        <ul><li>Box kites</li><li>Delta kites</li></ul></main>
        <footer>copyright zeppelinfooter</footer><script>var zeppelinscript = 1;</script></body></html>"#;
    let r = upload(
        &host,
        "text/html; charset=utf-8",
        "kites.html",
        html.as_bytes().to_vec(),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["title"], "Kites");
    assert!(
        r.json["content"].as_str().unwrap().contains("# Kites"),
        "{}",
        r.text
    );
    let html_id = r.json["id"].as_str().unwrap().to_string();
    let hit = search(
        &host,
        ADMIN,
        "/api/search/fulltext",
        json!({"query": "tilted sail"}),
    );
    assert_eq!(ids(&hit), vec![html_id], "{}", hit.text);
    for boilerplate in ["zeppelinmenu", "zeppelinfooter", "zeppelinscript"] {
        let hit = search(
            &host,
            ADMIN,
            "/api/search/fulltext",
            json!({"query": boilerplate}),
        );
        assert_eq!(
            hit.json["data"],
            json!([]),
            "{boilerplate} was indexed: {}",
            hit.text
        );
    }

    let r = upload(
        &host,
        "text/plain",
        "note.txt",
        b"Paragliders launch from hills on foot.".to_vec(),
    );
    assert_eq!(r.status, 201, "{}", r.text);

    // Bad uploads: clear errors, and nothing stored.
    let before = host.get("/api/documents?limit=100", Some(ADMIN)).json["data"]
        .as_array()
        .unwrap()
        .len();
    for (media_type, body, status, code) in [
        (
            "image/png",
            b"\x89PNG\r\n".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "application/pdf",
            b"%PDF-1.4 garbage".to_vec(),
            422,
            "unreadable_document",
        ),
        ("text/plain", Vec::new(), 422, "invalid_request"),
    ] {
        let r = upload(&host, media_type, "bad", body);
        assert_eq!(
            (r.status, r.json["error"]["code"].as_str()),
            (status, Some(code)),
            "{media_type}: {}",
            r.text
        );
    }
    // Too large: refused from Content-Length alone, before the body is sent
    // (a client still writing the body would race the server's early answer).
    let response = host.raw(&format!(
        "POST /api/documents/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\
             Content-Type: text/plain\r\nContent-Length: 200001\r\n\r\n"
    ));
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("payload_too_large"), "{response}");
    // Without a valid key, a 32 MiB upload is refused from its headers: the
    // body is never sent, so an answer proves it was never waited for.
    for auth in ["", "Authorization: Bearer lode_not_a_key\r\n"] {
        let response = host.raw(&format!(
            "POST /api/documents/upload HTTP/1.1\r\nHost: x\r\n{auth}\
                 Content-Type: application/pdf\r\nContent-Length: 33554432\r\n\r\n"
        ));
        assert!(response.starts_with("HTTP/1.1 401"), "{auth}: {response}");
    }
    let after = host.get("/api/documents?limit=100", Some(ADMIN)).json["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
}

/// A one-thread HTTP server for the URL-ingestion test: `/page` is HTML,
/// `/hop/N` redirects to `/hop/N-1` and `/hop/0` to `/page`.
fn web_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
            let response = match path.strip_prefix("/hop/") {
                Some("0") => {
                    "HTTP/1.1 302 Found\r\nLocation: /page\r\nContent-Length: 0\r\n\r\n".to_string()
                }
                Some(n) => {
                    let next = n.parse::<u32>().unwrap_or(1) - 1;
                    format!(
                        "HTTP/1.1 301 Moved\r\nLocation: /hop/{next}\r\nContent-Length: 0\r\n\r\n"
                    )
                }
                None => {
                    let body = "<html><head><title>Balloons</title></head><body><article><h2>Hot air</h2>\
                        <p>A hot air balloon rises because heated air is less dense than the air around it.</p></article></body></html>";
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                }
            };
            let _ = stream.write_all(response.as_bytes());
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        }
    });
    port
}

#[test]
fn urls_are_fetched_through_the_allow_list_with_bounded_redirects() {
    let port = web_server();
    let origin = format!("http://127.0.0.1:{port}");
    let host = start(&[
        ("SPIN_VARIABLE_URL_INGEST_ORIGIN", &origin),
        ("SPIN_VARIABLE_URL_INGEST_ALLOW_PRIVATE", "true"),
    ]);
    let from_url = |url: String| {
        host.json(
            "POST",
            "/api/documents/from-url?sync=true",
            ADMIN,
            &json!({"url": url}),
        )
    };

    let r = from_url(format!("{origin}/hop/2"));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["title"], "Balloons");
    assert_eq!(r.json["metadata"]["source_url"], format!("{origin}/page"));
    let hit = search(
        &host,
        ADMIN,
        "/api/search",
        json!({"query": "why does a balloon float", "k": 1}),
    );
    assert_eq!(
        hit.json["data"][0]["document_id"], r.json["id"],
        "{}",
        hit.text
    );

    let r = from_url(format!("{origin}/hop/9"));
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("redirects"),
        "{}",
        r.text
    );
    for url in ["file:///etc/passwd", "ftp://example.com/x", "not a url"] {
        let r = from_url(url.to_string());
        assert_eq!(r.status, 422, "{url}: {}", r.text);
    }
    // Another port on the same machine is not in allowed_outbound_hosts.
    let r = from_url(format!("http://127.0.0.1:{}/page", lode_tests::free_port()));
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fetching"),
        "{}",
        r.text
    );

    // A closed port and a server that hangs up read the same to the caller.
    let any_port = start(&[
        ("SPIN_VARIABLE_URL_INGEST_ORIGIN", "http://127.0.0.1:*"),
        ("SPIN_VARIABLE_URL_INGEST_ALLOW_PRIVATE", "true"),
    ]);
    let hangs_up = TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_up_port = hangs_up.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in hangs_up.incoming() {
            drop(stream);
        }
    });
    let messages: Vec<String> = [lode_tests::free_port(), hang_up_port]
        .into_iter()
        .map(|p| {
            let r = any_port.json(
                "POST",
                "/api/documents/from-url?sync=true",
                ADMIN,
                &json!({"url": format!("http://127.0.0.1:{p}/page")}),
            );
            assert_eq!(r.status, 502, "{}", r.text);
            let m = r.json["error"]["message"].as_str().unwrap().to_string();
            m.replace(&p.to_string(), "PORT")
        })
        .collect();
    assert_eq!(messages[0], messages[1]);
    drop(any_port);

    // Without url_ingest_allow_private, internal addresses are refused even
    // when the allow-list would let them through, queued or not (SSRF).
    let strict = start(&[("SPIN_VARIABLE_URL_INGEST_ORIGIN", &origin)]);
    for url in [
        format!("{origin}/page"),
        format!("http://localhost:{port}/page"),
        format!("http://[::ffff:127.0.0.1]:{port}/page"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.1.2.3/".to_string(),
        "http://metadata/computeMetadata/v1/".to_string(),
        "http://[64:ff9b::a9fe:a9fe]/".to_string(),
        "http://[::127.0.0.1]/".to_string(),
    ] {
        for path in [
            "/api/documents/from-url?sync=true",
            "/api/documents/from-url",
        ] {
            let r = strict.json("POST", path, ADMIN, &json!({"url": url}));
            assert_eq!(r.status, 422, "{path} {url}: {}", r.text);
            assert!(
                r.text.contains("does not fetch internal addresses"),
                "{path} {url}: {}",
                r.text
            );
        }
    }
    assert_eq!(
        strict.get("/api/jobs", Some(ADMIN)).json["data"],
        json!([]),
        "nothing was queued"
    );
}

/// Chunking comes from the tenant's settings unless the request overrides
/// it; an editor cannot change settings, and other tenants keep the defaults.
#[test]
fn tenant_chunking_settings_apply_unless_the_request_overrides_them() {
    let host = start(&[]);
    let key = |tenant: &str, role: &str| {
        let r = host.json(
            "POST",
            "/api/keys",
            ADMIN,
            &json!({"tenant": tenant, "name": "t", "role": role}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        r.json["key"].as_str().unwrap().to_string()
    };
    let (admin, editor, other) = (
        key("acme", "admin"),
        key("acme", "editor"),
        key("globex", "editor"),
    );
    let settings = host.get("/api/settings", Some(&editor));
    assert_eq!(settings.status, 200, "{}", settings.text);
    assert_eq!(
        settings.json["chunking"],
        json!({"target_tokens": 200, "overlap": 0.15})
    );
    assert_eq!(settings.json["updated_at"], Value::Null);

    // A document of ~40 short sentences, varied so no two documents dedupe.
    let text = |tag: &str| -> String {
        (0..40)
            .map(|i| {
                format!("Sentence {i} of the {tag} report describes valve number {i} in detail. ")
            })
            .collect()
    };
    let chunks = |key: &str, path: &str, tag: &str| -> u64 {
        let r = host.json(
            "POST",
            path,
            key,
            &json!({"title": tag, "content": text(tag), "content_type": "text/plain"}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        r.json["chunk_count"].as_u64().unwrap()
    };
    let default = chunks(&editor, "/api/documents", "first");

    let small = json!({"chunking": {"target_tokens": 32, "overlap": 0.0}});
    let r = host.json("PUT", "/api/settings", &editor, &small);
    assert_eq!(
        r.status, 403,
        "an editor may not change settings: {}",
        r.text
    );
    let r = host.json("PUT", "/api/settings", &admin, &small);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["chunking"], small["chunking"]);
    assert!(r.json["updated_at"].is_string());
    for bad in [
        json!({"chunking": {"target_tokens": 1000, "overlap": 0.1}}),
        json!({"chunking": {"target_tokens": 100, "overlap": 0.9}}),
        json!({"chunkng": {}}),
    ] {
        let r = host.json("PUT", "/api/settings", &admin, &bad);
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
    assert_eq!(
        host.get("/api/settings", Some(&admin)).json["chunking"],
        small["chunking"]
    );

    let tenant_small = chunks(&editor, "/api/documents", "second");
    assert!(
        tenant_small >= 3 * default,
        "32-token chunks: {tenant_small}, default: {default}"
    );
    let overridden = chunks(
        &editor,
        "/api/documents?chunk_tokens=200&chunk_overlap=0.15",
        "third",
    );
    assert_eq!(
        overridden, default,
        "the request overrides the tenant setting"
    );
    let r = host.json(
        "POST",
        "/api/documents?chunk_tokens=9999",
        &editor,
        &json!({"title": "x", "content": "x", "content_type": "text/plain"}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        chunks(&other, "/api/documents", "fourth"),
        default,
        "other tenants keep the defaults"
    );
}

/// Start a host whose documents and search components use the embed step
/// `component` instead of the in-Wasm default.
fn start_with_embed(component: &str, extra: &[(&str, &str)]) -> Host {
    let manifest = std::fs::read_to_string(lode_tests::repo().join("spin.toml")).unwrap();
    let swapped = manifest.replace(
        "\"lode:embed/embed\" = { component = \"embed\" }",
        &format!("\"lode:embed/embed\" = {{ component = \"{component}\" }}"),
    );
    assert_ne!(
        manifest, swapped,
        "spin.toml wires lode:embed/embed to the embed component"
    );
    let name = format!(".test-{component}-{}.toml", std::process::id());
    let path = lode_tests::repo().join(&name);
    std::fs::write(&path, swapped).unwrap();
    let mut env = vec![("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN)];
    env.extend_from_slice(extra);
    let host = Host::start(&name, &env);
    std::fs::remove_file(&path).unwrap();
    host
}

/// Index the same documents on `other` and on the default in-Wasm backend,
/// and check that the same queries rank the same chunks with the same scores
/// (the scores are cosines of their vectors, so equal scores mean equal
/// vectors up to rounding).
fn assert_same_vectors_as_in_wasm(other: &Host, label: &str) {
    let wasm = start(&[]);
    for host in [other, &wasm] {
        for (title, text) in [("Flight", WINGS), ("Bread", BREAD), ("Stars", STARS)] {
            let r = add(host, ADMIN, title, text, json!({}));
            assert_eq!(r.status, 201, "{label}: {}", r.text);
        }
    }
    let mut compared = 0;
    for q in [
        "how do wings lift an aircraft",
        "fermented bread",
        "dense dead stars",
    ] {
        let body = json!({"query": q, "mode": "vector", "k": 10});
        let (a, b) = (
            search(other, ADMIN, "/api/search", body.clone()),
            search(&wasm, ADMIN, "/api/search", body),
        );
        assert_eq!(a.json["model"], "all-MiniLM-L6-v2", "{label}: {}", a.text);
        let scores = |r: &Reply| -> Vec<(String, f64)> {
            r.json["data"]
                .as_array()
                .unwrap_or_else(|| panic!("{label}: {}", r.text))
                .iter()
                .map(|h| {
                    (
                        h["text"].as_str().unwrap().to_string(),
                        h["score"].as_f64().unwrap(),
                    )
                })
                .collect()
        };
        let (a, b) = (scores(&a), scores(&b));
        assert_eq!(a.len(), b.len());
        for ((ta, sa), (tb, sb)) in a.iter().zip(&b) {
            assert_eq!(ta, tb, "{q}: same ranking");
            assert!(
                (sa - sb).abs() < 1e-3,
                "{q}: cosine {sa} ({label}) vs {sb} (in-Wasm)"
            );
            compared += 1;
        }
    }
    assert!(compared >= 9);
}

/// The in-Wasm tract backend and the host's `fermyon:spin/llm` backend run the
/// same model and give the same vectors.
#[test]
fn in_wasm_and_host_llm_backends_give_the_same_vectors() {
    let llm = start_with_embed("embed-llm", &[]);
    assert_same_vectors_as_in_wasm(&llm, "host llm");
}

/// A small OpenAI-compatible embeddings server (the wire format of
/// <https://platform.openai.com/docs/api-reference/embeddings/create>) that
/// runs all-MiniLM-L6-v2 natively, as TEI or vLLM would on a GPU box. It
/// wants `Authorization: Bearer KEY`, answers the first request with `429`
/// and `Retry-After: 0` (the client must retry), returns items in reverse
/// order (the client must sort by `index`), and counts the texts it embedded.
struct EmbeddingsServer {
    port: u16,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

const EMBED_KEY: &str = "sk-test-embeddings";

impl EmbeddingsServer {
    fn start() -> EmbeddingsServer {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let model = std::sync::Arc::new(
            lode_embed::Embedder::load_dir(&lode_tests::repo().join("models")).unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (model, count) = (model.clone(), count.clone());
                std::thread::spawn(move || {
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let (head, body) = read_message(&stream);
                    let (status, extra, reply) = if !head.starts_with("POST /v1/embeddings ") {
                        (404, "", json!({"error": {"message": "no such route"}}))
                    } else if !head.to_ascii_lowercase().contains(&format!(
                        "authorization: bearer {}",
                        EMBED_KEY.to_ascii_lowercase()
                    )) {
                        // OpenAI echoes the key it was given in this message.
                        let given = head
                            .lines()
                            .find(|l| l.to_ascii_lowercase().starts_with("authorization: bearer "))
                            .map_or("", |l| l["authorization: bearer ".len()..].trim());
                        (
                            401,
                            "",
                            json!({"error": {"message": format!("Incorrect API key provided: {given}.")}}),
                        )
                    } else if n == 0 {
                        (
                            429,
                            "Retry-After: 0\r\n",
                            json!({"error": {"message": "Rate limit reached"}}),
                        )
                    } else {
                        let request: Value = serde_json::from_slice(&body).unwrap();
                        assert_eq!(request["model"], "sentence-transformers/all-MiniLM-L6-v2");
                        assert_eq!(request["encoding_format"], "float");
                        let texts: Vec<&str> = request["input"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|t| t.as_str().unwrap())
                            .collect();
                        let vectors = model.embed(&texts).unwrap();
                        let data: Vec<Value> = vectors
                            .iter()
                            .enumerate()
                            .rev()
                            .map(
                                |(i, v)| json!({"object": "embedding", "index": i, "embedding": v}),
                            )
                            .collect();
                        (
                            200,
                            "",
                            json!({"object": "list", "data": data, "model": request["model"],
                            "usage": {"prompt_tokens": 0, "total_tokens": 0}}),
                        )
                    };
                    let reply = reply.to_string();
                    let mut stream = stream;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                        reply.len()
                    );
                });
            }
        });
        EmbeddingsServer { port, requests }
    }
}

/// The remote backend speaks the OpenAI embeddings protocol through the
/// allow-list, retries a 429, and gives the in-Wasm backend's vectors.
#[test]
fn remote_openai_compatible_backend_gives_the_same_vectors() {
    let server = EmbeddingsServer::start();
    let origin = format!("http://127.0.0.1:{}", server.port);
    let remote = start_with_embed(
        "embed-openai",
        &[
            ("SPIN_VARIABLE_EMBED_API_ORIGIN", &origin),
            ("SPIN_VARIABLE_EMBED_API_KEY", EMBED_KEY),
        ],
    );
    assert_same_vectors_as_in_wasm(&remote, "remote OpenAI-compatible");
    let served = server.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        served >= 5,
        "3 documents + 3 queries + one 429, got {served}"
    );

    // A wrong key is a clear error, not a silent empty index.
    let wrong = start_with_embed(
        "embed-openai",
        &[
            ("SPIN_VARIABLE_EMBED_API_ORIGIN", &origin),
            ("SPIN_VARIABLE_EMBED_API_KEY", "sk-wrong"),
        ],
    );
    let r = add(&wrong, ADMIN, "Bread", BREAD, json!({}));
    assert_eq!(r.status, 503, "{}", r.text);
    let log = wrong.log();
    assert!(
        log.contains("Incorrect API key provided: [redacted]"),
        "{log}"
    );
    assert!(
        !log.contains("sk-wrong"),
        "the key must never reach the log: {log}"
    );
    // The documents component refuses to fetch from the embeddings API.
    let r = wrong.json(
        "POST",
        "/api/documents/from-url",
        ADMIN,
        &json!({"url": format!("{origin}/v1/embeddings")}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
}

/// A queue worker killed between storing a document and indexing it leaves a
/// document without chunks (emulated here by deleting them). Ingesting the
/// same content again finishes the job instead of answering "duplicate", so a
/// re-run always ends with exactly one indexed copy.
#[test]
fn re_ingesting_a_document_that_was_never_indexed_indexes_it_once() {
    let host = start(&[]);
    let first = add(&host, ADMIN, "Bread", BREAD, json!({}));
    assert_eq!(first.status, 201, "{}", first.text);
    let id = first.json["id"].as_str().unwrap().to_string();
    {
        let db = rusqlite::Connection::open(host.state_dir.join("sqlite_db.db")).unwrap();
        db.execute_batch(&format!(
            "INSERT INTO chunk_terms (chunk_terms, rowid, terms) \
               SELECT 'delete', id, tenant || ':' || replace(terms, ' ', ' ' || tenant || ':') \
               FROM chunks WHERE document_id = '{id}';
             DELETE FROM chunk_vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = '{id}');
             DELETE FROM chunks WHERE document_id = '{id}';"
        ))
        .unwrap();
    }
    let chunks = |host: &Host| {
        host.get(&format!("/api/documents/{id}/chunks"), Some(ADMIN))
            .json["data"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(chunks(&host), 0);
    let again = add(&host, ADMIN, "Bread", BREAD, json!({}));
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(
        again.json["id"],
        id.as_str(),
        "the same document, now indexed"
    );
    assert!(chunks(&host) > 0);
    let third = add(&host, ADMIN, "Bread", BREAD, json!({}));
    assert_eq!(
        (third.status, &third.json["duplicate"]),
        (200, &json!(true))
    );
    let listed = host.get("/api/documents", Some(ADMIN));
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1);
    let hit = search(
        &host,
        ADMIN,
        "/api/search",
        json!({"query": "sourdough", "k": 10}),
    );
    assert_eq!(
        hit.json["data"].as_array().unwrap().len(),
        chunks(&host),
        "each chunk once: {}",
        hit.text
    );
}
