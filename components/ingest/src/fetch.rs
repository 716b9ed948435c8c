//! `POST /api/documents/from-url`: fetch a web page or file through Spin's
//! outbound HTTP. The manifest's `allowed_outbound_hosts` decides which hosts
//! are reachable (the host refuses the rest); here: http(s) only, a bounded
//! number of redirects, and the same size limit as uploads.

use http_body_util::BodyExt;
use lode_api::{ApiError, BodyLimit, ErrorCode};
use spin_sdk::http::EmptyBody;

/// Redirects followed before giving up (browsers allow 20; documents rarely need 2).
const MAX_REDIRECTS: usize = 5;

/// A fetched document.
pub struct Fetched {
    /// The URL the content finally came from.
    pub url: String,
    /// Its media type, without parameters kept for the extractor (charset).
    pub media_type: String,
    /// The body.
    pub bytes: Vec<u8>,
}

/// Check that `url` is absolute http(s) and return it normalised.
pub fn parse_url(url: &str) -> Result<url::Url, ApiError> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|e| ApiError::invalid(format!("url is not a valid absolute URL: {e}")))?;
    match parsed.scheme() {
        "http" | "https" if parsed.host_str().is_some() => Ok(parsed),
        "http" | "https" => Err(ApiError::invalid("url has no host")),
        other => Err(ApiError::invalid(format!(
            "url scheme {other:?} is not allowed; use http or https"
        ))),
    }
}

/// GET `url`, following up to [`MAX_REDIRECTS`] redirects (each checked
/// again). `refused` is an origin in the component's allow-list for another
/// purpose (the embeddings API): users may not make Lode fetch from it.
pub async fn fetch(
    url: url::Url,
    limit: BodyLimit,
    refused: Option<url::Origin>,
) -> Result<Fetched, ApiError> {
    let mut url = url;
    for _ in 0..=MAX_REDIRECTS {
        if refused.as_ref() == Some(&url.origin()) {
            return Err(ApiError::invalid(format!(
                "{url} is on the embeddings API's origin, which documents are never fetched from"
            )));
        }
        let request = http::Request::get(url.as_str())
            .header(
                "accept",
                "text/html, application/pdf, text/markdown, text/plain;q=0.9, */*;q=0.1",
            )
            .header("user-agent", "Lode/0.1 (+document ingestion)")
            .body(EmptyBody::new())
            .map_err(|e| ApiError::invalid(format!("url: {e}")))?;
        let response = spin_sdk::http::send(request).await.map_err(|e| {
            ApiError::new(
                ErrorCode::Unprocessable,
                format!("fetching {url} failed: {e}"),
            )
        })?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| ApiError::invalid(format!("{url} redirected without a Location")))?;
            let next = url
                .join(location)
                .map_err(|e| ApiError::invalid(format!("bad redirect from {url}: {e}")))?;
            url = parse_url(next.as_str())?;
            continue;
        }
        if !(200..300).contains(&status) {
            return Err(ApiError::invalid(format!(
                "fetching {url} answered HTTP {status}"
            )));
        }
        let media_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        if let Some(len) = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
        {
            limit.check(len)?;
        }
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| ApiError::invalid(format!("reading {url} failed: {e}")))?;
            if let Ok(data) = frame.into_data() {
                limit.check(bytes.len() + data.len())?;
                bytes.extend_from_slice(&data);
            }
        }
        return Ok(Fetched {
            url: url.to_string(),
            media_type,
            bytes,
        });
    }
    Err(ApiError::invalid(format!(
        "more than {MAX_REDIRECTS} redirects; stopped at {url}"
    )))
}
