//! The `embed` step backed by a remote OpenAI-compatible `/v1/embeddings`
//! (Hugging Face TEI, vLLM, Infinity, llama.cpp, Ollama, LiteLLM, OpenAI):
//! for bulk ingestion, where a GPU server embeds far faster than Wasm can.
//!
//! Configuration comes from Spin variables of the parent component (with
//! `dependencies_inherit_configuration = true`): `embed_api_url` (the full
//! endpoint URL), `embed_api_model` (the provider's model name) and
//! `embed_api_key` (a secret; empty for servers without auth). The endpoint's
//! origin must be in the parent's `allowed_outbound_hosts`.
//!
//! The step's functions are synchronous, so requests go through
//! `wasi:http@0.2`'s outgoing handler, whose futures can be polled without an
//! async runtime: up to [`IN_FLIGHT`] batches are in flight at once.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::time::Duration;

use exports::lode::embed::embed::{Embeddings, Guest};
use fermyon::spin::variables;
use lode_llm::embeddings::{Request, error_message, model_id, parse_response};
use lode_retry::{Backoff, is_retryable};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    FutureIncomingResponse, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};

spin_sdk::wit_bindgen::generate!({
    world: "remote-embedder",
    generate_all,
    path: "../../../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

/// Texts per request: large enough to amortise a round trip, small enough
/// for every server's limit (TEI's default `max_client_batch_size` is 32).
const BATCH: usize = 32;
/// Requests in flight at once: the server batches across them.
const IN_FLIGHT: usize = 4;
/// Largest response accepted: 32 vectors of 4,096 floats as JSON is ~3 MB.
const MAX_RESPONSE_BYTES: u64 = 16 << 20;

/// The endpoint, read from the parent component's variables.
struct Endpoint {
    url: url_parts::Parts,
    model: String,
    key: String,
}

impl Endpoint {
    fn load() -> Result<Self, String> {
        let get = |name: &str| variables::get(name).map_err(|e| format!("variable {name}: {e:?}"));
        Ok(Self {
            url: url_parts::Parts::parse(&get("embed_api_url")?)?,
            model: get("embed_api_model")?,
            key: get("embed_api_key")?,
        })
    }
}

/// One batch's request on the wire.
struct InFlight {
    batch: usize,
    attempt: u32,
    response: FutureIncomingResponse,
}

struct Embedder;

impl Guest for Embedder {
    fn model() -> String {
        match Endpoint::load() {
            Ok(endpoint) => model_id(&endpoint.model),
            Err(_) => "unconfigured-remote-embedder".to_string(),
        }
    }

    fn embed(texts: Vec<String>) -> Result<Embeddings, String> {
        let endpoint = Endpoint::load()?;
        let batches: Vec<&[String]> = texts.chunks(BATCH).collect();
        let mut done: Vec<Option<Vec<Vec<f32>>>> = vec![None; batches.len()];
        let mut queue: VecDeque<(usize, u32)> = (0..batches.len()).map(|b| (b, 0)).collect();
        let mut flying: Vec<InFlight> = Vec::new();
        let backoff = Backoff::default();
        while !queue.is_empty() || !flying.is_empty() {
            while flying.len() < IN_FLIGHT {
                let Some((batch, attempt)) = queue.pop_front() else {
                    break;
                };
                let response = send(&endpoint, batches[batch])?;
                flying.push(InFlight {
                    batch,
                    attempt,
                    response,
                });
            }
            let mut ready = wait_any(&flying);
            ready.sort_unstable_by(|a, b| b.cmp(a)); // swap_remove from the back first
            for i in ready {
                let call = flying.swap_remove(i);
                match receive(&call.response, batches[call.batch].len())
                    .map_err(|f| f.redact(&endpoint.key))
                {
                    Ok(vectors) => done[call.batch] = Some(vectors),
                    Err(Failure::Permanent(e)) => return Err(e),
                    Err(Failure::Transient(e, retry_after)) => {
                        let jitter =
                            wasip2::random::random::get_random_u64() as f64 / u64::MAX as f64;
                        let Some(wait) =
                            backoff.delay(call.attempt, retry_after.as_deref(), jitter)
                        else {
                            return Err(format!(
                                "{e} (gave up after {} attempts)",
                                call.attempt + 1
                            ));
                        };
                        sleep(wait);
                        queue.push_back((call.batch, call.attempt + 1));
                    }
                }
            }
        }
        let vectors: Vec<Vec<f32>> = done.into_iter().flatten().flatten().collect();
        let dimensions = vectors.first().map_or(0, Vec::len) as u32;
        if vectors.iter().any(|v| v.len() as u32 != dimensions) {
            return Err("the embeddings API returned vectors of different lengths".to_string());
        }
        Ok(Embeddings {
            model: model_id(&endpoint.model),
            dimensions,
            vectors: vectors.into_iter().map(normalise).collect(),
        })
    }
}

/// Unit length, as the in-process backend returns and as cosine by dot
/// product needs (OpenAI's vectors already are; some servers' are not).
fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Why a call failed, and whether another try may succeed.
enum Failure {
    /// Network errors, 408/429/5xx: retry, after `Retry-After` if given.
    Transient(String, Option<String>),
    /// Anything else (bad key, bad model, malformed answer).
    Permanent(String),
}

impl Failure {
    /// Remove the API key from the message: some providers (OpenAI among
    /// them) echo a wrong key in their 401 message, and messages get logged.
    fn redact(self, key: &str) -> Self {
        let clean = |m: String| {
            if key.is_empty() {
                m
            } else {
                m.replace(key, "[redacted]")
            }
        };
        match self {
            Failure::Transient(m, after) => Failure::Transient(clean(m), after),
            Failure::Permanent(m) => Failure::Permanent(clean(m)),
        }
    }
}

/// Start one request; the body is written after `handle`, so the host is
/// already reading it and a large body never fills the pipe.
fn send(endpoint: &Endpoint, texts: &[String]) -> Result<FutureIncomingResponse, String> {
    let body = Request::new(&endpoint.model, texts).to_json();
    let mut headers = vec![
        ("content-type".to_string(), b"application/json".to_vec()),
        ("accept".to_string(), b"application/json".to_vec()),
        (
            "content-length".to_string(),
            body.len().to_string().into_bytes(),
        ),
    ];
    if !endpoint.key.is_empty() {
        headers.push((
            "authorization".to_string(),
            format!("Bearer {}", endpoint.key).into_bytes(),
        ));
    }
    let fields = wasip2::http::types::Fields::from_list(&headers)
        .map_err(|e| format!("request headers: {e:?}"))?;
    let request = OutgoingRequest::new(fields);
    let url = &endpoint.url;
    let ok = request.set_method(&Method::Post).is_ok()
        && request.set_scheme(Some(&url.scheme)).is_ok()
        && request.set_authority(Some(&url.authority)).is_ok()
        && request.set_path_with_query(Some(&url.path)).is_ok();
    if !ok {
        return Err(format!("embed_api_url {:?} was refused", url.original));
    }
    let outgoing = request.body().map_err(|_| "request body taken twice")?;
    let options = RequestOptions::new();
    // Unsupported timeouts are refused with Err(()); the defaults then apply.
    let _ = options.set_connect_timeout(Some(secs(10)));
    let _ = options.set_first_byte_timeout(Some(secs(120)));
    let _ = options.set_between_bytes_timeout(Some(secs(30)));
    let response = outgoing_handler::handle(request, Some(options))
        .map_err(|e| format!("embeddings API {}: {e:?}", url.original))?;
    {
        let mut stream = outgoing
            .write()
            .map_err(|_| "request body stream taken twice")?;
        stream
            .write_all(&body)
            .and_then(|()| Write::flush(&mut stream))
            .map_err(|e| format!("sending to the embeddings API: {e}"))?;
    }
    OutgoingBody::finish(outgoing, None).map_err(|e| format!("finishing the request: {e:?}"))?;
    Ok(response)
}

fn secs(s: u64) -> u64 {
    Duration::from_secs(s).as_nanos() as u64
}

/// Block until at least one in-flight request has its response; their indices.
fn wait_any(flying: &[InFlight]) -> Vec<usize> {
    let pollables: Vec<_> = flying.iter().map(|f| f.response.subscribe()).collect();
    let refs: Vec<_> = pollables.iter().collect();
    wasip2::io::poll::poll(&refs)
        .into_iter()
        .map(|i| i as usize)
        .collect()
}

/// The vectors of a finished request for `expected` texts.
fn receive(response: &FutureIncomingResponse, expected: usize) -> Result<Vec<Vec<f32>>, Failure> {
    let response = match response.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => {
            return Err(Failure::Transient(
                format!("embeddings API unreachable: {e:?}"),
                None,
            ));
        }
        _ => return Err(Failure::Permanent("response polled twice".to_string())),
    };
    let status = response.status();
    let retry_after = header(&response, "retry-after");
    let body = read_body(&response)
        .map_err(|e| Failure::Transient(format!("reading the embeddings response: {e}"), None))?;
    if status == 200 {
        return parse_response(&body, expected).map_err(|e| Failure::Permanent(e.to_string()));
    }
    let message = error_message(status, &body);
    if is_retryable(status) {
        Err(Failure::Transient(message, retry_after))
    } else {
        Err(Failure::Permanent(message))
    }
}

fn header(response: &IncomingResponse, name: &str) -> Option<String> {
    let values = response.headers().get(name);
    values
        .first()
        .and_then(|v| String::from_utf8(v.clone()).ok())
}

fn read_body(response: &IncomingResponse) -> Result<Vec<u8>, String> {
    let body = response.consume().map_err(|_| "body consumed twice")?;
    let mut bytes = Vec::new();
    {
        let stream = body.stream().map_err(|_| "body stream taken twice")?;
        stream
            .take(MAX_RESPONSE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
    }
    if bytes.len() as u64 > MAX_RESPONSE_BYTES {
        return Err(format!("response larger than {MAX_RESPONSE_BYTES} bytes"));
    }
    Ok(bytes)
}

fn sleep(d: Duration) {
    wasip2::clocks::monotonic_clock::subscribe_duration(d.as_nanos() as u64).block();
}

/// The parts of `embed_api_url` that `wasi:http` wants separately.
mod url_parts {
    use super::Scheme;

    pub struct Parts {
        pub original: String,
        pub scheme: Scheme,
        pub authority: String,
        pub path: String,
    }

    impl Parts {
        /// `http(s)://host[:port]/path?query`; anything else is a configuration error.
        pub fn parse(original: &str) -> Result<Self, String> {
            let bad = |why: &str| format!("embed_api_url {original:?}: {why}");
            let url = url::Url::parse(original).map_err(|e| bad(&e.to_string()))?;
            let scheme = match url.scheme() {
                "http" => Scheme::Http,
                "https" => Scheme::Https,
                _ => return Err(bad("only http and https are supported")),
            };
            let host = url.host_str().ok_or_else(|| bad("no host"))?;
            if !url.username().is_empty() || url.password().is_some() {
                return Err(bad("put the key in embed_api_key, not in the URL"));
            }
            let authority = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            let path = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            Ok(Self {
                original: original.to_string(),
                scheme,
                authority,
                path,
            })
        }
    }
}

export!(Embedder);
