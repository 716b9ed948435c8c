//! LLM tools (`lode-tools`): `GET /api/tools` lists them with their JSON
//! Schemas; `POST /api/tools/{tool}` runs one on text in the body;
//! `POST /api/documents/{id}/tools/{tool}` runs one on a document's current
//! version and stores the result on it, so asking again (same version, tool,
//! input and model choice) returns the stored result without an LLM call.
//!
//! Summaries of texts longer than the model's context are map-reduced (see
//! `lode_tools::run`). A run needing more than [`IN_REQUEST_CALLS`] LLM calls
//! goes through the job queue (#4) and answers 202 with the job, whose
//! `result` holds the answer once completed; `?mode=sync` keeps it in the
//! request (up to [`MAX_SYNC_PARTS`] parts), `?mode=queue` always queues.

use lode_api::{ApiError, ErrorCode, query};
use lode_auth::Principal;
use lode_common::routes::ToolsRoute;
use lode_common::{ApiCall, Reply, SpinSql, api_call, body_limit};
use lode_jobs::{NewJob, Priority, ToolRequest};
use lode_llm::registry::Strategy;
use lode_store::ids::now_ms;
use lode_store::{Documents, ToolResults};
use lode_tools::run::{Plan, Quiet};
use lode_tools::{Tool, ToolError};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

/// Longest raw text `POST /api/tools/{tool}` takes (documents may be longer).
const MAX_TEXT_CHARS: usize = 200_000;
/// Runs with more LLM calls than this go through the queue unless
/// `?mode=sync`: a client should not hold a request open for minutes.
const IN_REQUEST_CALLS: usize = 8;
/// Parts an in-request map-reduce summary may have.
const MAX_SYNC_PARTS: usize = 64;
/// Parts a queued map-reduce summary may have (the cost guard: a bigger
/// text is refused before anything is spent).
const MAX_QUEUED_PARTS: usize = 1024;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    lode_common::handle(env!("CARGO_PKG_NAME"), req, serve).await
}

async fn serve(req: Request) -> Result<Reply, ApiError> {
    let ApiCall {
        req,
        sql,
        who,
        handler,
        params,
    } = api_call(req).await?;
    match handler {
        ToolsRoute::List => {
            let tools: Vec<Json> = lode_tools::ALL.iter().map(|t| t.describe()).collect();
            Ok(Reply::json(200, json!({ "data": tools })))
        }
        ToolsRoute::Run => {
            let body: RawRun = req.json(body_limit().await?)?;
            let choice = (body.input, body.model, body.strategy);
            let run = Run::new(&sql, &who, params.get("tool"), &req.query, choice)?;
            raw(run, &body.text).await
        }
        ToolsRoute::RunOnDocument => {
            let body: DocumentRun = req.json(body_limit().await?)?;
            let choice = (body.input, body.model, body.strategy);
            let run = Run::new(&sql, &who, params.get("tool"), &req.query, choice)?;
            on_document(run, params.get("id"), body.refresh).await
        }
    }
}

fn tool(name: &str) -> Result<Tool, ApiError> {
    Tool::parse(name).map_err(|e| ApiError::not_found(&e.to_string()))
}

/// `POST /api/tools/{tool}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    text: String,
    #[serde(default = "empty")]
    input: Json,
    model: Option<String>,
    strategy: Option<Strategy>,
}

/// `POST /api/documents/{id}/tools/{tool}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentRun {
    #[serde(default = "empty")]
    input: Json,
    model: Option<String>,
    strategy: Option<Strategy>,
    /// Run again even when a stored result exists.
    #[serde(default)]
    refresh: bool,
}

fn empty() -> Json {
    json!({})
}

/// Where a run happens (`?mode=`).
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// In the request when it needs at most [`IN_REQUEST_CALLS`] calls, else queued.
    Auto,
    /// In the request, however long (up to [`MAX_SYNC_PARTS`] parts).
    Sync,
    /// Always through the job queue.
    Queue,
}

/// `?mode=auto|sync|queue` and `?priority=` (queued runs).
fn mode(query_string: &str) -> Result<(Mode, Priority), ApiError> {
    let mut mode = Mode::Auto;
    let mut priority = Priority::Normal;
    for (k, v) in query::pairs(query_string) {
        match k.as_str() {
            "mode" => {
                mode = match v.as_str() {
                    "auto" => Mode::Auto,
                    "sync" => Mode::Sync,
                    "queue" => Mode::Queue,
                    _ => return Err(ApiError::invalid("mode must be auto, sync or queue")),
                }
            }
            "priority" => {
                priority = Priority::parse(&v).ok_or_else(|| {
                    ApiError::invalid("priority must be urgent, high, normal or low")
                })?
            }
            _ => return Err(ApiError::invalid(format!("unknown query parameter {k:?}"))),
        }
    }
    Ok((mode, priority))
}

/// What one run needs, whichever way it goes.
struct Run<'a> {
    sql: &'a SpinSql,
    who: &'a Principal,
    tool: Tool,
    input: Map<String, Json>,
    model: Option<String>,
    strategy: Option<Strategy>,
    mode: Mode,
    priority: Priority,
}

