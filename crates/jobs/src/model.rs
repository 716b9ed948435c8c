//! The vocabulary of jobs: states, priorities, pipeline steps, the stored
//! request and the API view of a job.

use lode_store::{Chunking, Row, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for a worker (new, or retrying after `next_attempt_at`).
    Queued,
    /// A worker holds the lease.
    Processing,
    /// The document is indexed.
    Completed,
    /// A permanent failure (corrupt file, unsupported type): retrying cannot help.
    Failed,
    /// Transient failures used up every attempt; `retry` or `redrive` re-queue it.
    Dead,
}

impl Status {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Processing => "processing",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Dead => "dead",
        }
    }

    /// Parse a stored or query-string name.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Queued,
            Status::Processing,
            Status::Completed,
            Status::Failed,
            Status::Dead,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// No further change will happen without a user asking.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Dead)
    }
}

/// How soon a job should run; one Redis channel per priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Interactive: someone is waiting for this document.
    Urgent,
    /// Ahead of ordinary work.
    High,
    /// The default.
    Normal,
    /// Bulk back-fills.
    Low,
}

impl Priority {
    /// All priorities, most urgent first.
    pub const ALL: [Priority; 4] = [
        Priority::Urgent,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The Redis channel that wakes this priority's workers (`spin.toml`).
    pub fn channel(self) -> String {
        format!("lode-jobs-{}", self.as_str())
    }

    /// Stored as a number so `ORDER BY priority` serves urgent work first.
    pub(crate) fn rank(self) -> i64 {
        self as i64
    }

    pub(crate) fn from_rank(rank: i64) -> Priority {
        Priority::ALL
            .get(rank.clamp(0, 3) as usize)
            .copied()
            .unwrap_or(Priority::Normal)
    }
}

/// A pipeline step, with the share of the job done when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Download a URL (URL jobs only).
    Fetch,
    /// Bytes → Markdown.
    Extract,
    /// Markdown → chunks.
    Chunk,
    /// Chunks → vectors (the long step).
    Embed,
    /// Chunks, vectors and FTS rows written.
    Index,
}

impl Step {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Fetch => "fetch",
            Step::Extract => "extract",
            Step::Chunk => "chunk",
            Step::Embed => "embed",
            Step::Index => "index",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Step> {
        [
            Step::Fetch,
            Step::Extract,
            Step::Chunk,
            Step::Embed,
            Step::Index,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Percent complete once this step is done (embedding dominates).
    pub fn percent_done(self) -> u8 {
        match self {
            Step::Fetch => 10,
            Step::Extract => 25,
            Step::Chunk => 35,
            Step::Embed => 90,
            Step::Index => 100,
        }
    }
}

/// What the job must ingest, stored with it so a retry needs nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The file's name, for the response and the document's metadata.
    pub filename: Option<String>,
    /// The media type of an upload (URL jobs learn it when fetching).
    pub media_type: Option<String>,
    /// A URL to fetch instead of a stored upload.
    pub url: Option<String>,
    /// Title given by the client.
    pub title: Option<String>,
    /// Metadata given by the client.
    #[serde(default)]
    pub metadata: Map<String, Json>,
    /// Chunking in effect when the job was created.
    pub chunking: Chunking,
}

/// A job as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// `job_…`.
    pub job_id: String,
    /// The upload it belongs to.
    pub batch_id: String,
    /// Where it is.
    pub status: Status,
    /// How soon it runs.
    pub priority: Priority,
    /// The step running or last finished.
    pub step: Option<Step>,
    /// 0–100.
    pub progress: u8,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed before `dead`.
    pub max_attempts: u32,
    /// The last failure, readable.
    pub error: Option<String>,
    /// The file's name.
    pub filename: Option<String>,
    /// The document, once indexed.
    pub document_id: Option<String>,
    /// When a queued retry becomes due (ms since the epoch).
    pub next_attempt_at: i64,
    /// Created (ms since the epoch).
    pub created_at: i64,
    /// Last changed (ms since the epoch).
    pub updated_at: i64,
    /// The stored request (not serialised: the API shows `filename`).
    #[serde(skip)]
    pub request: Option<JobRequest>,
    /// The stored original, for upload jobs.
    #[serde(skip)]
    pub blob_id: Option<String>,
    /// The owning tenant.
    #[serde(skip)]
    pub tenant: String,
}

/// The columns [`Job::from_row`] reads, in order.
pub(crate) const JOB_COLUMNS: &str = "id, batch_id, status, priority, step, percent, attempts, \
    max_attempts, last_error, request, document_id, next_attempt_at, created_at, updated_at, \
    blob_id, tenant";

impl Job {
    pub(crate) fn from_row(row: &Row) -> Result<Job, StoreError> {
        let bad = |what: &str| StoreError::Decode(format!("jobs.{what}"));
        let opt = |i: usize| row.opt_text(i);
        let request: JobRequest =
            serde_json::from_str(&row.text(9)?).map_err(|_| bad("request"))?;
        Ok(Job {
            job_id: row.text(0)?,
            batch_id: row.text(1)?,
            status: Status::parse(&row.text(2)?).ok_or_else(|| bad("status"))?,
            priority: Priority::from_rank(row.int(3)?),
            step: opt(4)?.as_deref().and_then(Step::parse),
            progress: row.int(5)?.clamp(0, 100) as u8,
            attempts: row.int(6)?.max(0) as u32,
            max_attempts: row.int(7)?.max(0) as u32,
            error: opt(8)?,
            filename: request.filename.clone(),
            document_id: opt(10)?,
            next_attempt_at: row.int(11)?,
            created_at: row.int(12)?,
            updated_at: row.int(13)?,
            blob_id: opt(14)?,
            tenant: row.text(15)?,
            request: Some(request),
        })
    }
}

/// One entry of a job's progress stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobEvent {
    /// 1, 2, 3… per job: the SSE event id, so a client can resume.
    pub seq: i64,
    /// The job's status after the change.
    pub status: Status,
    /// The step that started or finished.
    pub step: Option<Step>,
    /// 0–100.
    pub progress: u8,
    /// A failure's message.
    pub message: Option<String>,
    /// When (ms since the epoch).
    pub at: i64,
}
