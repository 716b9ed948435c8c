//! `POST /api/chat`: retrieve, ask the LLM, verify the citations, remember
//! the turn; as one JSON answer or as Server-Sent Events.

use bytes::Bytes;
use futures::SinkExt;
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use lode_api::ApiError;
use lode_auth::Principal;
use lode_common::Llm;
use lode_common::{Reply, SpinSql};
use lode_llm::chat::{Delta, Message, Role};
use lode_llm::client::{Answer, Ask};
use lode_llm::registry::Strategy;
use lode_rag::{Source, Verified};
use lode_store::ids::now_ms;
use lode_store::{Conversations, Tenant};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use crate::{MAX_HISTORY, Retrieval};

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

/// Longest question accepted.
const MAX_MESSAGE_CHARS: usize = 4000;
/// Answer length unless the request says otherwise.
const DEFAULT_MAX_TOKENS: u32 = 800;
/// Said when the model cited none of the sources it was given.
const UNGROUNDED_NOTE: &str =
    "\n\n(Note: this answer cites none of your documents, so they may not support it.)";

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

/// Rounds of tool calls before the model must answer.
const MAX_TOOL_ROUNDS: usize = 3;

/// Everything known before the model answers.
pub struct Prepared {
    sql: SpinSql,
    tenant: Tenant,
    llm: Llm,
    question: String,
    query: String,
    /// `None`: start a conversation; with `remember` false, none is kept.
    conversation_id: Option<String>,
    remember: bool,
    sources: Vec<Source>,
    ask: Ask,
    /// How the first sources were found; the search tool searches the same way.
    retrieval: Retrieval,
    /// The model may call the search tool.
    search: bool,
    /// The searches it made: query and the numbers of the sources they added.
    searches: Vec<Json>,
}

/// A question to answer from the tenant's documents.
pub struct Question {
    /// What was asked.
    pub question: String,
    /// Earlier turns, oldest first.
    pub history: Vec<Message>,
    /// How to retrieve.
    pub retrieval: Retrieval,
    /// Model choice and limits (its messages are filled in here).
    pub ask: Ask,
    /// The conversation it continues.
    pub conversation_id: Option<String>,
    /// Store the turn in a conversation (`/api/chat`), or not (`/v1`, stateless).
    pub remember: bool,
    /// Offer the model the search tool.
    pub search: bool,
}

/// Check the limits both surfaces share.
pub fn check_limits(
    question: &str,
    max_tokens: u32,
    temperature: Option<f32>,
) -> Result<(), ApiError> {
    if question.is_empty() || question.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::invalid(format!(
            "message must be 1-{MAX_MESSAGE_CHARS} characters"
        )));
    }
    check_sampling(max_tokens, temperature)
}

/// Check what every LLM call is asked for, proxied ones included.
pub fn check_sampling(max_tokens: u32, temperature: Option<f32>) -> Result<(), ApiError> {
    if !(1..=32_000).contains(&max_tokens) {
        return Err(ApiError::invalid("max_tokens must be 1-32000").with_param("max_tokens"));
    }
    if temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        return Err(ApiError::invalid("temperature must be 0-2").with_param("temperature"));
    }
    Ok(())
}

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
    let prepared = prepare(sql, tenant, q).await?;
    match body.stream {
        false => Ok(Served::Reply(Reply::json(200, answer(prepared).await?))),
        true => stream(prepared, LodeEvents).await,
    }
}

/// Rewrite a follow-up, retrieve, and build the grounded prompt.
pub async fn prepare(sql: SpinSql, tenant: Tenant, q: Question) -> Result<Prepared, ApiError> {
    let llm = lode_common::llm().await?;
    let query = match q.history.is_empty() {
        true => q.question.clone(),
        false => rewrite(&llm, &sql, &tenant, &q.ask, &q.question, &q.history).await,
    };
    let sources = q.retrieval.sources(&sql, &tenant, &query).await?;
    let mut ask = q.ask;
    ask.messages = lode_rag::answer_prompt_with(&q.question, &sources, &q.history, q.search);
    if q.search {
        ask.tools = vec![lode_rag::search_tool()];
    }
    Ok(Prepared {
        sql,
        tenant,
        llm,
        question: q.question,
        query,
        conversation_id: q.conversation_id,
        remember: q.remember,
        sources,
        ask,
        retrieval: q.retrieval,
        search: q.search,
        searches: Vec::new(),
    })
}

