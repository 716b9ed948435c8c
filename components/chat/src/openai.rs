//! The OpenAI-compatible surface, so existing clients and SDKs work with a
//! Lode key as their API key and `…/v1` as their base URL (shapes mapped
//! in `lode_rag::openai`):
//!
//! - `GET /v1/models`: `lode-rag`, the registry's chat models, the embedding model.
//! - `POST /v1/chat/completions`: model `lode-rag` answers from the tenant's
//!   documents (the last user message is the question, earlier messages the
//!   history; the response carries `citations`); any other model name is
//!   proxied to that registry model with Lode's auth, fallback and usage
//!   accounting. Streaming sends `chat.completion.chunk` events and
//!   `data: [DONE]`, as OpenAI does.
//! - `POST /v1/embeddings`: the in-process all-MiniLM-L6-v2.

use bytes::Bytes;
use futures::SinkExt;
use http_body_util::BodyExt;
use lode_api::ApiError;
use lode_auth::Principal;
use lode_common::{Llm, Reply, SpinSql};
use lode_llm::client::Ask;
use lode_rag::answer::{Framing, Prepared, Question};
use lode_rag::openai::{Chunks, Completion, Embeddings, RAG_MODEL, Target};
use lode_rag::retrieval::Retrieval;
use serde_json::json;

use crate::answer::{self, Served};
use crate::lode::chunk::chunk;
use crate::lode::embed::embed;

/// `GET /v1/models`.
pub async fn models() -> Result<Reply, ApiError> {
    let llm = lode_common::llm().await?;
    let created = 1_767_225_600; // fixed: the models carry no creation date
    let mut data =
        vec![json!({"id": RAG_MODEL, "object": "model", "created": created, "owned_by": "lode"})];
    for m in &llm.registry().models {
        data.push(
            json!({"id": m.name, "object": "model", "created": created, "owned_by": m.provider}),
        );
    }
    data.push(
        json!({"id": embed::model(), "object": "model", "created": created, "owned_by": "lode"}),
    );
    Ok(Reply::json(200, json!({"object": "list", "data": data})))
}

/// `POST /v1/chat/completions`.
pub async fn completions(
    sql: SpinSql,
    who: Principal,
    body: Completion,
) -> Result<Served, ApiError> {
    let request = body.parse()?;
    let framing = request.framing;
    if let Target::Rag { question, history } = request.target {
        let q = Question {
            question,
            history,
            retrieval: Retrieval::new(None, None, None, None)?,
            ask: request.ask,
            conversation_id: None,
            remember: false,
            search: false,
        };
        let engine = crate::engine(sql, who.tenant.clone()).await?;
        let prepared = Prepared::new(engine, q).await?;
        if request.stream {
            return answer::stream(prepared, framing).await;
        }
        let payload = prepared.answer().await?;
        return Ok(Served::Reply(Reply::json(
            200,
            framing.completion(&payload),
        )));
    }
    let llm = lode_common::llm().await?;
    if !request.stream {
        let a = llm.complete(&sql, &who.tenant, &request.ask).await?;
        let payload = json!({
            "answer": a.response.content,
            "tool_calls": a.response.tool_calls,
            "finish_reason": a.response.finish_reason,
            "usage": a.response.usage,
        });
        return Ok(Served::Reply(Reply::json(
            200,
            framing.completion(&payload),
        )));
    }
    proxy_stream(llm, sql, who, request.ask, framing).await
}

/// Stream a proxied model's answer as OpenAI chunks.
async fn proxy_stream(
    llm: Llm,
    sql: SpinSql,
    who: Principal,
    ask: Ask,
    framing: Chunks,
) -> Result<Served, ApiError> {
    let mut s = llm.stream(&sql, &who.tenant, &ask).await?;
    let (mut tx, body) = spin_sdk::http::body::stream::<Bytes>();
    lode_common::context::spawn(async move {
        let _ = tx.send(framing.first()).await;
        let mut failed = None;
        while let Some(delta) = s.next().await {
            let chunk = match delta {
                Ok(delta) => framing.delta(delta),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
        let last = match failed {
            Some(e) => framing.error(&e.into()),
            None => match llm.finish_stream(&sql, &who.tenant, s).await {
                Ok(a) => framing.done(&json!({
                    "finish_reason": a.response.finish_reason,
                    "usage": a.response.usage,
                })),
                Err(e) => framing.error(&e.into()),
            },
        };
        let _ = tx.send(last).await;
    });
    answer::event_stream(body.boxed_unsync())
}

/// `POST /v1/embeddings`.
pub async fn embeddings(body: Embeddings) -> Result<Reply, ApiError> {
    let model = embed::model();
    let request = body.parse(&model, chunk::count)?;
    let started = std::time::Instant::now();
    let out = embed::embed(&request.texts).map_err(|e| {
        lode_common::log_error!("embed step failed: {e}");
        ApiError::unavailable("the embedding model is unavailable")
    })?;
    lode_common::metrics::embedded("api", request.texts.len(), started.elapsed()).await;
    Ok(Reply::json(200, request.response(&model, out.vectors)))
}
