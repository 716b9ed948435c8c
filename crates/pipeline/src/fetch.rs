//! `POST /api/documents/from-url`: fetch a web page or file through the
//! host's outbound HTTP. The manifest's `allowed_outbound_hosts` decides
//! which hosts are reachable (the host refuses the rest); here: http(s)
//! only, a fence against internal addresses checked at every hop, a
//! bounded number of redirects and wait, and the same size limit as uploads.

use std::time::Duration;

use bytes::Bytes;
use lode_api::{ApiError, BodyLimit, ErrorCode};
use lode_capabilities::{Outbound, OutboundRequest, ResponseBody, SendError, Variables};
use serde_json::{Map, Value as Json, json};

/// Redirects followed before giving up (browsers allow 20; documents rarely need 2).
const MAX_REDIRECTS: usize = 5;
/// Longest wait for a connection, the first byte, or between bytes.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A fetched document.
#[derive(Debug)]
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

/// What a user-supplied URL may not reach, checked before the first
/// request and again at every redirect.
pub struct Fence {
    /// The embeddings API's origin (variable `embed_api_url`): it is in the
    /// allow-list for the embed step, and users may not make Lode fetch from it.
    embed_api: Option<url::Origin>,
    /// Variable `url_ingest_allow_private`: let URLs reach loopback, private
    /// and link-local addresses (a trusted network, or tests).
    allow_private: bool,
}

impl Fence {
    /// The fence from the variables `embed_api_url` and
    /// `url_ingest_allow_private` (unset: no embeddings API, no private
    /// addresses).
    pub async fn load(vars: &impl Variables) -> Fence {
        let embed_api = vars.variable("embed_api_url").await.unwrap_or_default();
        let allow_private = vars
            .variable("url_ingest_allow_private")
            .await
            .unwrap_or_default();
        Fence {
            embed_api: url::Url::parse(&embed_api).ok().map(|u| u.origin()),
            allow_private: allow_private.trim() == "true",
        }
    }

    /// 422 when `url` is on the embeddings API's origin or, unless allowed,
    /// on an internal address (`lode_api::net`).
    pub fn check(&self, url: &url::Url) -> Result<(), ApiError> {
        if self.embed_api.as_ref() == Some(&url.origin()) {
            return Err(ApiError::invalid(format!(
                "{url} is on the embeddings API's origin, which documents are never fetched from"
            )));
        }
        let host = url
            .host()
            .ok_or_else(|| ApiError::invalid("url has no host"))?;
        match lode_api::net::private_host(&host) {
            Some(why) if !self.allow_private => Err(ApiError::invalid(format!(
                "{url} points at {why}; Lode does not fetch internal addresses \
                 (url_ingest_allow_private)"
            ))),
            _ => Ok(()),
        }
    }
}

/// The document's name (the URL's last path segment) and the source facts
/// stored in its metadata.
pub fn source(fetched: &Fetched) -> (Option<String>, Map<String, Json>) {
    let mut source = Map::new();
    source.insert(
        "media_type".into(),
        json!(crate::base_type(&fetched.media_type)),
    );
    source.insert("source_url".into(), json!(fetched.url));
    let name = fetched
        .url
        .rsplit('/')
        .find(|s| !s.is_empty())
        .map(str::to_string);
    (name, source)
}

/// GET `url`, following up to [`MAX_REDIRECTS`] redirects, each hop
/// checked against the `fence`.
pub async fn fetch(
    http: &impl Outbound,
    url: url::Url,
    limit: BodyLimit,
    fence: &Fence,
) -> Result<Fetched, ApiError> {
    let mut url = url;
    for _ in 0..=MAX_REDIRECTS {
        fence.check(&url)?;
        let request = http::Request::get(url.as_str())
            .header(
                "accept",
                "text/html, application/pdf, text/markdown, text/plain;q=0.9, */*;q=0.1",
            )
            .header("user-agent", "Lode/0.1 (+document ingestion)")
            .body(Bytes::new())
            .map_err(|e| ApiError::invalid(format!("url: {e}")))?;
        let request = OutboundRequest {
            request,
            timeout: TIMEOUT,
        };
        let response = http.send(request).await.map_err(|e| send_error(&url, e))?;
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
            // 408, 429 and 5xx may pass (lode-retry's rule); other answers will not.
            let code = if lode_retry::is_retryable(status) {
                ErrorCode::BadGateway
            } else {
                ErrorCode::Unprocessable
            };
            return Err(ApiError::new(
                code,
                format!("fetching {url} answered HTTP {status}"),
            ));
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
        while let Some(data) = body.chunk().await {
            let data = data.map_err(|e| ApiError::invalid(format!("reading {url} failed: {e}")))?;
            limit.check(bytes.len() + data.len())?;
            bytes.extend_from_slice(&data);
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

/// A request that never got an answer. The allow-list refusing the host
/// will fail the same way every time (`invalid_request`); anything else
/// (refused connection, DNS, timeout, reset) may pass, so it is
/// `bad_gateway`, which queue workers retry, with one message for all of them.
fn send_error(url: &url::Url, e: SendError) -> ApiError {
    match e {
        SendError::Denied(_) => ApiError::invalid(format!(
            "fetching {url} is not allowed: the host is not in this deployment's allowed outbound hosts"
        )),
        // Refused, filtered, reset or a broken TLS handshake all read the
        // same to the caller (telling them apart would map the network
        // behind Lode); the log has the detail.
        SendError::Failed(detail) => {
            log::warn!("fetching {url} failed: {detail}");
            ApiError::new(
                ErrorCode::BadGateway,
                format!("fetching {url} failed: the server could not be reached"),
            )
        }
    }
}