/// A follow-up as a standalone search query; the question itself if the
/// model cannot be asked (the answer will then fail or fall back anyway).
async fn rewrite(
    llm: &Llm,
    sql: &SpinSql,
    tenant: &Tenant,
    ask: &Ask,
    question: &str,
    history: &[Message],
) -> String {
    let rewrite = Ask {
        messages: lode_rag::rewrite_prompt(question, history),
        max_tokens: 100,
        temperature: Some(0.0),
        ..ask.clone()
    };
    match llm.complete(sql, tenant, &rewrite).await {
        Ok(a) => {
            lode_rag::parse_rewrite(&a.response.content).unwrap_or_else(|| question.to_string())
        }
        Err(e) => {
            lode_common::log_warn!("query rewrite failed, searching with the question: {e}");
            question.to_string()
        }
    }
}

/// The whole answer, as `/api/chat` shows it.
pub async fn answer(mut p: Prepared) -> Result<Json, ApiError> {
    // With the search tool the model may still find something.
    if p.sources.is_empty() && !p.search {
        return finish(&p, no_context(), None).await;
    }
    let answer = complete_with_tools(&mut p).await?;
    let verified = verify(&answer.response.content, &p.sources);
    finish(&p, verified, Some(&answer)).await
}

/// Ask the model; while it calls the search tool (at most
/// [`MAX_TOOL_ROUNDS`] rounds), run its searches (new passages numbered
/// after the sources it has) and ask again. The answer carries the usage
/// and cost of every round.
async fn complete_with_tools(p: &mut Prepared) -> Result<Answer, ApiError> {
    let (mut input, mut output, mut cost) = (0, 0, 0.0);
    for round in 0..=MAX_TOOL_ROUNDS {
        let mut answer = p.llm.complete(&p.sql, &p.tenant, &p.ask).await?;
        input += answer.response.usage.input_tokens;
        output += answer.response.usage.output_tokens;
        cost += answer.cost_usd;
        let calls = std::mem::take(&mut answer.response.tool_calls);
        if calls.is_empty() || round == MAX_TOOL_ROUNDS {
            if answer.response.content.trim().is_empty() {
                return Err(ApiError::new(
                    lode_api::ErrorCode::BadGateway,
                    format!("the model kept calling tools for {round} rounds without answering"),
                ));
            }
            answer.response.usage.input_tokens = input;
            answer.response.usage.output_tokens = output;
            answer.cost_usd = cost;
            return Ok(answer);
        }
        p.ask.messages.push(Message {
            role: Role::Assistant,
            content: answer.response.content.clone(),
            tool_calls: calls.clone(),
            tool_call_id: None,
        });
        for call in calls {
            let reply = match lode_rag::search_query(&call.name, &call.arguments) {
                Ok(query) => {
                    let found = p.retrieval.sources(&p.sql, &p.tenant, &query).await?;
                    let added = lode_rag::append_sources(&mut p.sources, found);
                    let numbers: Vec<usize> = added.iter().map(|s| s.n).collect();
                    p.searches.push(json!({"query": query, "sources": numbers}));
                    lode_rag::search_result(&added)
                }
                Err(e) => e.to_string(),
            };
            p.ask.messages.push(Message {
                role: Role::Tool,
                content: reply,
                tool_calls: Vec::new(),
                tool_call_id: Some(call.id),
            });
        }
    }
    unreachable!("the last round returns")
}

/// How a streamed answer is framed as Server-Sent Events.
pub trait Framing: 'static {
    /// A piece of the answer.
    fn token(&self, text: &str) -> Bytes;
    /// The end: the whole answer's JSON (as `/api/chat` shows it).
    fn done(&self, payload: &Json) -> Bytes;
    /// A failure after the stream started.
    fn error(&self, e: &ApiError) -> Bytes;
}

