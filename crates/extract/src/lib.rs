//! Turns untrusted document bytes into Markdown text for chunking and embedding.
//!
//! The crate is pure Rust so that it builds both natively and for
//! `wasm32-wasip2`, where it runs inside a Wasm component with no threads, no
//! filesystem and no network. A panic aborts the component there, so every
//! path is written not to panic on any input: indexing is checked, loops are
//! bounded and the PDF walker counts its operators, pages, recursion depth and
//! decompressed bytes against the limits in [`Options`].

mod html;
mod pdf;
mod text;

/// What the caller asks for: a password for encrypted PDFs and the limits that
/// keep one hostile document from exhausting the component's time or memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Password to try on an encrypted PDF after the empty user password, so
    /// a caller who knows it can still have the text extracted.
    pub password: Option<String>,
    /// Largest number of PDF pages we agree to read (default 2000); more is
    /// [`ExtractError::TooLarge`], since every page costs time and memory.
    pub max_pages: usize,
    /// Largest size, in bytes, that any one PDF stream may decompress to
    /// (default 64 MiB), which defuses decompression bombs.
    pub max_decompressed_bytes: usize,
    /// Largest number of content-stream operators read per PDF page, Form
    /// XObjects included (default 1 000 000); the rest of the page is skipped
    /// with a warning so a pathological page cannot stall extraction.
    pub max_ops_per_page: usize,
    /// Most bytes inflated for one PDF, all streams together (default
    /// 256 MiB); a stream used again comes from a cache and is not
    /// inflated twice while the cache has room.
    pub max_document_decompressed_bytes: usize,
    /// Most content bytes run for one PDF (default 256 MiB): a page's
    /// content, and a form's or appearance's each time it is drawn, so a
    /// small file drawing one large form many times is refused.
    pub max_document_content_bytes: usize,
    /// Most operators run for one PDF, all pages and forms (default 20 000 000).
    pub max_document_ops: usize,
    /// Most Form XObjects and annotation appearances drawn for one PDF
    /// (default 100 000).
    pub max_document_forms: usize,
}

impl Default for Options {
    /// Limits generous enough for real documents and small enough for a
    /// component with a few hundred MiB of memory.
    fn default() -> Self {
        Self {
            password: None,
            max_pages: 2000,
            max_decompressed_bytes: 64 * 1024 * 1024,
            max_ops_per_page: 1_000_000,
            max_document_decompressed_bytes: 256 * 1024 * 1024,
            max_document_content_bytes: 256 * 1024 * 1024,
            max_document_ops: 20_000_000,
            max_document_forms: 100_000,
        }
    }
}

/// One page's span of [`Extracted::markdown`], so that chunks can cite the
/// page they came from: byte offsets, `start` inclusive and `end` exclusive,
/// with pages numbered from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSpan {
    /// Page number, counting from 1 as readers do.
    pub page: u32,
    /// Byte offset of the page's first byte in the Markdown.
    pub start: usize,
    /// Byte offset just past the page's last byte in the Markdown.
    pub end: usize,
}

/// What extraction produced: the text, where each page lies in it, the
/// metadata worth indexing, and what went wrong without stopping us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The document as Markdown (plain paragraphs for PDF), ready to chunk.
    pub markdown: String,
    /// Each page's range in `markdown`; empty for media without pages.
    pub pages: Vec<PageSpan>,
    /// Document title, from PDF metadata, `<title>`/`og:title`, a Markdown
    /// heading or the first line of plain text.
    pub title: Option<String>,
    /// Document author when the format records one.
    pub author: Option<String>,
    /// Language tag (e.g. `en-GB`) when the document declares one.
    pub language: Option<String>,
    /// Problems we recovered from (skipped pages, pages without a text layer,
    /// truncated content), so callers can tell a partial result from a full one.
    pub warnings: Vec<String>,
}

/// Why nothing could be extracted; each variant maps to one HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// A media type we do not handle (HTTP 415).
    #[error("unsupported media type: {0}")]
    Unsupported(String),
    /// The PDF is encrypted and neither the empty password nor the one given
    /// opens it (HTTP 422, code "encrypted").
    #[error("the document is encrypted and needs a (different) password")]
    Encrypted,
    /// The input cannot be read and nothing could be recovered (HTTP 422).
    #[error("malformed document: {0}")]
    Malformed(String),
    /// A limit in [`Options`] was hit (HTTP 413/422).
    #[error("document too large: {0}")]
    TooLarge(String),
    /// The text is not decodable in any encoding we could determine (HTTP 422).
    #[error("text encoding error: {0}")]
    Encoding(String),
}

/// The media types [`extract`] accepts, for content negotiation and error
/// messages.
pub const MEDIA_TYPES: &[&str] = &[
    "application/pdf",
    "text/html",
    "application/xhtml+xml",
    "text/markdown",
    "text/plain",
];

