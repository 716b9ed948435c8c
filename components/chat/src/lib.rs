//! RAG chat.
//!
//! - `POST /api/chat/prepare-context`: the question → hybrid retrieval over
//!   the tenant's chunks (k = 8 by default) → the sources close enough in
//!   meaning (`min_score`, cosine) → the exact messages an LLM would be
//!   sent, with numbered sources, without calling one.
//! - `POST /api/chat`: the same retrieval (after rewriting a follow-up into a
//!   standalone query with the LLM when the conversation has history), then
//!   a grounded answer whose `[n]` citations are verified (`lode-rag`):
//!   numbers that match no source are removed and reported, and an answer
//!   with no valid citation says it is not grounded. `"stream": true`
//!   answers with Server-Sent Events (`token`, then `done`).
//! - `GET /api/conversations`, `GET|DELETE /api/conversations/{id}`.
//! - The OpenAI-compatible `/v1/models`, `/v1/chat/completions` (model
//!   `lode-rag` answers from the documents; other names are proxied to the
//!   registry) and `/v1/embeddings` (`openai.rs`).
//!
//! The query is embedded by the composed `lode:embed/embed` step, the
//! same model that embedded the chunks; providers are called through
//! `lode-llm-client`.

mod answer;
mod openai;

use lode_api::ApiError;
use lode_auth::Principal;
use lode_common::routes::ChatRoute;
use lode_common::{ApiCall, Reply, SpinSql, api_call, body_limit};
use lode_index::{Index, SearchHit, SearchRequest};
use lode_llm::chat::{Message, Role};
use lode_rag::Source;
use lode_store::audit::Action;
use lode_store::ids::now_ms;
use lode_store::{Conversations, Tenant};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;

spin_sdk::wit_bindgen::generate!({
    world: "chat",
    // The step interfaces live in their own packages (wit/deps/).
    generate_all,
    path: "../../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

/// Sources retrieved unless the request says otherwise.
const DEFAULT_K: u32 = 8;
/// More sources than this rarely fit a small model's context.
const MAX_K: u32 = 20;
/// Cosine similarity below which a passage is not evidence (all-MiniLM-L6-v2
/// scores unrelated English text around 0–0.2).
const DEFAULT_MIN_SCORE: f64 = 0.25;
/// Earlier turns a request may carry, or that are read from a conversation.
const MAX_HISTORY: usize = 50;

/// Framed like every component (`lode_common::handle`), except that a
/// streamed answer is counted when its headers go out.
#[http_service]
async fn handle(req: Request) -> http::Response<answer::Body> {
    lode_common::context::scope(framed(req)).await
}

async fn framed(req: Request) -> http::Response<answer::Body> {
    let (method, path) = lode_common::http::begin(env!("CARGO_PKG_NAME"), &req).await;
    if method == Method::OPTIONS {
        let reply = lode_common::http::preflight(&req, &path);
        return answer::boxed(lode_common::http::finish(&method, &path, reply).await);
    }
    let result = match serve(req).await {
        Ok(answer::Served::Stream(r)) => {
            lode_common::http::record(&method, &path, r.status().as_u16()).await;
            return r;
        }
        Ok(answer::Served::Reply(r)) => Ok(r),
        Err(e) => Err(e),
    };
    answer::boxed(lode_common::http::finish(&method, &path, result).await)
}

async fn serve(req: Request) -> Result<answer::Served, ApiError> {
    let ApiCall {
        req,
        sql,
        who,
        handler,
        params,
    } = api_call(req).await?;
    let reply = |r: Result<Reply, ApiError>| r.map(answer::Served::Reply);
    match handler {
        ChatRoute::Chat => {
            let ask: answer::ChatBody = req.json(body_limit().await?)?;
            answer::chat(sql, who, ask).await
        }
        ChatRoute::PrepareContext => {
            let ask: PrepareContext = req.json(body_limit().await?)?;
            reply(prepare_context(&sql, &who, ask).await)
        }
        ChatRoute::Conversations => reply(list_conversations(&sql, &who).await),
        ChatRoute::Conversation => reply(conversation(&sql, &who.tenant, params.get("id")).await),
        ChatRoute::DeleteConversation => {
            match Conversations::new(&sql, &who.tenant)
                .delete(params.get("id"))
                .await?
            {
                true => {
                    let id = params.get("id");
                    lode_store::Audit::new(&sql, &who.tenant)
                        .record(
                            &who.actor(),
                            Action::ConversationDeleted,
                            id,
                            json!({}),
                            now_ms(),
                        )
                        .await?;
                    reply(Ok(Reply::empty(204)))
                }
                false => Err(ApiError::not_found("conversation")),
            }
        }
        ChatRoute::Models => reply(openai::models().await),
        ChatRoute::Completions => {
            let body: openai::Completion = req.json(body_limit().await?)?;
            openai::completions(sql, who, body).await
        }
        ChatRoute::Embeddings => {
            let body: openai::Embeddings = req.json(body_limit().await?)?;
            reply(openai::embeddings(body).await)
        }
    }
}

async fn list_conversations(sql: &SpinSql, who: &Principal) -> Result<Reply, ApiError> {
    let list = Conversations::new(sql, &who.tenant).list(100).await?;
    Ok(Reply::json(200, json!({ "data": list })))
}

async fn conversation(sql: &SpinSql, tenant: &Tenant, id: &str) -> Result<Reply, ApiError> {
    let conversations = Conversations::new(sql, tenant);
    let found = conversations.get(id).await?;
    let turns = conversations
        .turns(id, lode_store::conversations::MAX_TURNS)
        .await?;
    match (found, turns) {
        (Some(c), Some(turns)) => {
            let mut body = serde_json::to_value(c).map_err(|_| ApiError::internal())?;
            body["messages"] = json!(turns);
            Ok(Reply::json(200, body))
        }
        _ => Err(ApiError::not_found("conversation")),
    }
}

/// Retrieval settings shared by both routes.
pub(crate) struct Retrieval {
    k: u32,
    min_score: f64,
    document_ids: Option<Vec<String>>,
    metadata: Option<Map<String, Json>>,
}

impl Retrieval {
    pub(crate) fn new(
        k: Option<u32>,
        min_score: Option<f64>,
        document_ids: Option<Vec<String>>,
        metadata: Option<Map<String, Json>>,
    ) -> Result<Retrieval, ApiError> {
        let k = k.unwrap_or(DEFAULT_K);
        if !(1..=MAX_K).contains(&k) {
            return Err(ApiError::invalid(format!("k must be 1-{MAX_K}")));
        }
        let min_score = min_score.unwrap_or(DEFAULT_MIN_SCORE);
        if !(-1.0..=1.0).contains(&min_score) {
            return Err(ApiError::invalid("min_score must be between -1 and 1"));
        }
        Ok(Retrieval {
            k,
            min_score,
            document_ids,
            metadata,
        })
    }

    /// The numbered sources for `query` in the tenant's index.
    async fn sources(
        &self,
        sql: &SpinSql,
        tenant: &Tenant,
        query: &str,
    ) -> Result<Vec<Source>, ApiError> {
        let query = SearchRequest {
            query: query.to_string(),
            k: Some(self.k),
            mode: None,
            min_score: None,
            document_ids: self.document_ids.clone(),
            metadata: self.metadata.clone(),
        }
        .validate(None)?;
        let model = lode::embed::embed::model();
        let vector = embed_query(&query.text).await?;
        let hits = Index::new(sql, tenant, &model)
            .search(&query, Some(&vector))
            .await?;
        Ok(sources(hits, self.min_score))
    }

    fn describe(&self) -> Json {
        json!({"mode": "hybrid", "k": self.k, "min_score": self.min_score, "model": lode::embed::embed::model()})
    }
}

async fn prepare_context(
    sql: &SpinSql,
    who: &Principal,
    ask: PrepareContext,
) -> Result<Reply, ApiError> {
    let history = history(&ask.history)?;
    let retrieval = Retrieval::new(ask.k, ask.min_score, ask.document_ids, ask.metadata)?;
    let text = ask.query.trim().to_string();
    let sources = retrieval.sources(sql, &who.tenant, &text).await?;
    let prompt = lode_rag::answer_prompt(&text, &sources, &history);
    Ok(Reply::json(
        200,
        json!({
            "query": text,
            "answerable": !sources.is_empty(),
            "no_context_answer": sources.is_empty().then_some(lode_rag::NO_CONTEXT_ANSWER),
            "retrieval": retrieval.describe(),
            "sources": sources,
            "prompt": prompt,
        }),
    ))
}

/// The body of `POST /api/chat/prepare-context`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrepareContext {
    query: String,
    k: Option<u32>,
    min_score: Option<f64>,
    document_ids: Option<Vec<String>>,
    metadata: Option<Map<String, Json>>,
    /// Earlier turns, oldest first: `[{"role":"user"|"assistant","content"}]`.
    #[serde(default)]
    history: Vec<Turn>,
}

/// One earlier turn sent by the client.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Turn {
    role: String,
    content: String,
}

