//! The API's side of the jobs table, scoped to one tenant: create a batch
//! (storing uploaded originals), read jobs, batches and progress events, and
//! re-queue failed or dead jobs.

use lode_api::ApiError;
use lode_store::ids::{new_id, sha256_hex};
use lode_store::sql::transaction;
use lode_store::{Sql, StoreError, Tenant};
use serde::Serialize;

use crate::model::{JOB_COLUMNS, Job, JobEvent, Priority, Status, Step, Work};
use crate::queue::append_event;

/// One file or URL to ingest, or one tool run.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// What to do and how.
    pub request: Work,
    /// How soon.
    pub priority: Priority,
    /// The uploaded bytes (`None` for URL jobs), stored so a retry never
    /// needs the client again.
    pub original: Option<Vec<u8>>,
}

/// A batch's aggregate state, for one progress bar over many files.
#[derive(Debug, Clone, Serialize)]
pub struct BatchProgress {
    /// The batch.
    pub batch_id: String,
    /// Jobs in it.
    pub total: usize,
    /// Jobs per status.
    pub counts: std::collections::BTreeMap<&'static str, usize>,
    /// Mean progress of its jobs, 0–100.
    pub progress: u8,
    /// Every job has reached a final state.
    pub done: bool,
    /// The jobs.
    pub jobs: Vec<Job>,
}

/// The jobs of one tenant.
pub struct Jobs<'a, S: Sql> {
    sql: &'a S,
    tenant: &'a Tenant,
    request_id: Option<String>,
}

impl<'a, S: Sql> Jobs<'a, S> {
    /// The jobs of `tenant`.
    pub fn new(sql: &'a S, tenant: &'a Tenant) -> Self {
        Self {
            sql,
            tenant,
            request_id: None,
        }
    }

