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

use lode_api::{ApiError, ErrorCode};
use lode_common::SpinSql;
use lode_jobs::{Failure, Job, LEASE, Queue, Step};
use lode_store::Tenant;
use lode_store::ids::{new_id, now_ms, random_bytes};
use serde_json::{Map, json};
use spin_sdk::redis_subscriber;

#[redis_subscriber]
async fn on_message(message: Vec<u8>) -> anyhow::Result<()> {
    let job_id = String::from_utf8(message)?;
    let sql = SpinSql::open("default")
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    lode_store::migrate(&sql).await?;
    let queue = Queue::new(&sql, LEASE);
    let worker = new_id("worker");
    let Some(job) = queue.claim(job_id.trim(), &worker, now_ms()).await? else {
        return Ok(()); // done, taken, or not due: nothing to do
    };
    let outcome = run(&sql, &queue, &worker, &job).await;
    match outcome {
        Ok(document_id) => {
            queue
                .complete(&job.job_id, &worker, &document_id, now_ms())
                .await?;
        }
        Err(failure) => {
            let jitter = f64::from(u32::from_le_bytes(random_bytes::<4>())) / f64::from(u32::MAX);
            let status = queue
                .fail(&job.job_id, &worker, &failure, now_ms(), jitter)
                .await?;
            eprintln!("job {} failed ({status:?}): {failure:?}", job.job_id);
        }
    }
    Ok(())
}

/// Run the pipeline for `job`; the document id, or why not.
async fn run(
    sql: &SpinSql,
    queue: &Queue<'_, SpinSql>,
    worker: &str,
    job: &Job,
) -> Result<String, Failure> {
    let tenant = Tenant::parse(&job.tenant).map_err(|e| Failure::Permanent(e.message))?;
    let request = job
        .request
        .clone()
        .ok_or_else(|| Failure::Permanent("the job has no request".into()))?;
    let jobs = lode_jobs::Jobs::new(sql, &tenant);
    let blob = job
        .blob_id
        .as_deref()
        .ok_or_else(|| Failure::Permanent("the job has no stored original".into()))?;
    let bytes = jobs
        .original(blob)
        .await
        .map_err(transient)?
        .ok_or_else(|| Failure::Permanent("the stored original is gone".into()))?;
    let media_type = request
        .media_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let extracted = lode_ingest::pipeline::extract(&bytes, &media_type, None).map_err(classify)?;
    step(queue, job, worker, Step::Extract).await?;
    let mut source = Map::new();
    source.insert(
        "media_type".into(),
        json!(lode_ingest::base_type(&media_type)),
    );
    if let Some(f) = &request.filename {
        source.insert("filename".into(), json!(f));
    }
    let options = lode_ingest::Options {
        title: request.title.clone(),
        metadata: request.metadata.clone(),
        chunking: request.chunking,
    };
    let ingested = lode_ingest::add_extracted(
        sql,
        &tenant,
        extracted,
        options,
        request.filename.clone(),
        source,
    )
    .await
    .map_err(classify)?;
    for s in [Step::Chunk, Step::Embed] {
        step(queue, job, worker, s).await?;
    }
    Ok(ingested.document.id)
}

/// Record a finished step; a worker that lost its lease stops here.
async fn step(
    queue: &Queue<'_, SpinSql>,
    job: &Job,
    worker: &str,
    step: Step,
) -> Result<(), Failure> {
    match queue.progress(&job.job_id, worker, step, now_ms()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::Transient(
            "the lease was lost to another worker".into(),
        )),
        Err(e) => Err(Failure::Transient(e.to_string())),
    }
}

/// Bad input is permanent; a store, model or network failure may pass.
fn classify(e: ApiError) -> Failure {
    let message = e.message;
    match e.code {
        ErrorCode::Unavailable | ErrorCode::Internal => Failure::Transient(message),
        _ => Failure::Permanent(message),
    }
}

fn transient(e: ApiError) -> Failure {
    Failure::Transient(e.message)
}
