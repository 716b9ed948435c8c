//! Serving the web app's built files (`components/ui/web/dist`, which Spin
//! mounts read-only into the `ui` component through `files`).
//!
//! The app lives at three prefixes so that every other path keeps the API's
//! JSON 404: `/` and `/app/...` answer the app's page (its router draws the
//! rest), `/assets/...` answers Vite's content-hashed files. Pages carry a
//! Content-Security-Policy that lets only Lode's own origin provide scripts,
//! styles, images and connections; hashed assets are cached for a year,
//! the page itself is revalidated, and a precompressed `.gz` sibling is sent
//! to clients that accept gzip.

use std::path::Path;

/// The page's policy: everything from Lode's own origin, no inline script
/// or style, no plugins, never framed, forms only back to Lode.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// Headers on every file: no sniffing, no framing, no referrer leaking a
/// document id to another site.
const COMMON: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// Largest file served; the built app's files are far smaller, so anything
/// bigger in the mount is a mistake, not something to stream.
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// Why a file is not served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssetError {
    /// Only `GET` and `HEAD` read files.
    #[error("method {0} is not allowed; use GET or HEAD")]
    MethodNotAllowed(String),
    /// No such file (or a path that could never name one).
    #[error("no file at {0}")]
    NotFound(String),
    /// The mount is missing the app: it was not built.
    #[error("the web app is not built ({0}); run `make build`")]
    NotBuilt(String),
}

