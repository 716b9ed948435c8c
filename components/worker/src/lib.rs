//! The ingestion worker. Spin calls it for every message on the
//! `lode-jobs-<priority>` channels; a message is only a job id. The worker
//! claims the job in SQL (so a duplicate wake-up, or a second worker, finds
//! nothing to do), runs the pipeline steps, and records the outcome:
//! completed, failed (permanent: the document is bad) or re-queued with
//! backoff (transient: a store or network hiccup) until it is dead.
//!
//! Re-running a job is idempotent: a document is only created when the whole
//! pipeline succeeded, and content the tenant already has is recognised by
//! its sha256 (the job completes with the existing document).

use lode_api::ApiError;
use lode_common::SpinHost;
use lode_common::job::{Done, Lease, run_job};
use lode_common::{SpinSql, upload_limit};
use lode_ingest::{Progress, Steps, WitSteps, base_type, fetch};
use lode_jobs::{Failure, Job, Step, Work};
use lode_store::Tenant;
use serde_json::{Map, json};
use spin_sdk::redis_subscriber;

#[redis_subscriber]
async fn on_message(message: Vec<u8>) -> anyhow::Result<()> {
    run_job(env!("CARGO_PKG_NAME"), message, async |sql, job, lease| {
        let document_id = run(sql, job, &JobProgress(lease)).await?;
        Ok(Done {
            document_id: Some(document_id),
            result: None,
        })
    })
    .await
}

/// Run the pipeline for `job`; the document id, or why not.
async fn run(sql: &SpinSql, job: &Job, progress: &JobProgress<'_>) -> Result<String, Failure> {
    let tenant = Tenant::parse(&job.tenant).map_err(|e| Failure::Permanent(e.message))?;
    let request = job.work.clone();
    let Work::Ingest(request) = request else {
        return Err(Failure::Permanent("not an ingestion job".into()));
    };
    let (bytes, media_type, name, source) = match (&request.url, job.blob_id.as_deref()) {
        (Some(url), _) => {
            let url = fetch::parse_url(url).map_err(classify)?;
            let fence = fetch::Fence::load(&SpinHost).await;
            let limit = upload_limit().await.map_err(classify)?;
            let fetched = fetch::fetch(&SpinHost, url, limit, &fence)
                .await
                .map_err(classify)?;
            progress.done(Step::Fetch).await.map_err(classify)?;
            let (name, source) = fetch::source(&fetched);
            (fetched.bytes, fetched.media_type, name, source)
        }
        (None, Some(blob)) => {
            let bytes = lode_jobs::Jobs::new(sql, &tenant)
                .original(blob)
                .await
                .map_err(classify)?
                .ok_or_else(|| Failure::Permanent("the stored original is gone".into()))?;
            let media_type = request
                .media_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            let mut source = Map::new();
            source.insert("media_type".into(), json!(base_type(&media_type)));
            if let Some(f) = &request.filename {
                source.insert("filename".into(), json!(f));
            }
            (bytes, media_type, request.filename.clone(), source)
        }
        (None, None) => {
            return Err(Failure::Permanent(
                "the job has neither a URL nor a stored original".into(),
            ));
        }
    };
    let extracted = WitSteps
        .extract(&bytes, &media_type, None)
        .map_err(classify)?;
    drop(bytes);
    progress.done(Step::Extract).await.map_err(classify)?;
    let options = lode_ingest::Options {
        title: request.title.clone(),
        metadata: request.metadata.clone(),
        chunking: request.chunking,
    };
    let ingested = lode_ingest::pipeline(sql, &tenant)
        .add_extracted(extracted, options, name, source, progress)
        .await
        .map_err(classify)?;
    Ok(ingested.document.id)
}

/// Records each finished step on the job, extending the lease; a worker
/// that lost its lease (another one took the job over) stops at the next step.
struct JobProgress<'a>(&'a Lease<'a>);

impl Progress for JobProgress<'_> {
    async fn done(&self, step: Step) -> Result<(), ApiError> {
        self.0.report(step, step.percent_done()).await
    }

    async fn working(&self) -> Result<(), ApiError> {
        self.0.renew().await
    }
}

fn classify(e: ApiError) -> Failure {
    Failure::from_error(e)
}
