//! Run one LLM tool on a text. Only summaries are map-reduced (each part is
//! summarised, then the part summaries together); other tools see the first
//! part, which is the whole text whenever it fits the model's context.
//!
//! A run is planned first ([`Plan::new`]: which model, how many parts), so
//! the tools API can decide before any LLM call whether the run is short
//! enough to answer in the request or must go through the job queue. The
//! model is called through `lode_llm::client` over the host's
//! capabilities, so runs are tested natively (`run/tests.rs`).

use lode_api::{ApiError, ErrorCode};
use lode_capabilities::{KeyValue, Outbound, Variables};
use lode_llm::client::{Ask, Llm, LlmError};
use lode_llm::registry::Strategy;
use lode_store::ids::sha256_hex;
use lode_store::{Sql, Tenant, ToolResults};
use serde_json::{Map, Value as Json, json};

use crate::{Tool, ToolError};

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// No model answered (or none may be asked).
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// The model's answer is not what the tool asked for.
    #[error(transparent)]
    Output(ToolError),
    /// Its progress could not be recorded (a queued run's worker lost its job).
    #[error("{}", .0.message)]
    Stopped(ApiError),
}

impl RunError {
    /// Whether another attempt may succeed: a provider may recover and a
    /// model may answer well next time; an unknown model or a spent quota
    /// will not change by retrying.
    pub fn is_transient(&self) -> bool {
        match self {
            RunError::Llm(e) => e.is_transient(),
            RunError::Output(_) | RunError::Stopped(_) => true,
        }
    }
}

impl From<RunError> for ApiError {
    fn from(e: RunError) -> ApiError {
        match e {
            RunError::Llm(e) => e.into(),
            RunError::Output(e) => ApiError::new(ErrorCode::BadGateway, e.to_string()),
            RunError::Stopped(e) => e,
        }
    }
}

/// Told after each LLM call of a run: a queued run records progress (and
/// learns whether its worker still holds the job); an in-request run
/// reports nothing.
#[allow(async_fn_in_trait)] // components are single-threaded: no `Send` bound is wanted
pub trait Progress {
    /// `done` of `total` calls finished; an error stops the run.
    async fn call_done(&self, done: usize, total: usize) -> Result<(), ApiError>;
}

/// Progress nobody watches (an in-request run).
pub struct Quiet;

impl Progress for Quiet {
    async fn call_done(&self, _done: usize, _total: usize) -> Result<(), ApiError> {
        Ok(())
    }
}

/// A tool run, planned: the model chain and the text cut to its context.
pub struct Plan<H> {
    llm: Llm<H>,
    ask: Ask,
    tool: Tool,
    parts: Vec<String>,
}

impl<H: Outbound + KeyValue + Variables> Plan<H> {
    /// Cut `text` for the first model `llm`'s chain would try (whose
    /// context decides the cut).
    pub fn new(
        llm: Llm<H>,
        tool: Tool,
        text: &str,
        model: Option<String>,
        strategy: Option<Strategy>,
    ) -> Plan<H> {
        let ask = Ask {
            model,
            strategy,
            max_tokens: 1500,
            temperature: Some(0.0),
            ..Ask::default()
        };
        let context = llm.context_length(&ask).unwrap_or(8192);
        let parts = crate::plan_map(text, context);
        Plan {
            llm,
            ask,
            tool,
            parts,
        }
    }

    /// The LLM calls the run will make: one per part, plus the reduce step
    /// of a map-reduce summary.
    pub fn calls(&self) -> usize {
        if self.map_reduce() {
            self.parts.len() + 1
        } else {
            1
        }
    }

    fn map_reduce(&self) -> bool {
        self.tool == Tool::Summarize && self.parts.len() > 1
    }

    /// Run it; the result and what it cost, as the API answers it.
    pub async fn run<S: Sql>(
        self,
        sql: &S,
        tenant: &Tenant,
        input: &Map<String, Json>,
        progress: &impl Progress,
    ) -> Result<Json, RunError> {
        let total = self.calls();
        let mut spent = Spent::default();
        let call = Call {
            llm: &self.llm,
            sql,
            tenant,
            tool: self.tool,
            input,
            ask: &self.ask,
        };
        let result = if self.map_reduce() {
            let mut summaries = Vec::with_capacity(self.parts.len());
            for (i, part) in self.parts.iter().enumerate() {
                let r = call.once(part, &mut spent).await?;
                summaries.push(r["summary"].as_str().unwrap_or_default().to_string());
                progress
                    .call_done(i + 1, total)
                    .await
                    .map_err(RunError::Stopped)?;
            }
            let all = crate::reduce_input(&summaries);
            call.once(&all, &mut spent).await?
        } else {
            call.once(&self.parts[0], &mut spent).await?
        };
        progress
            .call_done(total, total)
            .await
            .map_err(RunError::Stopped)?;
        Ok(json!({
            "tool": self.tool.name(),
            "result": result,
            "model": spent.model,
            "provider": spent.provider,
            "llm_calls": spent.calls,
            "parts": self.parts.len(),
            "truncated": self.tool != Tool::Summarize && self.parts.len() > 1,
            "usage": {"input_tokens": spent.input, "output_tokens": spent.output},
            "cost_usd": spent.cost,
        }))
    }
}

/// Where a document run's result is stored: the same input and model
/// choice on the same version is never paid for twice.
pub fn cache_key(input: &Map<String, Json>, model: Option<&str>, strategy: Option<&str>) -> String {
    sha256_hex(
        json!({"input": input, "model": model, "strategy": strategy})
            .to_string()
            .as_bytes(),
    )
}

/// Store a document run's result on its version, marked `cached: false`
/// for this answer (a later read of the stored copy says `true`).
pub async fn store_on_document<S: Sql>(
    sql: &S,
    tenant: &Tenant,
    document: (&str, i64),
    tool: Tool,
    key: &str,
    mut out: Json,
    now: i64,
) -> Result<Json, ApiError> {
    out["document_id"] = json!(document.0);
    out["version"] = json!(document.1);
    ToolResults::new(sql, tenant)
        .put(document.0, document.1, tool.name(), key, &out, now)
        .await?;
    out["cached"] = json!(false);
    Ok(out)
}

/// What a run's LLM calls used.
#[derive(Default)]
struct Spent {
    calls: u32,
    input: u64,
    output: u64,
    cost: f64,
    model: String,
    provider: String,
}

/// What every call of one run shares.
struct Call<'a, H, S> {
    llm: &'a Llm<H>,
    sql: &'a S,
    tenant: &'a Tenant,
    tool: Tool,
    input: &'a Map<String, Json>,
    ask: &'a Ask,
}

impl<H: Outbound + KeyValue + Variables, S: Sql> Call<'_, H, S> {
    /// One LLM call on `text`, its answer checked.
    async fn once(&self, text: &str, spent: &mut Spent) -> Result<Json, RunError> {
        let ask = Ask {
            messages: self.tool.prompt(text, self.input),
            ..self.ask.clone()
        };
        let answer = self.llm.complete(self.sql, self.tenant, &ask).await?;
        spent.calls += 1;
        spent.input += answer.response.usage.input_tokens;
        spent.output += answer.response.usage.output_tokens;
        spent.cost += answer.cost_usd;
        spent.model = answer.model.clone();
        spent.provider = answer.provider.clone();
        self.tool
            .parse_output(&answer.response.content, self.input)
            .map_err(RunError::Output)
    }
}

#[cfg(test)]
mod tests;
