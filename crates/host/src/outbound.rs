//! Outbound HTTP from components, refused unless `allowed_outbound_hosts` allows it.
//!
//! Spin refuses with `error-code::HTTP-request-denied` and tells the operator
//! how to allow it (factor-outbound-http `prepare_request`); so does this host.

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks, default_send_request};

use crate::allowed_hosts::AllowList;

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

/// The outbound policy of one component.
pub struct OutboundPolicy {
    component: String,
    allowed: AllowList,
}

impl OutboundPolicy {
    /// The policy for `component`.
    pub fn new(component: &str, allowed: AllowList) -> Self {
        Self {
            component: component.to_string(),
            allowed,
        }
    }
}

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> SendFuture {
        _ = fut;
        let url = request.uri().to_string();
        if !self.allowed.allows_url(&url) {
            let origin = request
                .uri()
                .authority()
                .map(|a| format!("{}://{a}", request.uri().scheme_str().unwrap_or("http")))
                .unwrap_or(url);
            eprintln!(
                "A component tried to make an outbound network connection to disallowed destination '{origin}'.\n\
                 To allow this request, add 'allowed_outbound_hosts = [\"{origin}\"]' to the manifest component section ({}).",
                self.component
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) = default_send_request(request, options).await?;
            Ok((res.map(BodyExt::boxed_unsync), Box::new(io) as IoFuture))
        })
    }
}
