//! The worker side of a Redis wake-up, shared by the ingestion and tool
//! workers: open the store, claim the job (a duplicate wake-up or a second
//! worker finds nothing to do), run it, and record the outcome.

use std::time::Duration;

use lode_api::ApiError;
use lode_auth::{Principal, Role};
use lode_jobs::{Failure, Job, Jobs, NewJob, Outcome, Priority, Queue, Step};
use lode_store::ids::{jitter, new_id, now_ms};
use serde_json::Value as Json;

use crate::{SpinSql, number_variable, variable};

/// Queue `jobs` for `who` as one batch and wake a worker for each; the
/// batch id and the jobs. `urgent` jumps every other tenant's work, so only
/// the roles named by the `urgent_roles` variable (default `admin`) may ask
/// for it (403 otherwise, before anything is stored). The tenant's quotas
/// of queued jobs and stored bytes must hold the batch (429
/// `quota_exceeded`). Attempts per job come from `job_max_attempts`.
pub async fn submit(
    sql: &SpinSql,
    who: &Principal,
    jobs: Vec<NewJob>,
) -> Result<(String, Vec<Job>), ApiError> {
    if jobs.iter().any(|j| j.priority == Priority::Urgent) {
        let allowed = Role::parse_list(&variable("urgent_roles").await?).map_err(|e| {
            crate::log_error!("variable urgent_roles: {e}");
            ApiError::internal()
        })?;
        if !allowed.contains(&who.role) {
            let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
            return Err(ApiError::forbidden(format!(
                "priority urgent is reserved for the roles {names:?}; use high, normal or low"
            )));
        }
    }
    let adding = lode_store::Holdings {
        queued_jobs: jobs.len() as u64,
        stored_bytes: jobs
            .iter()
            .map(|j| j.original.as_ref().map_or(0, |b| b.len() as u64))
            .sum(),
        ..Default::default()
    };
    crate::quota(sql, &who.tenant).await?.admit(adding).await?;
    let max_attempts: u32 = number_variable("job_max_attempts").await?;
    let (batch_id, created) = Jobs::new(sql, &who.tenant)
        .for_request(crate::context::request_id())
        .enqueue(jobs, max_attempts.clamp(1, 100), now_ms())
        .await?;
    for job in &created {
        crate::wake(&job.job_id, job.channel()).await;
    }
    Ok((batch_id, created))
}

/// What a finished job produced (owned, unlike [`Outcome`]).
pub struct Done {
    /// The document indexed, or the document a tool ran on.
    pub document_id: Option<String>,
    /// A tool job's output.
    pub result: Option<Json>,
}

/// Lets a running job record progress; each report renews the lease.
pub struct Lease<'a> {
    queue: &'a Queue<'a, SpinSql>,
    job_id: &'a str,
    worker: &'a str,
}

impl Lease<'_> {
    /// `step` is done (`percent` of the job): recorded, lease renewed. An
    /// error means the worker lost the job to another and must stop.
    pub async fn report(&self, step: Step, percent: u8) -> Result<(), ApiError> {
        self.queue
            .report(self.job_id, self.worker, step, percent, now_ms())
            .await
    }

    /// Still working inside a step: the lease is renewed, nothing recorded.
    /// An error means the worker lost the job to another and must stop.
    pub async fn renew(&self) -> Result<(), ApiError> {
        self.queue.renew(self.job_id, self.worker, now_ms()).await
    }
}

/// Claim the job whose id is `message` and run `work` on it, logging as
/// `component` (the worker's package name), in a context of its own.
pub async fn run_job(
    component: &'static str,
    message: Vec<u8>,
    work: impl AsyncFnOnce(&SpinSql, &Job, &Lease<'_>) -> Result<Done, Failure>,
) -> anyhow::Result<()> {
    crate::context::scope(claim_and_run(component, message, work)).await
}

async fn claim_and_run(
    component: &'static str,
    message: Vec<u8>,
    work: impl AsyncFnOnce(&SpinSql, &Job, &Lease<'_>) -> Result<Done, Failure>,
) -> anyhow::Result<()> {
    let job_id = String::from_utf8(message)?;
    let spin = |e: ApiError| anyhow::anyhow!("{}", e.message);
    let sql = crate::store().await.map_err(spin)?;
    let lease: u64 = number_variable("job_lease_secs").await.map_err(spin)?;
    let queue = Queue::new(&sql, Duration::from_secs(lease.max(1)));
    let worker = new_id("worker");
    let Some(job) = queue.claim_next(job_id.trim(), &worker, now_ms()).await? else {
        return Ok(()); // done, taken, or not due: nothing to do
    };
    // The job's logs and LLM calls carry the id of the request that queued it.
    crate::context::begin(component, job.request_id.as_deref(), None);
    crate::context::set_tenant(&job.tenant);
    crate::log_info!(
        "{} job {} claimed by {worker} (attempt {}/{})",
        job.kind.as_str(),
        job.job_id,
        job.attempts,
        job.max_attempts
    );
    let lease = Lease {
        queue: &queue,
        job_id: &job.job_id,
        worker: &worker,
    };
    match work(&sql, &job, &lease).await {
        Ok(done) => {
            let outcome = Outcome {
                document_id: done.document_id.as_deref(),
                result: done.result.as_ref(),
            };
            queue.complete(&job, &worker, outcome, now_ms()).await?;
            crate::log_info!("job {} completed", job.job_id);
        }
        Err(failure) => {
            let status = queue
                .fail(&job.job_id, &worker, &failure, now_ms(), jitter())
                .await?;
            match status {
                // Not a failure of the job: another worker holds it now.
                None => crate::log_info!("job {} stopped: its lease was lost", job.job_id),
                Some(status) => crate::log_warn!(
                    "job {} failed ({}): {failure:?}",
                    job.job_id,
                    status.as_str()
                ),
            }
        }
    }
    Ok(())
}
