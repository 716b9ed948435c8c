//! Answering a question from the tenant's documents: rewrite a follow-up
//! into a standalone query, retrieve, ask the model with the grounded
//! prompt (letting it search again with the search tool, a few rounds at
//! most), verify its citations and remember the turn. The component calls
//! it with Spin's capabilities; tests call it natively (`answer/tests.rs`).

use bytes::Bytes;
use lode_api::{ApiError, ErrorCode};
use lode_capabilities::{KeyValue, Outbound, Variables};
use lode_llm::chat::{Message, Role};
use lode_llm::client::{Answer, Ask, Llm, Stream};
use lode_store::ids::now_ms;
use lode_store::{Conversations, Sql, Tenant};
use serde_json::{Value as Json, json};

use crate::retrieval::{Embed, Retrieval};
use crate::{Source, Verified};

/// Longest question accepted.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Earlier turns a request may carry, or that are read from a conversation.
pub const MAX_HISTORY: usize = 50;
/// Rounds of tool calls before the model must answer.
pub const MAX_TOOL_ROUNDS: usize = 3;
/// Said when the model cited none of the sources it was given.
const UNGROUNDED_NOTE: &str =
    "\n\n(Note: this answer cites none of your documents, so they may not support it.)";

/// Check the limits both surfaces (`/api/chat`, `/v1`) share.
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

