//! The LLM tool worker. Spin calls it for every message on the
//! `lode-tools-<priority>` channels; a message is only a job id. Like the
//! ingestion worker it claims the job in SQL, so a duplicate wake-up finds
//! nothing to do, and it records the outcome: completed with the result,
//! failed (permanent: a bad input or a document gone), or re-queued with
//! backoff (transient: every provider down or its circuit open) until dead.
//!
//! It is a separate component from the ingestion worker so that LLM keys
//! and provider origins are given only to what calls LLMs.

use lode_api::ApiError;
use lode_common::SpinSql;
use lode_common::job::{Done, Lease, run_job};
use lode_jobs::{Failure, Job, Step, ToolRequest, Work};
use lode_llm::registry::Strategy;
use lode_store::ids::now_ms;
use lode_store::{Documents, Tenant};
use lode_tools::Tool;
use lode_tools::run::{Plan, Progress, RunError};
use serde_json::{Value as Json, json};
use spin_sdk::redis_subscriber;

#[redis_subscriber]
async fn on_message(message: Vec<u8>) -> anyhow::Result<()> {
    run_job(env!("CARGO_PKG_NAME"), message, async |sql, job, lease| {
        let result = run(sql, job, &JobProgress(lease)).await?;
        Ok(Done {
            document_id: result["document_id"].as_str().map(str::to_string),
            result: Some(result),
        })
    })
    .await
}

/// Run the tool for `job`; the result as the API would answer it, or why not.
async fn run(sql: &SpinSql, job: &Job, progress: &JobProgress<'_>) -> Result<Json, Failure> {
    let tenant = Tenant::parse(&job.tenant).map_err(|e| Failure::Permanent(e.message))?;
    let Work::Tool(request) = &job.work else {
        return Err(Failure::Permanent("not a tool job".into()));
    };
    let tool = Tool::parse(&request.tool).map_err(|e| Failure::Permanent(e.to_string()))?;
    let strategy = strategy(request)?;
    let text = text(sql, &tenant, job, request).await.map_err(classify)?;
    let llm = lode_common::llm().await.map_err(classify)?;
    let plan = Plan::new(llm, tool, &text, request.model.clone(), strategy);
    drop(text);
    let out = plan
        .run(sql, &tenant, &request.input, progress)
        .await
        .map_err(run_failure)?;
    let out = match (&request.document, &request.cache_key) {
        (Some((id, version)), Some(key)) => lode_tools::run::store_on_document(
            sql,
            &tenant,
            (id, *version),
            tool,
            key,
            out,
            now_ms(),
        )
        .await
        .map_err(classify)?,
        _ => out,
    };
    progress
        .0
        .report(Step::Store, 100)
        .await
        .map_err(classify)?;
    Ok(out)
}

fn strategy(request: &ToolRequest) -> Result<Option<Strategy>, Failure> {
    request
        .strategy
        .as_ref()
        .map(|s| serde_json::from_value(json!(s)))
        .transpose()
        .map_err(|e| Failure::Permanent(format!("strategy: {e}")))
}

/// The text to run on: the document version asked for, or the stored original.
async fn text(
    sql: &SpinSql,
    tenant: &Tenant,
    job: &Job,
    request: &ToolRequest,
) -> Result<String, ApiError> {
    if let Some((id, version)) = &request.document {
        let doc = Documents::new(sql, tenant)
            .get_version(id, Some(*version))
            .await?
            .ok_or_else(|| ApiError::not_found("the document (or that version) is gone"))?;
        return Ok(doc.content.unwrap_or_default());
    }
    let blob = job
        .blob_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid("the job has neither a document nor a text"))?;
    let bytes = lode_jobs::Jobs::new(sql, tenant)
        .original(blob)
        .await?
        .ok_or_else(|| ApiError::not_found("the stored text is gone"))?;
    String::from_utf8(bytes).map_err(|_| ApiError::invalid("the stored text is not UTF-8"))
}

/// Records each LLM call on the job (map progress 5–90 %, then the reduce
/// step), extending the lease; a worker that lost its lease stops.
struct JobProgress<'a>(&'a Lease<'a>);

impl Progress for JobProgress<'_> {
    async fn call_done(&self, done: usize, total: usize) -> Result<(), ApiError> {
        if done == total {
            let step = if total > 1 { Step::Reduce } else { Step::Map };
            return self.0.report(step, step.percent_done()).await;
        }
        let percent = 5 + 85 * done / total.max(1);
        self.0.report(Step::Map, percent as u8).await
    }
}

fn classify(e: ApiError) -> Failure {
    Failure::from_error(e)
}

/// A run's failure, retried when the run's own error says another attempt may succeed.
fn run_failure(e: RunError) -> Failure {
    match e.is_transient() {
        true => Failure::Transient(e.to_string()),
        false => Failure::Permanent(e.to_string()),
    }
}