impl<'a> Run<'a> {
    /// The run of tool `name` with the caller's (input, model, strategy)
    /// and `?mode=&priority=`; input checked before anything else happens.
    fn new(
        sql: &'a SpinSql,
        who: &'a Principal,
        name: &str,
        query_string: &str,
        (input, model, strategy): (Json, Option<String>, Option<Strategy>),
    ) -> Result<Run<'a>, ApiError> {
        let tool = tool(name)?;
        let (mode, priority) = mode(query_string)?;
        Ok(Run {
            sql,
            who,
            tool,
            input: tool.check_input(&input).map_err(invalid)?,
            model,
            strategy,
            mode,
            priority,
        })
    }

    /// Plan the run, then do it here or queue it. `store`: the document
    /// version and cache key a document run's result is stored under;
    /// `original`: the text a queued raw run keeps with its job.
    async fn go(self, text: &str, store: Option<(&str, i64, String)>) -> Result<Reply, ApiError> {
        let llm = lode_common::llm().await?;
        let plan = Plan::new(llm, self.tool, text, self.model.clone(), self.strategy);
        let parts = plan.calls().saturating_sub(1).max(1);
        let queued = match self.mode {
            Mode::Queue => true,
            Mode::Sync => false,
            Mode::Auto => plan.calls() > IN_REQUEST_CALLS,
        };
        let limit = if queued {
            MAX_QUEUED_PARTS
        } else {
            MAX_SYNC_PARTS
        };
        if parts > limit {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the text needs {parts} parts for this model's context; at most {limit}{}",
                    if queued {
                        ""
                    } else {
                        " in a request (use ?mode=queue)"
                    }
                ),
            ));
        }
        // The frame charged one LLM call; the run is charged all it plans.
        let more = u32::try_from(plan.calls().saturating_sub(1)).unwrap_or(u32::MAX);
        lode_common::rate::charge_more(self.sql, self.who, lode_ratelimit::Budget::Llm, more)
            .await?;
        if queued {
            return self.enqueue(text, store).await;
        }
        let tenant = &self.who.tenant;
        let out = plan.run(self.sql, tenant, &self.input, &Quiet).await?;
        let out = match store {
            Some((id, version, key)) => {
                lode_tools::run::store_on_document(
                    self.sql,
                    tenant,
                    (id, version),
                    self.tool,
                    &key,
                    out,
                    now_ms(),
                )
                .await?
            }
            None => out,
        };
        Ok(Reply::json(200, out))
    }

    /// Queue the run for the tool worker; 202 with the job.
    async fn enqueue(
        self,
        text: &str,
        store: Option<(&str, i64, String)>,
    ) -> Result<Reply, ApiError> {
        let (document, cache_key, original) = match store {
            Some((id, version, key)) => (Some((id.to_string(), version)), Some(key), None),
            None => (None, None, Some(text.as_bytes().to_vec())),
        };
        let request = ToolRequest {
            tool: self.tool.name().to_string(),
            document,
            input: self.input,
            model: self.model,
            strategy: strategy_name(self.strategy),
            cache_key,
        };
        let job = NewJob {
            request: request.into(),
            priority: self.priority,
            original,
        };
        let (_, created) = lode_common::job::submit(self.sql, self.who, vec![job]).await?;
        let job = created.into_iter().next().ok_or_else(ApiError::internal)?;
        let location = format!("/api/jobs/{}", job.job_id);
        Ok(Reply::json(202, &job).at(location))
    }
}

/// A strategy's wire name (`"cost"`…), as stored with a job and in cache keys.
fn strategy_name(strategy: Option<Strategy>) -> Option<String> {
    strategy
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_string))
}

async fn raw(run: Run<'_>, text: &str) -> Result<Reply, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::invalid(format!(
            "text must be 1-{MAX_TEXT_CHARS} characters"
        )));
    }
    run.go(text, None).await
}

async fn on_document(run: Run<'_>, id: &str, refresh: bool) -> Result<Reply, ApiError> {
    let tenant = &run.who.tenant;
    let doc = Documents::new(run.sql, tenant)
        .get_version(id, None)
        .await?
        .ok_or_else(|| ApiError::not_found("document"))?;
    let strategy = strategy_name(run.strategy);
    let key = lode_tools::run::cache_key(&run.input, run.model.as_deref(), strategy.as_deref());
    if !refresh {
        let stored = ToolResults::new(run.sql, tenant)
            .get(&doc.id, doc.version, run.tool.name(), &key)
            .await?;
        let result = if stored.is_some() { "hit" } else { "miss" };
        let labels = [("cache", "tool_results"), ("result", result)];
        lode_common::metrics::add(lode_metrics::CACHE, &labels, 1.0).await;
        if let Some(mut stored) = stored {
            stored["cached"] = json!(true);
            return Ok(Reply::json(200, stored));
        }
    }
    let text = doc.content.clone().unwrap_or_default();
    run.go(&text, Some((&doc.id, doc.version, key))).await
}

fn invalid(e: ToolError) -> ApiError {
    ApiError::invalid(e.to_string())
}