/// A file ready to send.
#[derive(Debug)]
pub struct Asset {
    /// 200.
    pub status: u16,
    /// Content type, caching, encoding and security headers.
    pub headers: Vec<(&'static str, String)>,
    /// Empty for `HEAD`.
    pub body: Vec<u8>,
}

/// The file for `method path` under `root`, gzip-encoded when the client's
/// `accept_encoding` allows it and a `.gz` sibling exists.
pub fn serve(
    root: &Path,
    method: &str,
    path: &str,
    accept_encoding: Option<&str>,
) -> Result<Asset, AssetError> {
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        other => return Err(AssetError::MethodNotAllowed(other.to_string())),
    };
    let relative = resolve(path).ok_or_else(|| AssetError::NotFound(path.to_string()))?;
    let is_page = relative == "index.html";
    let file = root.join(&relative);
    let gz = root.join(format!("{relative}.gz"));
    let gzip = accepts_gzip(accept_encoding) && gz.is_file();
    let chosen = if gzip { &gz } else { &file };
    let bytes = match read_bounded(chosen) {
        Some(b) => b,
        None if is_page => return Err(AssetError::NotBuilt(file.display().to_string())),
        None => return Err(AssetError::NotFound(path.to_string())),
    };
    let mut headers: Vec<(&'static str, String)> =
        COMMON.iter().map(|(n, v)| (*n, (*v).to_string())).collect();
    headers.push(("content-type", media_type(&relative).to_string()));
    headers.push(("content-length", bytes.len().to_string()));
    headers.push(("vary", "accept-encoding".to_string()));
    if gzip {
        headers.push(("content-encoding", "gzip".to_string()));
    }
    if is_page {
        headers.push(("content-security-policy", PAGE_CSP.to_string()));
        headers.push(("cache-control", "no-cache".to_string()));
    } else {
        // Vite names every file under assets/ by a hash of its content.
        headers.push((
            "cache-control",
            "public, max-age=31536000, immutable".to_string(),
        ));
    }
    Ok(Asset {
        status: 200,
        headers,
        body: if head { Vec::new() } else { bytes },
    })
}

/// The file a URL path names, relative to the mount: `index.html` for the
/// app's pages, the file itself under `assets/`; `None` for any other path
/// and for names that could climb out of the mount or reach hidden files.
fn resolve(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if path == "/" || path == "/app" || path.starts_with("/app/") {
        return Some("index.html".to_string());
    }
    let rest = path.strip_prefix("/assets/")?;
    let safe = !rest.is_empty()
        && rest.split('/').all(|segment| {
            !segment.is_empty()
                && !segment.starts_with('.')
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    safe.then(|| format!("assets/{rest}"))
}

fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    std::fs::read(path).ok()
}

/// Whether `Accept-Encoding` allows gzip (RFC 9110 §12.5.3: a `q=0` refuses).
fn accepts_gzip(header: Option<&str>) -> bool {
    header.is_some_and(|h| {
        h.split(',').any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
    })
}

/// The media type of a built file, by extension.
fn media_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "lode-assets-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<!doctype html><title>Lode</title>").unwrap();
        std::fs::write(dir.join("assets/index-abc.js"), "console.log(1)").unwrap();
        std::fs::write(dir.join("assets/index-abc.js.gz"), [0x1f, 0x8b, 1, 2]).unwrap();
        std::fs::write(dir.join("assets/.secret"), "no").unwrap();
        std::fs::write(dir.join("secret.txt"), "no").unwrap();
        dir
    }

    fn header<'a>(a: &'a Asset, name: &str) -> Option<&'a str> {
        a.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn pages_answer_the_app_with_its_policy() {
        let root = built();
        for path in ["/", "/app", "/app/documents/doc_1", "/app/search?q=x"] {
            let a = serve(&root, "GET", path, None).unwrap();
            assert!(a.body.starts_with(b"<!doctype html>"), "{path}");
            assert_eq!(header(&a, "content-security-policy"), Some(PAGE_CSP));
            assert_eq!(header(&a, "cache-control"), Some("no-cache"));
            assert_eq!(header(&a, "content-type"), Some("text/html; charset=utf-8"));
        }
        assert!(!PAGE_CSP.contains("unsafe"), "no inline script or style");
    }

    #[test]
    fn assets_are_immutable_and_gzip_only_when_accepted() {
        let root = built();
        let plain = serve(&root, "GET", "/assets/index-abc.js", None).unwrap();
        assert_eq!(plain.body, b"console.log(1)");
        assert_eq!(header(&plain, "content-encoding"), None);
        assert!(
            header(&plain, "cache-control")
                .unwrap()
                .contains("immutable")
        );
        let gz = serve(&root, "GET", "/assets/index-abc.js", Some("br, gzip")).unwrap();
        assert_eq!(header(&gz, "content-encoding"), Some("gzip"));
        assert_eq!(gz.body, [0x1f, 0x8b, 1, 2]);
        assert_eq!(
            header(&gz, "content-type"),
            Some("text/javascript; charset=utf-8")
        );
        let refused = serve(&root, "GET", "/assets/index-abc.js", Some("gzip;q=0")).unwrap();
        assert_eq!(header(&refused, "content-encoding"), None);
        let head = serve(&root, "HEAD", "/assets/index-abc.js", None).unwrap();
        assert!(head.body.is_empty());
        assert_eq!(header(&head, "content-length"), Some("14"));
    }

    #[test]
    fn nothing_outside_the_app_is_reachable() {
        let root = built();
        for path in [
            "/secret.txt",
            "/assets/../secret.txt",
            "/assets/%2e%2e/secret.txt",
            "/assets/.secret",
            "/assets/",
            "/assets//index-abc.js",
            "/assets/missing.js",
            "/nowhere",
            "/api/documents",
        ] {
            assert_eq!(
                serve(&root, "GET", path, None).unwrap_err(),
                AssetError::NotFound(path.to_string()),
                "{path}"
            );
        }
        assert_eq!(
            serve(&root, "POST", "/", None).unwrap_err(),
            AssetError::MethodNotAllowed("POST".into())
        );
    }

    #[test]
    fn a_missing_build_says_so() {
        let root = std::env::temp_dir().join("lode-assets-never-built");
        assert!(matches!(
            serve(&root, "GET", "/", None),
            Err(AssetError::NotBuilt(_))
        ));
    }
}
