//! The worker's side of the jobs table: claim, report progress, finish, and
//! the sweep that finds jobs whose wake-up or worker was lost. Not scoped to
//! a tenant: a worker serves every tenant, and a job carries its own.

use std::time::Duration;

use lode_api::{ApiError, ErrorCode};
use lode_retry::Backoff;
use lode_store::{Sql, StoreError, Value};

use serde_json::Value as Json;

use crate::model::{JOB_COLUMNS, Job, Kind, Priority, Status, Step};

/// Why an attempt failed, deciding whether another one is worth it.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Outbound HTTP 5xx or timeout, a busy store…: retry with backoff.
    Transient(String),
    /// A corrupt PDF, an unsupported type…: fail at once.
    Permanent(String),
}

impl Failure {
    /// Classify an error of a job's run: a store, model, network or LLM
    /// provider failure (unavailable, internal, bad gateway) may pass; bad
    /// input or something gone will not.
    pub fn from_error(e: ApiError) -> Failure {
        match e.code {
            ErrorCode::Unavailable | ErrorCode::Internal | ErrorCode::BadGateway => {
                Failure::Transient(e.message)
            }
            _ => Failure::Permanent(e.message),
        }
    }
}

/// How often a wake-up looks for another job when racing workers took the
/// one it chose, before it settles for its own.
const MAX_CLAIM_RACES: usize = 8;

/// A job the sweep found stranded, to be published on its priority's channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Swept {
    /// The job.
    pub job_id: String,
    /// Its priority (the sweep returns the most urgent first).
    pub priority: Priority,
    /// Its kind, which with the priority names the channel to publish on.
    pub kind: Kind,
}

impl Swept {
    /// The Redis channel that wakes a worker for this job.
    pub fn channel(&self) -> String {
        self.kind.channel(self.priority)
    }
}

/// What a finished job produced.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// The document indexed, or the document a tool ran on.
    pub document_id: Option<&'a str>,
    /// A tool job's output.
    pub result: Option<&'a Json>,
}

/// The jobs table as workers and the sweeper use it.
pub struct Queue<'a, S: Sql> {
    sql: &'a S,
    backoff: Backoff,
    lease: Duration,
}

impl<'a, S: Sql> Queue<'a, S> {
    /// Workers hold a job for `lease` after each claim or progress report;
    /// a job silent for longer is presumed abandoned.
    pub fn new(sql: &'a S, lease: Duration) -> Self {
        Self {
            sql,
            backoff: Backoff {
                max_attempts: u32::MAX, // each job has its own limit
                base: Duration::from_secs(2),
                cap: Duration::from_secs(300),
            },
            lease,
        }
    }

    /// Take `job_id` for `worker` if it is queued and due, or processing with
    /// an expired lease. `None`: another worker has it, it is finished, or
    /// it is not due yet. One `UPDATE`, so at most one claimer wins.
    pub async fn claim(
        &self,
        job_id: &str,
        worker: &str,
        now: i64,
    ) -> Result<Option<Job>, StoreError> {
        let changed = self
            .sql
            .execute(
                "UPDATE jobs SET status = 'processing', attempts = attempts + 1, \
                 lease_until = ?, worker = ?, updated_at = ? \
                 WHERE id = ? AND attempts < max_attempts AND \
                 ((status = 'queued' AND next_attempt_at <= ?) OR \
                  (status = 'processing' AND lease_until < ?))",
                vec![
                    (now + self.lease_ms()).into(),
                    worker.into(),
                    now.into(),
                    job_id.into(),
                    now.into(),
                    now.into(),
                ],
            )
            .await?;
        if changed == 0 {
            return Ok(None);
        }
        let job = self.load(job_id).await?;
        if let Some(job) = &job {
            append_event(
                self.sql,
                job_id,
                Status::Processing,
                job.step,
                job.progress,
                None,
                now,
            )
            .await?;
        }
        Ok(job)
    }

    /// Take the job a wake-up for `hint` should run. Within the hint's kind
    /// and priority, that is the due job of the tenant served longest ago
    /// (oldest first within a tenant), so one tenant's 10,000-file batch
    /// waits its turn behind another tenant's single file instead of ahead
    /// of it. Every job still gets a wake-up of its own, so each wake-up
    /// claims at most one job and none is left behind; a job lost to a
    /// racing worker is skipped for the next one. When nothing is queued,
    /// the hint itself is claimed if its lease expired (its worker died).
    pub async fn claim_next(
        &self,
        hint: &str,
        worker: &str,
        now: i64,
    ) -> Result<Option<Job>, StoreError> {
        let Some(hinted) = self.load(hint).await? else {
            return Ok(None);
        };
        for _ in 0..MAX_CLAIM_RACES {
            let next = self
                .sql
                .query(
                    "SELECT j.id FROM jobs j LEFT JOIN job_turns t \
                     ON t.kind = j.kind AND t.tenant = j.tenant \
                     WHERE j.status = 'queued' AND j.kind = ? AND j.priority = ? \
                     AND j.next_attempt_at <= ? AND j.attempts < j.max_attempts \
                     ORDER BY COALESCE(t.turn, 0), j.next_attempt_at, j.id LIMIT 1",
                    vec![
                        hinted.kind.as_str().into(),
                        hinted.priority.rank().into(),
                        now.into(),
                    ],
                )
                .await?;
            let Some(row) = next.first() else { break };
            if let Some(job) = self.claim(&row.text(0)?, worker, now).await? {
                self.served(&job).await?;
                return Ok(Some(job));
            }
        }
        let job = self.claim(hint, worker, now).await?;
        if let Some(job) = &job {
            self.served(job).await?;
        }
        Ok(job)
    }

