//! LLM tools (`lode-tools`): `GET /api/tools` lists them with their JSON
//! Schemas; `POST /api/tools/{tool}` runs one on text in the body;
//! `POST /api/documents/{id}/tools/{tool}` runs one on a document's current
//! version and stores the result on it, so asking again (same version, tool,
//! input and model choice) returns the stored result without an LLM call.
//!
//! Summaries of texts longer than the model's context are map-reduced: each
//! part is summarised, then the part summaries are summarised together.

use lode_api::{ApiError, ErrorCode, Pattern};
use lode_auth::{Action, Principal};
use lode_common::{ApiCall, Reply, SpinSql, api_call, body_limit, respond};
use lode_llm::registry::Strategy;
use lode_llm_client::{Ask, Llm};
use lode_store::ids::{now_ms, sha256_hex};
use lode_store::{Documents, ToolResults};
use lode_tools::{Tool, ToolError};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use spin_sdk::http::{IntoResponse, Method, Request};
use spin_sdk::http_service;

const ROUTES: &[Pattern] = &[
    Pattern("/api/tools"),
    Pattern("/api/tools/{tool}"),
    Pattern("/api/documents/{id}/tools/{tool}"),
];

/// Longest raw text `POST /api/tools/{tool}` takes (documents may be longer).
const MAX_TEXT_CHARS: usize = 200_000;
/// Parts a map-reduce summary may have before it is refused.
const MAX_PARTS: usize = 64;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    respond(serve(req).await)
}

async fn serve(req: Request) -> Result<Reply, ApiError> {
    let ApiCall {
        req,
        sql,
        who,
        route,
        params,
    } = api_call(req, ROUTES).await?;
    match (route, &req.method) {
        (0, &Method::GET) => {
            who.require(Action::Read)?;
            let tools: Vec<Json> = lode_tools::ALL.iter().map(|t| t.describe()).collect();
            Ok(Reply::json(200, json!({ "data": tools })))
        }
        (1, &Method::POST) => {
            who.require(Action::Read)?;
            let tool = tool(params.get("tool"))?;
            let body: RawRun = req.json(body_limit().await?)?;
            raw(&sql, &who, tool, body).await
        }
        (2, &Method::POST) => {
            // Results are stored on the document: a write.
            who.require(Action::Write)?;
            let tool = tool(params.get("tool"))?;
            let body: DocumentRun = req.json(body_limit().await?)?;
            on_document(&sql, &who, params.get("id"), tool, body).await
        }
        (0, _) => Err(ApiError::method_not_allowed(&["GET"])),
        _ => Err(ApiError::method_not_allowed(&["POST"])),
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

async fn raw(sql: &SpinSql, who: &Principal, tool: Tool, body: RawRun) -> Result<Reply, ApiError> {
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::invalid(format!(
            "text must be 1-{MAX_TEXT_CHARS} characters"
        )));
    }
    let input = tool.check_input(&body.input).map_err(invalid)?;
    let run = run(sql, who, tool, text, &input, body.model, body.strategy).await?;
    Ok(Reply::json(200, run))
}

async fn on_document(
    sql: &SpinSql,
    who: &Principal,
    id: &str,
    tool: Tool,
    body: DocumentRun,
) -> Result<Reply, ApiError> {
    let input = tool.check_input(&body.input).map_err(invalid)?;
    let doc = Documents::new(sql, &who.tenant)
        .get_version(id, None)
        .await?
        .ok_or_else(|| ApiError::not_found("document"))?;
    let key = sha256_hex(
        json!({"input": input, "model": body.model, "strategy": body.strategy})
            .to_string()
            .as_bytes(),
    );
    let results = ToolResults::new(sql, &who.tenant);
    if !body.refresh
        && let Some(stored) = results.get(&doc.id, doc.version, tool.name(), &key).await?
    {
        let mut out = stored;
        out["cached"] = json!(true);
        return Ok(Reply::json(200, out));
    }
    let text = doc.content.clone().unwrap_or_default();
    let mut out = run(sql, who, tool, &text, &input, body.model, body.strategy).await?;
    out["document_id"] = json!(doc.id);
    out["version"] = json!(doc.version);
    results
        .put(&doc.id, doc.version, tool.name(), &key, &out, now_ms())
        .await?;
    out["cached"] = json!(false);
    Ok(Reply::json(200, out))
}

/// Run `tool` on `text` (map-reduce for long summaries); the result and what it cost.
async fn run(
    sql: &SpinSql,
    who: &Principal,
    tool: Tool,
    text: &str,
    input: &Map<String, Json>,
    model: Option<String>,
    strategy: Option<Strategy>,
) -> Result<Json, ApiError> {
    let llm = Llm::load().await?;
    let ask = Ask {
        model,
        strategy,
        max_tokens: 1500,
        temperature: Some(0.0),
        ..Ask::default()
    };
    // The context of the first model the chain would try decides the cut.
    let context = llm.context_length(&ask).unwrap_or(8192);
    let parts = lode_tools::plan_map(text, context);
    if parts.len() > MAX_PARTS {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the text needs {} parts for this model's context; at most {MAX_PARTS}",
                parts.len()
            ),
        ));
    }
    let mut spent = Spent::default();
    let result = if parts.len() == 1 || tool != Tool::Summarize {
        // Only summaries are map-reduced; other tools see the first part
        // (which is the whole text whenever it fits).
        once(&llm, sql, who, tool, &parts[0], input, &ask, &mut spent).await?
    } else {
        let mut summaries = Vec::with_capacity(parts.len());
        for part in &parts {
            let r = once(&llm, sql, who, tool, part, input, &ask, &mut spent).await?;
            summaries.push(r["summary"].as_str().unwrap_or_default().to_string());
        }
        let all = lode_tools::reduce_input(&summaries);
        once(&llm, sql, who, tool, &all, input, &ask, &mut spent).await?
    };
    Ok(json!({
        "tool": tool.name(),
        "result": result,
        "model": spent.model,
        "provider": spent.provider,
        "llm_calls": spent.calls,
        "parts": parts.len(),
        "truncated": tool != Tool::Summarize && parts.len() > 1,
        "usage": {"input_tokens": spent.input, "output_tokens": spent.output},
        "cost_usd": spent.cost,
    }))
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

/// One LLM call for `tool` on `text`, its answer checked.
#[allow(clippy::too_many_arguments)] // one call site shape, kept flat for reading
async fn once(
    llm: &Llm,
    sql: &SpinSql,
    who: &Principal,
    tool: Tool,
    text: &str,
    input: &Map<String, Json>,
    ask: &Ask,
    spent: &mut Spent,
) -> Result<Json, ApiError> {
    let ask = Ask {
        messages: tool.prompt(text, input),
        ..ask.clone()
    };
    let answer = llm.complete(sql, &who.tenant, &ask).await?;
    spent.calls += 1;
    spent.input += answer.response.usage.input_tokens;
    spent.output += answer.response.usage.output_tokens;
    spent.cost += answer.cost_usd;
    spent.model = answer.model.clone();
    spent.provider = answer.provider.clone();
    tool.parse_output(&answer.response.content, input)
        .map_err(|e: ToolError| ApiError::new(ErrorCode::BadGateway, e.to_string()))
}

fn invalid(e: ToolError) -> ApiError {
    ApiError::invalid(e.to_string())
}