/// A media type split into its lower-cased essence and its `charset`
/// parameter, if any.
fn parse_media_type(media_type: &str) -> (String, Option<String>) {
    let mut parts = media_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let mut charset = None;
    for param in parts {
        if let Some((key, value)) = param.split_once('=')
            && key.trim().eq_ignore_ascii_case("charset")
        {
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
            if !value.is_empty() {
                charset = Some(value.to_string());
            }
        }
    }
    (essence, charset)
}

/// Extracts Markdown text and metadata from `bytes`, dispatching on
/// `media_type`, which may carry parameters (`text/html; charset=ISO-8859-1`):
/// a charset parameter is honoured for HTML and text.
pub fn extract(bytes: &[u8], media_type: &str, opts: &Options) -> Result<Extracted, ExtractError> {
    let (essence, charset) = parse_media_type(media_type);
    match essence.as_str() {
        "application/pdf" | "application/x-pdf" => pdf::extract(bytes, opts),
        "text/html" | "application/xhtml+xml" => html::extract(bytes, charset.as_deref()),
        "text/markdown" | "text/x-markdown" => text::extract(bytes, charset.as_deref(), true),
        "text/plain" => text::extract(bytes, charset.as_deref(), false),
        _ => Err(ExtractError::Unsupported(if essence.is_empty() {
            "(empty)".to_string()
        } else {
            essence
        })),
    }
}

/// Guesses a media type from the content (PDF magic, an HTML doctype or
/// `<html>` tag) and then the file name's extension, for uploads that arrive
/// without a usable `Content-Type`. Returns one of [`MEDIA_TYPES`] or `None`.
pub fn guess_media_type(filename: Option<&str>, bytes: &[u8]) -> Option<&'static str> {
    let head = bytes.get(..1024).unwrap_or(bytes);
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Some("application/pdf");
    }
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let lower: Vec<u8> = head
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take(64)
        .map(u8::to_ascii_lowercase)
        .collect();
    if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        return Some("text/html");
    }
    let name = filename?.trim().to_ascii_lowercase();
    let ext = name.rsplit_once('.').map(|(_, e)| e)?;
    match ext {
        "pdf" => Some("application/pdf"),
        "html" | "htm" => Some("text/html"),
        "xhtml" => Some("application/xhtml+xml"),
        "md" | "markdown" => Some("text/markdown"),
        "txt" | "text" => Some("text/plain"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_parameters_are_parsed() {
        assert_eq!(
            parse_media_type(" Text/HTML ; charset=\"ISO-8859-1\""),
            ("text/html".to_string(), Some("ISO-8859-1".to_string()))
        );
        assert_eq!(
            parse_media_type("text/plain"),
            ("text/plain".to_string(), None)
        );
    }

    #[test]
    fn unsupported_media_type() {
        let err = extract(b"x", "image/png", &Options::default()).unwrap_err();
        assert_eq!(err, ExtractError::Unsupported("image/png".into()));
    }

    #[test]
    fn guesses_media_types() {
        assert_eq!(
            guess_media_type(None, b"%PDF-1.7\n..."),
            Some("application/pdf")
        );
        assert_eq!(
            guess_media_type(Some("x.txt"), b"junk\n%PDF-1.4"),
            Some("application/pdf")
        );
        assert_eq!(
            guess_media_type(None, b"\xEF\xBB\xBF  <!DOCTYPE html><p>x"),
            Some("text/html")
        );
        assert_eq!(guess_media_type(None, b"<HTML><body>"), Some("text/html"));
        assert_eq!(
            guess_media_type(Some("Notes.MD"), b"# hi"),
            Some("text/markdown")
        );
        assert_eq!(
            guess_media_type(Some("a.markdown"), b"# hi"),
            Some("text/markdown")
        );
        assert_eq!(guess_media_type(Some("a.txt"), b"hi"), Some("text/plain"));
        assert_eq!(guess_media_type(Some("a.htm"), b"hi"), Some("text/html"));
        assert_eq!(
            guess_media_type(Some("a.pdf"), b""),
            Some("application/pdf")
        );
        assert_eq!(guess_media_type(Some("a.png"), b"\x89PNG"), None);
        assert_eq!(guess_media_type(Some("noext"), b"hello"), None);
        assert_eq!(guess_media_type(None, b"hello"), None);
    }

    #[test]
    fn every_listed_media_type_dispatches() {
        for mt in MEDIA_TYPES {
            let bytes: &[u8] = if *mt == "application/pdf" {
                b"%PDF-1.4 garbage"
            } else {
                b"hello"
            };
            let result = extract(bytes, mt, &Options::default());
            assert!(!matches!(result, Err(ExtractError::Unsupported(_))), "{mt}");
        }
    }
}