/// Turns sent by the client, checked.
fn history(turns: &[Turn]) -> Result<Vec<Message>, ApiError> {
    if turns.len() > MAX_HISTORY {
        return Err(ApiError::invalid(format!(
            "history may hold at most {MAX_HISTORY} turns"
        )));
    }
    turns
        .iter()
        .map(|t| {
            let role = match t.role.as_str() {
                "user" => Role::User,
                "assistant" => Role::Assistant,
                other => {
                    return Err(ApiError::invalid(format!(
                        "history role {other:?} must be user or assistant"
                    )));
                }
            };
            Ok(Message::text(role, t.content.clone()))
        })
        .collect()
}

/// Hits close enough in meaning to be evidence, numbered from 1 in rank
/// order. A passage found only by its words (no vector rank) is kept: it
/// shares the question's terms.
fn sources(hits: Vec<SearchHit>, min_score: f64) -> Vec<Source> {
    hits.into_iter()
        .filter(|h| h.vector.as_ref().is_none_or(|v| v.score >= min_score))
        .enumerate()
        .map(|(i, h)| Source {
            n: i + 1,
            chunk_id: h.chunk_id,
            document_id: h.document_id,
            title: h.title,
            pages: h.pages,
            heading_path: h.heading_path,
            text: h.text,
            score: h.score,
        })
        .collect()
}

/// Embed the query with the composed embed step.
async fn embed_query(text: &str) -> Result<Vec<f32>, ApiError> {
    let started = std::time::Instant::now();
    let out = lode::embed::embed::embed(&[text.to_string()]).map_err(|e| {
        lode_common::log_error!("embed step failed: {e}");
        ApiError::unavailable("the embedding model is unavailable")
    })?;
    lode_common::metrics::embedded("query", 1, started.elapsed()).await;
    out.vectors
        .into_iter()
        .next()
        .ok_or_else(ApiError::internal)
}
