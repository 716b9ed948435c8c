//! Request-body validation: size, media type, JSON syntax and field shape,
//! each with its own status (413, 415, 400, 422).

use serde::de::DeserializeOwned;

use crate::ApiError;
use crate::error::ErrorCode;

/// The largest body an endpoint accepts, in bytes.
///
/// Components read it from a Spin variable so operators can raise it without a rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

impl BodyLimit {
    /// 1 MiB: enough for a JSON document body; uploads get their own limit later.
    pub const DEFAULT: BodyLimit = BodyLimit(1024 * 1024);

    /// Parse a limit from a variable's text, falling back to the default when empty.
    pub fn parse(text: &str) -> Result<BodyLimit, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::DEFAULT);
        }
        text.parse::<usize>()
            .map(BodyLimit)
            .map_err(|_| format!("body limit must be a number of bytes, got {text:?}"))
    }

    /// 413 when `len` exceeds the limit.
    pub fn check(self, len: usize) -> Result<(), ApiError> {
        if len > self.0 {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("body is {len} bytes; the limit is {} bytes", self.0),
            ));
        }
        Ok(())
    }
}

/// True when a `Content-Type` header value names JSON (parameters such as charset allowed).
pub fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let essence = ct.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Validate and decode a JSON request body.
///
/// Order matters: size first (never parse an oversized body), then media type,
/// then UTF-8/JSON syntax (400), then the shape of the fields (422).
pub fn parse_json<T: DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
    limit: BodyLimit,
) -> Result<T, ApiError> {
    limit.check(body.len())?;
    if !is_json(content_type) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "expected Content-Type: application/json",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("request body is not valid UTF-8"))?;
    check_depth(text)?;
    serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::invalid(e.to_string()),
        _ => ApiError::bad_request(format!("malformed JSON: {e}")),
    })
}

/// Deepest nesting of arrays and objects a request may have. No Lode
/// request needs more than a few levels; a deep one only costs stack.
pub const MAX_JSON_DEPTH: usize = 32;

/// 400 when `text` nests arrays and objects deeper than [`MAX_JSON_DEPTH`]
/// (brackets inside strings do not count). Checked before parsing, so a
/// hostile body never reaches the recursive parser.
fn check_depth(text: &str) -> Result<(), ApiError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(ApiError::bad_request(format!(
                        "JSON nested deeper than {MAX_JSON_DEPTH} levels"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        title: String,
    }

    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn statuses_in_order() {
        let small = BodyLimit(10);
        let status = |ct, body: &[u8], limit| {
            parse_json::<Doc>(ct, body, limit)
                .map(|_| 200)
                .unwrap_or_else(|e| e.status())
        };
        assert_eq!(status(JSON, br#"{"title":"a long title"}"#, small), 413);
        assert_eq!(
            status(Some("text/plain"), br#"{"title":"x"}"#, BodyLimit::DEFAULT),
            415
        );
        assert_eq!(status(None, br#"{"title":"x"}"#, BodyLimit::DEFAULT), 415);
        assert_eq!(status(JSON, b"{not json", BodyLimit::DEFAULT), 400);
        assert_eq!(status(JSON, b"\xff\xfe", BodyLimit::DEFAULT), 400);
        assert_eq!(status(JSON, br#"{"title":5}"#, BodyLimit::DEFAULT), 422);
        assert_eq!(status(JSON, br#"{}"#, BodyLimit::DEFAULT), 422);
        assert_eq!(status(JSON, br#"{"title":"x"}"#, BodyLimit::DEFAULT), 200);
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let value = |body: &str| {
            parse_json::<serde_json::Value>(JSON, body.as_bytes(), BodyLimit::DEFAULT)
                .map(|_| 200)
                .unwrap_or_else(|e| e.status())
        };
        assert_eq!(value(&nested(MAX_JSON_DEPTH)), 200);
        assert_eq!(value(&nested(MAX_JSON_DEPTH + 1)), 400);
        assert_eq!(value(&nested(100_000)), 400, "no stack overflow");
        // Brackets in strings, escaped quotes included, are text.
        let in_string = format!(r#"{{"title": "\"{}"}}"#, "[".repeat(100));
        assert_eq!(value(&in_string), 200);
    }

    #[test]
    fn limit_parsing() {
        assert_eq!(BodyLimit::parse(""), Ok(BodyLimit::DEFAULT));
        assert_eq!(BodyLimit::parse(" 2048 "), Ok(BodyLimit(2048)));
        assert!(BodyLimit::parse("big").is_err());
    }
}
