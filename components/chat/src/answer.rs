//! `POST /api/chat`: retrieve, ask the LLM, verify the citations, remember
//! the turn (`lode_rag::answer`); as one JSON answer or as Server-Sent Events.

use bytes::Bytes;
use futures::SinkExt;
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use lode_api::ApiError;
use lode_auth::Principal;
use lode_common::{Reply, SpinHost, SpinSql};
use lode_llm::chat::{Delta, Message, Role};
use lode_llm::client::Ask;
use lode_llm::registry::Strategy;
use lode_rag::answer::{Framing, LodeEvents, MAX_HISTORY, Prepared, Question, check_limits};
use lode_rag::retrieval::Retrieval;
use lode_store::Conversations;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::WitEmbed;

/// A response body: a whole reply or a stream.
pub type Body = UnsyncBoxBody<Bytes, anyhow::Error>;

/// What the component answers.
pub enum Served {
    /// A JSON reply.
    Reply(Reply),
    /// A streamed response (Server-Sent Events).
    Stream(http::Response<Body>),
}

/// A whole response as a [`Body`].
pub fn boxed(r: http::Response<Full<Bytes>>) -> http::Response<Body> {
    r.map(|b| b.map_err(anyhow::Error::from).boxed_unsync())
}

/// Answer length unless the request says otherwise.
const DEFAULT_MAX_TOKENS: u32 = 800;

/// The body of `POST /api/chat`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    message: String,
    conversation_id: Option<String>,
    #[serde(default)]
    stream: bool,
    model: Option<String>,
    strategy: Option<Strategy>,
    k: Option<u32>,
    min_score: Option<f64>,
    document_ids: Option<Vec<String>>,
    metadata: Option<Map<String, Json>>,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    /// Tools the model may call: only `search_documents`, which lets it
    /// search the documents again when the first retrieval is not enough.
    #[serde(default)]
    tools: Vec<String>,
}

/// A prepared answer over this component's capabilities.
pub type Answering = Prepared<SpinHost, SpinSql, WitEmbed>;

/// Answer `body` for `who`.
pub async fn chat(sql: SpinSql, who: Principal, body: ChatBody) -> Result<Served, ApiError> {
    let question = body.message.trim().to_string();
    let max_tokens = body.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    check_limits(&question, max_tokens, body.temperature)?;
    let retrieval = Retrieval::new(body.k, body.min_score, body.document_ids, body.metadata)?;
    let search = match body.tools.as_slice() {
        [] => false,
        [one] if one == lode_rag::SEARCH_TOOL => true,
        _ => {
            return Err(ApiError::invalid(format!(
                "tools may only be [\"{}\"]",
                lode_rag::SEARCH_TOOL
            )));
        }
    };
    let tenant = who.tenant.clone();
    let history = match &body.conversation_id {
        None => Vec::new(),
        Some(id) => Conversations::new(&sql, &tenant)
            .turns(id, MAX_HISTORY)
            .await?
            .ok_or_else(|| ApiError::not_found("conversation"))?
            .into_iter()
            .map(|t| {
                let role = if t.role == "user" {
                    Role::User
                } else {
                    Role::Assistant
                };
                Message::text(role, t.content)
            })
            .collect(),
    };
    let ask = Ask {
        model: body.model,
        strategy: body.strategy,
        max_tokens,
        temperature: body.temperature,
        ..Ask::default()
    };
    let q = Question {
        question,
        history,
        retrieval,
        ask,
        conversation_id: body.conversation_id,
        remember: true,
        search,
    };
    let prepared = Prepared::new(crate::engine(sql, tenant).await?, q).await?;
    match body.stream {
        false => Ok(Served::Reply(Reply::json(200, prepared.answer().await?))),
        true => stream(prepared, LodeEvents).await,
    }
}

/// The answer as Server-Sent Events framed by `framing`. With the search
/// tool, each round must be whole before Lode knows whether the model
/// answered or searched, so the answer is sent as one `token` event.
pub async fn stream(p: Answering, framing: impl Framing) -> Result<Served, ApiError> {
    if p.searches() {
        let payload = p.answer().await?;
        let text = payload["answer"].as_str().unwrap_or_default();
        let mut body = framing.token(text).to_vec();
        body.extend_from_slice(&framing.done(&payload));
        return event_stream(
            Full::new(Bytes::from(body))
                .map_err(anyhow::Error::from)
                .boxed_unsync(),
        );
    }
    // Fallback happens here, before anything is sent to the client.
    let mut llm_stream = p.stream().await?;
    let (mut tx, body) = spin_sdk::http::body::stream::<Bytes>();
    lode_common::context::spawn(async move {
        let mut failed = None;
        match llm_stream.as_mut() {
            None => {
                let _ = tx.send(framing.token(lode_rag::NO_CONTEXT_ANSWER)).await;
            }
            Some(s) => {
                while let Some(delta) = s.next().await {
                    match delta {
                        Ok(Delta::Text(t)) => {
                            if tx.send(framing.token(&t)).await.is_err() {
                                break; // the client went away
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            failed = Some(ApiError::from(e));
                            break;
                        }
                    }
                }
            }
        }
        let outcome = match failed {
            Some(e) => Err(e),
            None => p.finish_stream(llm_stream).await,
        };
        let last = match outcome {
            Ok(payload) => framing.done(&payload),
            Err(e) => framing.error(&e),
        };
        let _ = tx.send(last).await;
    });
    event_stream(body.boxed_unsync())
}

/// A `text/event-stream` response around `body`, unbuffered by proxies.
pub fn event_stream(body: Body) -> Result<Served, ApiError> {
    let mut builder = http::Response::builder()
        .status(200)
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("x-accel-buffering", "no");
    // `cache-control: no-store` among them also keeps proxies from buffering.
    for (name, value) in lode_common::common_headers() {
        builder = builder.header(name, value);
    }
    let response = builder.body(body).map_err(|_| ApiError::internal())?;
    Ok(Served::Stream(response))
}