/// `/api/chat`'s framing: `event: token` with `{"text"}` per piece, then
/// `event: done` with the same JSON as a whole answer, or `event: error`.
pub struct LodeEvents;

impl Framing for LodeEvents {
    fn token(&self, text: &str) -> Bytes {
        sse("token", &json!({ "text": text }))
    }

    fn done(&self, payload: &Json) -> Bytes {
        sse("done", payload)
    }

    fn error(&self, e: &ApiError) -> Bytes {
        sse(
            "error",
            &json!({"error": {"code": e.code.as_str(), "message": e.message}}),
        )
    }
}

/// The answer as Server-Sent Events framed by `framing`. With the search
/// tool, each round must be whole before Lode knows whether the model
/// answered or searched, so the answer is sent as one `token` event.
pub async fn stream(p: Prepared, framing: impl Framing) -> Result<Served, ApiError> {
    if p.search {
        let payload = answer(p).await?;
        let text = payload["answer"].as_str().unwrap_or_default();
        let mut body = framing.token(text).to_vec();
        body.extend_from_slice(&framing.done(&payload));
        return event_stream(
            Full::new(Bytes::from(body))
                .map_err(anyhow::Error::from)
                .boxed_unsync(),
        );
    }
    let mut llm_stream = match p.sources.is_empty() {
        true => None,
        // Fallback happens here, before anything is sent to the client.
        false => Some(p.llm.stream(&p.sql, &p.tenant, &p.ask).await?),
    };
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
        let outcome = match (failed, llm_stream) {
            (Some(e), _) => Err(e),
            (None, None) => finish(&p, no_context(), None).await,
            (None, Some(s)) => {
                async {
                    let answer = p.llm.finish_stream(&p.sql, &p.tenant, s).await?;
                    let verified = verify(&answer.response.content, &p.sources);
                    finish(&p, verified, Some(&answer)).await
                }
                .await
            }
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

fn sse(event: &str, data: &Json) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

fn no_context() -> Verified {
    Verified {
        answer: lode_rag::NO_CONTEXT_ANSWER.to_string(),
        citations: Vec::new(),
        invalid: Vec::new(),
        grounded: false,
    }
}

/// Verify the citations; an answer that cites nothing says so.
fn verify(answer: &str, sources: &[Source]) -> Verified {
    let mut v = lode_rag::verify(answer, sources);
    if !v.grounded {
        v.answer.push_str(UNGROUNDED_NOTE);
    }
    if !v.invalid.is_empty() {
        lode_common::log_warn!("removed citations of missing sources: {:?}", v.invalid);
    }
    v
}

/// Remember the turn and build the answer's JSON.
async fn finish(p: &Prepared, v: Verified, answer: Option<&Answer>) -> Result<Json, ApiError> {
    let conversations = Conversations::new(&p.sql, &p.tenant);
    let now = now_ms();
    let usage = answer.map(|a| a.response.usage);
    let extra = json!({
        "citations": v.citations,
        "invalid_citations": v.invalid,
        "grounded": v.grounded,
        "model": answer.map(|a| a.model.clone()),
        "provider": answer.map(|a| a.provider.clone()),
        "usage": usage,
        "cost_usd": answer.map(|a| a.cost_usd),
    });
    let mut payload = extra.clone();
    if p.remember {
        let conversation_id = match &p.conversation_id {
            Some(id) => id.clone(),
            None => conversations.create(&p.question, now).await?.id,
        };
        if !conversations
            .append(&conversation_id, &p.question, &v.answer, &extra, now)
            .await?
        {
            return Err(ApiError::not_found("conversation"));
        }
        payload["conversation_id"] = json!(conversation_id);
    }
    payload["answer"] = json!(v.answer);
    payload["query"] = json!(p.query);
    payload["rewritten"] = json!(p.query != p.question);
    payload["sources"] = json!(p.sources);
    if p.search {
        payload["searches"] = json!(p.searches);
    }
    Ok(payload)
}