    /// `job`'s tenant had its turn: it goes to the back of its kind's line.
    async fn served(&self, job: &Job) -> Result<(), StoreError> {
        self.sql
            .execute(
                "INSERT INTO job_turns (kind, tenant, turn) VALUES (?, ?, \
                 (SELECT COALESCE(MAX(turn), 0) + 1 FROM job_turns WHERE kind = ?)) \
                 ON CONFLICT (kind, tenant) DO UPDATE SET turn = excluded.turn",
                vec![
                    job.kind.as_str().into(),
                    job.tenant.as_str().into(),
                    job.kind.as_str().into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// Record that `worker` finished `step`, extending its lease. `false`:
    /// the worker lost the job (lease expired and taken over) and must stop.
    pub async fn progress(
        &self,
        job_id: &str,
        worker: &str,
        step: Step,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.progress_at(job_id, worker, step, step.percent_done(), now)
            .await
    }

    /// [`Queue::progress`] with an explicit percentage, for steps made of
    /// many parts (a tool's map over a long text).
    pub async fn progress_at(
        &self,
        job_id: &str,
        worker: &str,
        step: Step,
        percent: u8,
        now: i64,
    ) -> Result<bool, StoreError> {
        let percent = percent.min(100);
        let changed = self
            .sql
            .execute(
                "UPDATE jobs SET step = ?, percent = ?, lease_until = ?, updated_at = ? \
                 WHERE id = ? AND status = 'processing' AND worker = ?",
                vec![
                    step.as_str().into(),
                    i64::from(percent).into(),
                    (now + self.lease_ms()).into(),
                    now.into(),
                    job_id.into(),
                    worker.into(),
                ],
            )
            .await?;
        if changed == 1 {
            append_event(
                self.sql,
                job_id,
                Status::Processing,
                Some(step),
                percent,
                None,
                now,
            )
            .await?;
        }
        Ok(changed == 1)
    }

    /// [`Queue::progress_at`] for a worker that must stop once it lost the
    /// job: that is an error (unavailable, so the run counts as transient).
    pub async fn report(
        &self,
        job_id: &str,
        worker: &str,
        step: Step,
        percent: u8,
        now: i64,
    ) -> Result<(), ApiError> {
        if self.progress_at(job_id, worker, step, percent, now).await? {
            Ok(())
        } else {
            Err(ApiError::unavailable(
                "the lease was lost to another worker",
            ))
        }
    }

    /// Extend `worker`'s lease on a job it is still running, inside a long
    /// step, without recording an event. An error (unavailable) means the
    /// worker lost the job and must stop.
    pub async fn renew(&self, job_id: &str, worker: &str, now: i64) -> Result<(), ApiError> {
        let changed = self
            .sql
            .execute(
                "UPDATE jobs SET lease_until = ? \
                 WHERE id = ? AND status = 'processing' AND worker = ?",
                vec![(now + self.lease_ms()).into(), job_id.into(), worker.into()],
            )
            .await?;
        if changed == 1 {
            Ok(())
        } else {
            Err(ApiError::unavailable(
                "the lease was lost to another worker",
            ))
        }
    }

    /// Mark the job completed with what it produced. `false` if `worker`
    /// no longer holds it.
    pub async fn complete(
        &self,
        job: &Job,
        worker: &str,
        outcome: Outcome<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let step = job.kind.last_step();
        let result = outcome.result.map(|r| r.to_string());
        let changed = self
            .sql
            .execute(
                "UPDATE jobs SET status = 'completed', step = ?, percent = 100, \
                 document_id = ?, result = ?, last_error = NULL, lease_until = NULL, \
                 updated_at = ? WHERE id = ? AND status = 'processing' AND worker = ?",
                vec![
                    step.as_str().into(),
                    outcome.document_id.into(),
                    result.into(),
                    now.into(),
                    job.job_id.as_str().into(),
                    worker.into(),
                ],
            )
            .await?;
        if changed == 1 {
            append_event(
                self.sql,
                &job.job_id,
                Status::Completed,
                Some(step),
                100,
                None,
                now,
            )
            .await?;
        }
        Ok(changed == 1)
    }

    /// Record a failed attempt: a transient failure re-queues the job after
    /// a backoff (`jitter` in 0..1 spreads retries apart) until its attempts
    /// are used up, then it is `dead`; a permanent one fails it. Returns the
    /// new status, or `None` if `worker` no longer holds the job.
    pub async fn fail(
        &self,
        job_id: &str,
        worker: &str,
        failure: &Failure,
        now: i64,
        jitter: f64,
    ) -> Result<Option<Status>, StoreError> {
        let Some(job) = self.load(job_id).await? else {
            return Ok(None);
        };
        let (status, message, delay) = match failure {
            Failure::Permanent(m) => (Status::Failed, m, None),
            Failure::Transient(m) if job.attempts >= job.max_attempts => (Status::Dead, m, None),
            Failure::Transient(m) => {
                let delay = self
                    .backoff
                    .delay(job.attempts.saturating_sub(1), None, jitter)
                    .unwrap_or(self.backoff.cap);
                (Status::Queued, m, Some(delay))
            }
        };
        let next = now + delay.map_or(0, |d| d.as_millis() as i64);
        let changed = self
            .sql
            .execute(
                "UPDATE jobs SET status = ?, last_error = ?, next_attempt_at = ?, \
                 lease_until = NULL, worker = NULL, updated_at = ? \
                 WHERE id = ? AND status = 'processing' AND worker = ?",
                vec![
                    status.as_str().into(),
                    message.as_str().into(),
                    next.into(),
                    now.into(),
                    job_id.into(),
                    worker.into(),
                ],
            )
            .await?;
        if changed == 0 {
            return Ok(None);
        }
        append_event(
            self.sql,
            job_id,
            status,
            job.step,
            job.progress,
            Some(message),
            now,
        )
        .await?;
        Ok(Some(status))
    }

    /// Find stranded work: processing jobs whose lease expired (the worker
    /// died) go back to `queued`, or to `dead` when their attempts are used
    /// up; then every queued job that is due and has not been touched for
    /// `stale` (its wake-up was lost, or its retry came due) is returned,
    /// most urgent first, for the caller to publish again. The returned jobs
    /// are touched, so the next sweep waits another `stale` before repeating.
    pub async fn sweep(
        &self,
        now: i64,
        stale: Duration,
        limit: u32,
    ) -> Result<Vec<Swept>, StoreError> {
        let expired = self
            .sql
            .query(
                "SELECT id, attempts >= max_attempts FROM jobs \
                 WHERE status = 'processing' AND lease_until < ?",
                vec![now.into()],
            )
            .await?;
        for row in expired {
            let id = row.text(0)?;
            let (status, message) = if row.int(1)? != 0 {
                (
                    Status::Dead,
                    "the worker stopped during the last allowed attempt",
                )
            } else {
                (Status::Queued, "the worker stopped; the job was re-queued")
            };
            let changed = self
                .sql
                .execute(
                    "UPDATE jobs SET status = ?, last_error = ?, lease_until = NULL, worker = NULL, \
                     next_attempt_at = ?, updated_at = ? \
                     WHERE id = ? AND status = 'processing' AND lease_until < ?",
                    vec![
                        status.as_str().into(),
                        message.into(),
                        now.into(),
                        (now - stale.as_millis() as i64).into(),
                        id.as_str().into(),
                        now.into(),
                    ],
                )
                .await?;
            if changed == 1 {
                append_event(self.sql, &id, status, None, 0, Some(message), now).await?;
            }
        }
        let due = self
            .sql
            .query(
                "SELECT id, priority, kind FROM jobs WHERE status = 'queued' AND next_attempt_at <= ? \
                 AND updated_at <= ? ORDER BY priority, next_attempt_at, id LIMIT ?",
                vec![
                    now.into(),
                    (now - stale.as_millis() as i64).into(),
                    i64::from(limit).into(),
                ],
            )
            .await?;
        let mut swept = Vec::with_capacity(due.len());
        for row in due {
            let job_id = row.text(0)?;
            self.sql
                .execute(
                    "UPDATE jobs SET updated_at = ? WHERE id = ? AND status = 'queued'",
                    vec![now.into(), job_id.as_str().into()],
                )
                .await?;
            swept.push(Swept {
                job_id,
                priority: Priority::from_rank(row.int(1)?),
                kind: Kind::parse(&row.text(2)?)
                    .ok_or_else(|| StoreError::Decode("jobs.kind".into()))?,
            });
        }
        Ok(swept)
    }

    /// A job by id, whatever its tenant.
    pub async fn load(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        let rows = self
            .sql
            .query(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"),
                vec![job_id.into()],
            )
            .await?;
        rows.first().map(Job::from_row).transpose()
    }

    fn lease_ms(&self) -> i64 {
        self.lease.as_millis() as i64
    }
}

/// Append one event to a job's stream.
pub(crate) async fn append_event<S: Sql>(
    sql: &S,
    job_id: &str,
    status: Status,
    step: Option<Step>,
    percent: u8,
    message: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    sql.execute(
        "INSERT INTO job_events (job_id, seq, status, step, percent, message, at) \
         VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job_id = ?), ?, ?, ?, ?, ?)",
        vec![
            job_id.into(),
            job_id.into(),
            status.as_str().into(),
            step.map(|s| s.as_str()).into(),
            i64::from(percent).into(),
            message.into(),
            Value::Integer(now),
        ],
    )
    .await?;
    Ok(())
}