    /// Jobs enqueued from here remember `request_id`, so the worker's logs
    /// and outbound calls carry the id of the request that asked for them.
    pub fn for_request(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Store the originals and create one queued job per entry, all in one
    /// transaction (a batch is accepted whole or not at all). Returns the
    /// batch id and the jobs; the caller then publishes the wake-ups.
    pub async fn enqueue(
        &self,
        jobs: Vec<NewJob>,
        max_attempts: u32,
        now: i64,
    ) -> Result<(String, Vec<Job>), ApiError> {
        let batch_id = new_id("batch");
        let ids = transaction(self.sql, async {
            let mut ids = Vec::with_capacity(jobs.len());
            for job in jobs {
                ids.push(self.insert(&batch_id, job, max_attempts, now).await?);
            }
            Ok(ids)
        })
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get(&id).await?.ok_or_else(ApiError::internal)?);
        }
        Ok((batch_id, out))
    }

    async fn insert(
        &self,
        batch_id: &str,
        job: NewJob,
        max_attempts: u32,
        now: i64,
    ) -> Result<String, StoreError> {
        let tenant = self.tenant.as_str();
        let blob_id = match job.original {
            Some(bytes) => {
                let id = new_id("blob");
                self.sql
                    .execute(
                        "INSERT INTO blobs (id, tenant, sha256, size_bytes, bytes, created_at) \
                         VALUES (?, ?, ?, ?, ?, ?)",
                        vec![
                            id.as_str().into(),
                            tenant.into(),
                            sha256_hex(&bytes).into(),
                            (bytes.len() as i64).into(),
                            lode_store::Value::Blob(bytes),
                            now.into(),
                        ],
                    )
                    .await?;
                Some(id)
            }
            None => None,
        };
        let id = new_id("job");
        let request = job
            .request
            .to_json()
            .map_err(|e| StoreError::Decode(format!("job request: {e}")))?;
        self.sql
            .execute(
                "INSERT INTO jobs (id, tenant, batch_id, kind, status, priority, attempts, \
                 max_attempts, next_attempt_at, percent, request, blob_id, created_at, updated_at, \
                 request_id) VALUES (?, ?, ?, ?, 'queued', ?, 0, ?, ?, 0, ?, ?, ?, ?, ?)",
                vec![
                    id.as_str().into(),
                    tenant.into(),
                    batch_id.into(),
                    job.request.kind().as_str().into(),
                    job.priority.rank().into(),
                    i64::from(max_attempts).into(),
                    now.into(),
                    request.into(),
                    blob_id.into(),
                    now.into(),
                    now.into(),
                    self.request_id.clone().into(),
                ],
            )
            .await?;
        append_event(self.sql, &id, Status::Queued, None, 0, None, now).await?;
        Ok(id)
    }

    /// One job of this tenant.
    pub async fn get(&self, job_id: &str) -> Result<Option<Job>, ApiError> {
        let rows = self
            .sql
            .query(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ? AND id = ?"),
                vec![self.tenant.as_str().into(), job_id.into()],
            )
            .await?;
        Ok(rows.first().map(Job::from_row).transpose()?)
    }

    /// The newest jobs, optionally only those in `status`.
    pub async fn list(&self, status: Option<Status>, limit: u32) -> Result<Vec<Job>, ApiError> {
        let mut params = vec![self.tenant.as_str().into()];
        let filter = match status {
            Some(s) => {
                params.push(s.as_str().into());
                "AND status = ?"
            }
            None => "",
        };
        params.push(i64::from(limit).into());
        let rows = self
            .sql
            .query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ? {filter} \
                     ORDER BY created_at DESC, id DESC LIMIT ?"
                ),
                params,
            )
            .await?;
        Ok(rows.iter().map(Job::from_row).collect::<Result<_, _>>()?)
    }

    /// A batch's jobs and aggregate progress.
    pub async fn batch(&self, batch_id: &str) -> Result<Option<BatchProgress>, ApiError> {
        let rows = self
            .sql
            .query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ? AND batch_id = ? \
                     ORDER BY created_at, id"
                ),
                vec![self.tenant.as_str().into(), batch_id.into()],
            )
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let jobs: Vec<Job> = rows.iter().map(Job::from_row).collect::<Result<_, _>>()?;
        let mut counts = std::collections::BTreeMap::new();
        for job in &jobs {
            *counts.entry(job.status.as_str()).or_insert(0) += 1;
        }
        // A final job counts as fully progressed, whatever step it stopped at.
        let sum: usize = jobs
            .iter()
            .map(|j| {
                if j.status.is_final() {
                    100
                } else {
                    usize::from(j.progress)
                }
            })
            .sum();
        Ok(Some(BatchProgress {
            batch_id: batch_id.to_string(),
            total: jobs.len(),
            progress: (sum / jobs.len()) as u8,
            done: jobs.iter().all(|j| j.status.is_final()),
            counts,
            jobs,
        }))
    }

    /// A job's events after `after_seq`, oldest first (`None` if no such job).
    pub async fn events(
        &self,
        job_id: &str,
        after_seq: i64,
    ) -> Result<Option<Vec<JobEvent>>, ApiError> {
        if self.get(job_id).await?.is_none() {
            return Ok(None);
        }
        let rows = self
            .sql
            .query(
                "SELECT seq, status, step, percent, message, at FROM job_events \
                 WHERE job_id = ? AND seq > ? ORDER BY seq",
                vec![job_id.into(), after_seq.into()],
            )
            .await?;
        let events = rows
            .iter()
            .map(|r| {
                Ok(JobEvent {
                    seq: r.int(0)?,
                    status: Status::parse(&r.text(1)?)
                        .ok_or_else(|| StoreError::Decode("job_events.status".into()))?,
                    step: r.opt_text(2)?.as_deref().and_then(Step::parse),
                    progress: r.int(3)?.clamp(0, 100) as u8,
                    message: r.opt_text(4)?,
                    at: r.int(5)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Some(events))
    }

    /// Re-queue one failed or dead job with fresh attempts. `None` if the
    /// tenant has no such job; an error if it is not failed or dead.
    pub async fn retry(&self, job_id: &str, now: i64) -> Result<Option<Job>, ApiError> {
        let Some(job) = self.get(job_id).await? else {
            return Ok(None);
        };
        if !matches!(job.status, Status::Failed | Status::Dead) {
            return Err(ApiError::new(
                lode_api::ErrorCode::Conflict,
                format!(
                    "job {job_id} is {}; only failed or dead jobs can be retried",
                    job.status.as_str()
                ),
            ));
        }
        self.requeue(&[job.job_id], now).await?;
        self.get(job_id).await
    }

    /// Re-queue every dead job of the tenant; returns them.
    pub async fn redrive(&self, now: i64) -> Result<Vec<Job>, ApiError> {
        let dead: Vec<String> = self
            .list(Some(Status::Dead), 1000)
            .await?
            .into_iter()
            .map(|j| j.job_id)
            .collect();
        self.requeue(&dead, now).await?;
        let mut out = Vec::with_capacity(dead.len());
        for id in dead {
            out.extend(self.get(&id).await?);
        }
        Ok(out)
    }

    async fn requeue(&self, ids: &[String], now: i64) -> Result<(), ApiError> {
        for id in ids {
            let changed = self
                .sql
                .execute(
                    "UPDATE jobs SET status = 'queued', attempts = 0, next_attempt_at = ?, \
                     step = NULL, percent = 0, updated_at = ? \
                     WHERE tenant = ? AND id = ? AND status IN ('failed', 'dead')",
                    vec![
                        now.into(),
                        now.into(),
                        self.tenant.as_str().into(),
                        id.as_str().into(),
                    ],
                )
                .await?;
            if changed == 1 {
                append_event(self.sql, id, Status::Queued, None, 0, None, now).await?;
            }
        }
        Ok(())
    }

    /// A stored original of this tenant.
    pub async fn original(&self, blob_id: &str) -> Result<Option<Vec<u8>>, ApiError> {
        let rows = self
            .sql
            .query(
                "SELECT bytes FROM blobs WHERE tenant = ? AND id = ?",
                vec![self.tenant.as_str().into(), blob_id.into()],
            )
            .await?;
        Ok(rows.first().and_then(|r| match r.0.first() {
            Some(lode_store::Value::Blob(b)) => Some(b.clone()),
            _ => None,
        }))
    }
}
