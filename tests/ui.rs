//! The web app as a person uses it: Playwright (components/ui/web/e2e)
//! drives the system Chromium against a real lode-host with a real
//! `redis-server`, the real model and a scripted OpenAI-compatible server,
//! after this test has created the users through the API and written the
//! files to upload. Screenshots of every page, at desktop and phone width,
//! land in `target/ui-screenshots/`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use lode_tests::llm_server::{ScriptedLlm, openai_stream};
use lode_tests::{Host, Redis, pdf, repo, temp_dir};
use serde_json::json;

const ADMIN: &str = "test-admin-key-0123456789";
const JWT_SECRET: &str = "test-jwt-secret-of-at-least-32-bytes!";
const PASSWORD: &str = "correct horse battery staple";

#[test]
fn the_web_app_works_in_chromium() {
    let redis = Redis::start();
    let llm = ScriptedLlm::start();
    let registry = json!({
        "providers": [{"name": "p-local", "protocol": "openai", "base_url": llm.origin}],
        "models": [{"name": "local", "provider": "p-local", "model": "local-v1", "context_length": 8192,
                    "cost_per_1k_input": 0.5, "cost_per_1k_output": 1.0, "quality": 0.5,
                    "capabilities": ["chat", "stream", "tools"]}],
        "strategy": "balanced"
    })
    .to_string();
    let redis_url = redis.url();
    let host = Host::start(
        "spin.toml",
        &[
            ("SPIN_VARIABLE_ADMIN_API_KEY", ADMIN),
            ("SPIN_VARIABLE_JWT_SECRET", JWT_SECRET),
            ("SPIN_VARIABLE_REDIS_URL", &redis_url),
            ("SPIN_VARIABLE_LLM_REGISTRY", &registry),
            ("SPIN_VARIABLE_LLM_ORIGIN_C", &llm.origin),
            // A corrupt PDF fails for good at once; no retries to wait out.
            ("SPIN_VARIABLE_JOB_MAX_ATTEMPTS", "2"),
        ],
    );
    for (email, role) in [("ada@example.com", "admin"), ("vic@example.com", "viewer")] {
        let r = host.json(
            "POST",
            "/api/auth/register",
            ADMIN,
            &json!({"email": email, "password": PASSWORD, "role": role}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }

    let fixtures = temp_dir("ui-fixtures");
    write_fixtures(&fixtures);
    // The one chat of the run: streamed slowly enough that the page shows
    // the first token before the answer is complete.
    llm.push(openai_stream(
        &[
            "The reaction to deflected air ",
            "pushes the wing up [1]. ",
            "Thermals help too [9].",
        ],
        Duration::from_millis(600),
    ));

    let screenshots = repo().join("target/ui-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);
    let web = repo().join("components/ui/web");
    let out = Command::new("npx")
        .args(["--no-install", "playwright", "test"])
        .current_dir(&web)
        .env("LODE_URL", &host.base)
        .env("LODE_BOOTSTRAP_KEY", ADMIN)
        .env("LODE_ADMIN_EMAIL", "ada@example.com")
        .env("LODE_ADMIN_PASSWORD", PASSWORD)
        .env("LODE_VIEWER_EMAIL", "vic@example.com")
        .env("LODE_VIEWER_PASSWORD", PASSWORD)
        .env("LODE_FIXTURES", &fixtures)
        .env("LODE_SCREENSHOTS", &screenshots)
        .env("LODE_UI_OUT", repo().join("target/ui-test-results"))
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .expect("run `npx playwright test` (Node.js and the web app's packages: make build)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser tests failed:\n{stdout}\n{stderr}\n--- lode-host ---\n{}",
        host.log()
    );
    assert!(stdout.contains("9 passed"), "{stdout}");
    assert_eq!(llm.pending(), 0, "the chat used the scripted answer");
    for page in [
        "sign-in",
        "documents",
        "document",
        "search",
        "chat",
        "jobs",
        "admin-keys",
        "admin-users",
        "admin-settings",
        "admin-audit",
        "admin-usage",
    ] {
        for width in ["desktop", "phone"] {
            let shot = screenshots.join(format!("{page}-{width}.png"));
            assert!(shot.is_file(), "missing screenshot {}", shot.display());
        }
    }
}

/// Three documents on different subjects (so a question has one right
/// source) and a PDF that is not one.
fn write_fixtures(dir: &Path) {
    std::fs::write(
        dir.join("paper.pdf"),
        pdf(
            "Lift and wings",
            "Ada",
            &["An aircraft wing deflects air downwards; the reaction pushes the wing up.\nThis force is called lift."],
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("notes.md"),
        "# Sourdough notes\n\nSourdough rises because wild yeast ferments the dough overnight.\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("page.html"),
        "<!doctype html><html><head><title>Tides</title></head><body><h1>Tides</h1>\
         <p>The moon's gravity raises two bulges of water, so most coasts see two tides a day.</p></body></html>",
    )
    .unwrap();
    std::fs::write(
        dir.join("corrupt.pdf"),
        b"%PDF-1.7\nthis is not a PDF body at all\n%%EOF\n",
    )
    .unwrap();
}

/// The first page (the documents library) loads `index.html` and what it
/// names; gzipped, its JavaScript and CSS stay within 250 kB (issue 17).
#[test]
fn the_first_page_is_within_its_size_budget() {
    let dist = repo().join("components/ui/web/dist");
    let index = std::fs::read_to_string(dist.join("index.html"))
        .expect("the web app is built (make build, or lode-host build)");
    let mut total = 0;
    let mut assets = 0;
    for part in index.split('"') {
        if let Some(name) = part.strip_prefix("/assets/")
            && (name.ends_with(".js") || name.ends_with(".css"))
        {
            let gz = dist.join(format!("assets/{name}.gz"));
            total += std::fs::metadata(&gz)
                .unwrap_or_else(|e| panic!("{}: {e}", gz.display()))
                .len();
            assets += 1;
        }
    }
    assert!(
        assets >= 2,
        "index.html names its script and stylesheet: {index}"
    );
    println!(
        "ui: first page JS+CSS {:.1} kB gzipped",
        total as f64 / 1024.0
    );
    assert!(total <= 250 * 1024, "first page is {total} bytes gzipped");
}