/// What answers: the model client, the tenant's store and the embedding model.
pub struct Engine<H, S, E> {
    /// The providers.
    pub llm: Llm<H>,
    /// The store (index, conversations, usage).
    pub sql: S,
    /// Whose documents.
    pub tenant: Tenant,
    /// The model that embedded the documents.
    pub embed: E,
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

/// Everything known before the model answers.
pub struct Prepared<H, S, E> {
    engine: Engine<H, S, E>,
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

impl<H, S, E> Prepared<H, S, E>
where
    H: Outbound + KeyValue + Variables,
    S: Sql,
    E: Embed,
{
    /// Rewrite a follow-up, retrieve, and build the grounded prompt.
    pub async fn new(engine: Engine<H, S, E>, q: Question) -> Result<Self, ApiError> {
        let query = match q.history.is_empty() {
            true => q.question.clone(),
            false => rewrite(&engine, &q.ask, &q.question, &q.history).await,
        };
        let sources = q
            .retrieval
            .sources(&engine.sql, &engine.tenant, &engine.embed, &query)
            .await?;
        let mut ask = q.ask;
        ask.messages = crate::answer_prompt_with(&q.question, &sources, &q.history, q.search);
        if q.search {
            ask.tools = vec![crate::search_tool()];
        }
        Ok(Prepared {
            engine,
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

    /// Whether the model may search again (so a streamed answer must be
    /// whole before Lode knows whether it answered or searched).
    pub fn searches(&self) -> bool {
        self.search
    }

    /// The whole answer, as `/api/chat` shows it.
    pub async fn answer(mut self) -> Result<Json, ApiError> {
        // With the search tool the model may still find something.
        if self.sources.is_empty() && !self.search {
            return self.finish(no_context(), None).await;
        }
        let answer = self.complete_with_tools().await?;
        let verified = verify(&answer.response.content, &self.sources);
        self.finish(verified, Some(&answer)).await
    }

    /// Start a streamed answer: `None` when there is nothing to ground it
    /// in (the stream then says so). Fallback between providers happens
    /// here, before anything is sent to the client.
    pub async fn stream(&self) -> Result<Option<Stream<H::Body>>, ApiError> {
        if self.sources.is_empty() {
            return Ok(None);
        }
        let e = &self.engine;
        Ok(Some(e.llm.stream(&e.sql, &e.tenant, &self.ask).await?))
    }

    /// End a streamed answer: count it, verify it, remember the turn.
    pub async fn finish_stream(&self, stream: Option<Stream<H::Body>>) -> Result<Json, ApiError> {
        let Some(s) = stream else {
            return self.finish(no_context(), None).await;
        };
        let e = &self.engine;
        let answer = e.llm.finish_stream(&e.sql, &e.tenant, s).await?;
        let verified = verify(&answer.response.content, &self.sources);
        self.finish(verified, Some(&answer)).await
    }

    /// Ask the model; while it calls the search tool (at most
    /// [`MAX_TOOL_ROUNDS`] rounds), run its searches (new passages numbered
    /// after the sources it has) and ask again. The answer carries the usage
    /// and cost of every round.
    async fn complete_with_tools(&mut self) -> Result<Answer, ApiError> {
        let (mut input, mut output, mut cost) = (0, 0, 0.0);
        for round in 0..=MAX_TOOL_ROUNDS {
            let e = &self.engine;
            let mut answer = e.llm.complete(&e.sql, &e.tenant, &self.ask).await?;
            input += answer.response.usage.input_tokens;
            output += answer.response.usage.output_tokens;
            cost += answer.cost_usd;
            let calls = std::mem::take(&mut answer.response.tool_calls);
            if calls.is_empty() || round == MAX_TOOL_ROUNDS {
                if answer.response.content.trim().is_empty() {
                    return Err(ApiError::new(
                        ErrorCode::BadGateway,
                        format!(
                            "the model kept calling tools for {round} rounds without answering"
                        ),
                    ));
                }
                answer.response.usage.input_tokens = input;
                answer.response.usage.output_tokens = output;
                answer.cost_usd = cost;
                return Ok(answer);
            }
            self.ask.messages.push(Message {
                role: Role::Assistant,
                content: answer.response.content.clone(),
                tool_calls: calls.clone(),
                tool_call_id: None,
            });
            for call in calls {
                let reply = match crate::search_query(&call.name, &call.arguments) {
                    Ok(query) => {
                        let found = self
                            .retrieval
                            .sources(&e.sql, &e.tenant, &e.embed, &query)
                            .await?;
                        let added = crate::append_sources(&mut self.sources, found);
                        let numbers: Vec<usize> = added.iter().map(|s| s.n).collect();
                        self.searches
                            .push(json!({"query": query, "sources": numbers}));
                        crate::search_result(&added)
                    }
                    Err(e) => e.to_string(),
                };
                self.ask.messages.push(Message {
                    role: Role::Tool,
                    content: reply,
                    tool_calls: Vec::new(),
                    tool_call_id: Some(call.id),
                });
            }
        }
        unreachable!("the last round returns")
    }

    /// Remember the turn and build the answer's JSON.
    async fn finish(&self, v: Verified, answer: Option<&Answer>) -> Result<Json, ApiError> {
        let conversations = Conversations::new(&self.engine.sql, &self.engine.tenant);
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
        if self.remember {
            let conversation_id = match &self.conversation_id {
                Some(id) => id.clone(),
                None => conversations.create(&self.question, now).await?.id,
            };
            if !conversations
                .append(&conversation_id, &self.question, &v.answer, &extra, now)
                .await?
            {
                return Err(ApiError::not_found("conversation"));
            }
            payload["conversation_id"] = json!(conversation_id);
        }
        payload["answer"] = json!(v.answer);
        payload["query"] = json!(self.query);
        payload["rewritten"] = json!(self.query != self.question);
        payload["sources"] = json!(self.sources);
        if self.search {
            payload["searches"] = json!(self.searches);
        }
        Ok(payload)
    }
}

/// A follow-up as a standalone search query; the question itself if the
/// model cannot be asked (the answer will then fail or fall back anyway).
async fn rewrite<H, S, E>(
    engine: &Engine<H, S, E>,
    ask: &Ask,
    question: &str,
    history: &[Message],
) -> String
where
    H: Outbound + KeyValue + Variables,
    S: Sql,
{
    let rewrite = Ask {
        messages: crate::rewrite_prompt(question, history),
        max_tokens: 100,
        temperature: Some(0.0),
        ..ask.clone()
    };
    match engine
        .llm
        .complete(&engine.sql, &engine.tenant, &rewrite)
        .await
    {
        Ok(a) => crate::parse_rewrite(&a.response.content).unwrap_or_else(|| question.to_string()),
        Err(e) => {
            log::warn!("query rewrite failed, searching with the question: {e}");
            question.to_string()
        }
    }
}

fn no_context() -> Verified {
    Verified {
        answer: crate::NO_CONTEXT_ANSWER.to_string(),
        citations: Vec::new(),
        invalid: Vec::new(),
        grounded: false,
    }
}

/// Verify the citations; an answer that cites nothing says so.
fn verify(answer: &str, sources: &[Source]) -> Verified {
    let mut v = crate::verify(answer, sources);
    if !v.grounded {
        v.answer.push_str(UNGROUNDED_NOTE);
    }
    if !v.invalid.is_empty() {
        log::warn!("removed citations of missing sources: {:?}", v.invalid);
    }
    v
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

fn sse(event: &str, data: &Json) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

#[cfg(test)]
mod tests;
