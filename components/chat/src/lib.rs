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
//! The answering itself is `lode_rag` (retrieval, answer loop, OpenAI
//! shapes), over this component's capabilities: the query is embedded by
//! the composed `lode:embed/embed` step ([`WitEmbed`]), the same model that
//! embedded the chunks; providers are called through `lode_common::llm`.

mod answer;
mod openai;

use lode_api::ApiError;
use lode_auth::Principal;
use lode_common::routes::ChatRoute;
use lode_common::{ApiCall, Reply, SpinHost, SpinSql, api_call, body_limit};
use lode_llm::chat::{Message, Role};
use lode_rag::answer::{Engine, MAX_HISTORY};
use lode_rag::retrieval::{Embed, Retrieval};
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
            let body: lode_rag::openai::Completion = req.json(body_limit().await?)?;
            openai::completions(sql, who, body).await
        }
        ChatRoute::Embeddings => {
            let body: lode_rag::openai::Embeddings = req.json(body_limit().await?)?;
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

async fn prepare_context(
    sql: &SpinSql,
    who: &Principal,
    ask: PrepareContext,
) -> Result<Reply, ApiError> {
    let history = history(&ask.history)?;
    let retrieval = Retrieval::new(ask.k, ask.min_score, ask.document_ids, ask.metadata)?;
    let text = ask.query.trim().to_string();
    let sources = retrieval
        .sources(sql, &who.tenant, &WitEmbed, &text)
        .await?;
    let prompt = lode_rag::answer_prompt(&text, &sources, &history);
    Ok(Reply::json(
        200,
        json!({
            "query": text,
            "answerable": !sources.is_empty(),
            "no_context_answer": sources.is_empty().then_some(lode_rag::NO_CONTEXT_ANSWER),
            "retrieval": retrieval.describe(&WitEmbed.model()),
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

/// The composed embed step (`lode:embed/embed`): the model that embedded
/// the tenant's chunks embeds the question.
pub struct WitEmbed;

impl Embed for WitEmbed {
    fn model(&self) -> String {
        lode::embed::embed::model()
    }

    async fn query(&self, text: &str) -> Result<Vec<f32>, ApiError> {
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
}

/// The answering engine over this component's capabilities.
pub(crate) async fn engine(
    sql: SpinSql,
    tenant: Tenant,
) -> Result<Engine<SpinHost, SpinSql, WitEmbed>, ApiError> {
    Ok(Engine {
        llm: lode_common::llm().await?,
        sql,
        tenant,
        embed: WitEmbed,
    })
}
