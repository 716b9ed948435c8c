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

    /// Stored as a number so `ORDER BY priority` serves urgent work first.
    pub(crate) fn rank(self) -> i64 {
        self as i64
    }

    /// The priority stored as `rank` (unknown ranks read as normal).
    pub fn from_rank(rank: i64) -> Priority {
        Priority::ALL
            .get(rank.clamp(0, 3) as usize)
            .copied()
            .unwrap_or(Priority::Normal)
    }
}

/// What a job does, which decides the component (Redis channel) that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Extract, chunk, embed and index a file or URL (`components/worker`).
    Ingest,
    /// Run an LLM tool, e.g. a map-reduce summary (`components/tool-worker`).
    Tool,
}

impl Kind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ingest => "ingest",
            Kind::Tool => "tool",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Ingest, Kind::Tool]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// The Redis channel that wakes this kind's workers at `priority`
    /// (`spin.toml` subscribes one component per kind).
    pub fn channel(self, priority: Priority) -> String {
        match self {
            Kind::Ingest => format!("lode-jobs-{}", priority.as_str()),
            Kind::Tool => format!("lode-tools-{}", priority.as_str()),
        }
    }

    /// The step a completed job of this kind ends on.
    pub fn last_step(self) -> Step {
        match self {
            Kind::Ingest => Step::Index,
            Kind::Tool => Step::Store,
        }
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
    /// A tool's LLM calls on the parts of its text (progress grows per part).
    Map,
    /// A map-reduce summary's final call over the part summaries.
    Reduce,
    /// A tool's result stored (on the document, for document runs).
    Store,
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
            Step::Map => "map",
            Step::Reduce => "reduce",
            Step::Store => "store",
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
            Step::Map,
            Step::Reduce,
            Step::Store,
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
            Step::Map => 90,
            Step::Reduce => 95,
            Step::Store => 100,
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

/// An LLM tool run in the background (`POST …/tools/{tool}` whose text needs
/// many calls), stored with the job so a retry needs nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRequest {
    /// The tool's wire name (`summarize`, …).
    pub tool: String,
    /// The document and version whose text to use; `None`: the text is the
    /// job's stored original (a raw-text run).
    pub document: Option<(String, i64)>,
    /// The tool's checked input.
    #[serde(default)]
    pub input: Map<String, Json>,
    /// The model asked for, if any.
    pub model: Option<String>,
    /// The selection strategy asked for (its wire name), if any.
    pub strategy: Option<String>,
    /// Where a document run's result is stored (`tool_results.input_key`).
    pub cache_key: Option<String>,
}

/// What a job does, with everything it needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// Ingest a file or URL.
    Ingest(JobRequest),
    /// Run an LLM tool.
    Tool(ToolRequest),
}

impl Work {
    /// Which kind of job this is.
    pub fn kind(&self) -> Kind {
        match self {
            Work::Ingest(_) => Kind::Ingest,
            Work::Tool(_) => Kind::Tool,
        }
    }

    /// The JSON stored in `jobs.request`.
    pub(crate) fn to_json(&self) -> Result<String, serde_json::Error> {
        match self {
            Work::Ingest(r) => serde_json::to_string(r),
            Work::Tool(r) => serde_json::to_string(r),
        }
    }

    fn from_json(kind: Kind, json: &str) -> Result<Work, serde_json::Error> {
        Ok(match kind {
            Kind::Ingest => Work::Ingest(serde_json::from_str(json)?),
            Kind::Tool => Work::Tool(serde_json::from_str(json)?),
        })
    }
}

impl From<JobRequest> for Work {
    fn from(r: JobRequest) -> Work {
        Work::Ingest(r)
    }
}

impl From<ToolRequest> for Work {
    fn from(r: ToolRequest) -> Work {
        Work::Tool(r)
    }
}

/// A job as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// `job_…`.
    pub job_id: String,
    /// The upload it belongs to.
    pub batch_id: String,
    /// What it does.
    pub kind: Kind,
    /// The tool a tool job runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
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
    /// The document, once indexed (or the document a tool ran on).
    pub document_id: Option<String>,
    /// A completed tool job's output (what `POST …/tools/{tool}` answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Json>,
    /// When a queued retry becomes due (ms since the epoch).
    pub next_attempt_at: i64,
    /// Created (ms since the epoch).
    pub created_at: i64,
    /// Last changed (ms since the epoch).
    pub updated_at: i64,
    /// The stored request (not serialised: the API shows `filename`, `tool`).
    #[serde(skip)]
    pub work: Work,
    /// The stored original, for upload jobs.
    #[serde(skip)]
    pub blob_id: Option<String>,
    /// The owning tenant.
    #[serde(skip)]
    pub tenant: String,
    /// The id of the request that queued it (`X-Request-Id`), for logs.
    pub request_id: Option<String>,
}

/// The columns [`Job::from_row`] reads, in order.
pub(crate) const JOB_COLUMNS: &str = "id, batch_id, status, priority, step, percent, attempts, \
    max_attempts, last_error, request, document_id, next_attempt_at, created_at, updated_at, \
    blob_id, tenant, kind, result, request_id";

impl Job {
    /// The Redis channel that wakes a worker for this job.
    pub fn channel(&self) -> String {
        self.kind.channel(self.priority)
    }

    pub(crate) fn from_row(row: &Row) -> Result<Job, StoreError> {
        let bad = |what: &str| StoreError::Decode(format!("jobs.{what}"));
        let opt = |i: usize| row.opt_text(i);
        let kind = Kind::parse(&row.text(16)?).ok_or_else(|| bad("kind"))?;
        let work = Work::from_json(kind, &row.text(9)?).map_err(|_| bad("request"))?;
        let (filename, tool) = match &work {
            Work::Ingest(r) => (r.filename.clone(), None),
            Work::Tool(r) => (None, Some(r.tool.clone())),
        };
        let result = match opt(17)? {
            Some(text) => Some(serde_json::from_str(&text).map_err(|_| bad("result"))?),
            None => None,
        };
        Ok(Job {
            job_id: row.text(0)?,
            batch_id: row.text(1)?,
            kind,
            tool,
            status: Status::parse(&row.text(2)?).ok_or_else(|| bad("status"))?,
            priority: Priority::from_rank(row.int(3)?),
            step: opt(4)?.as_deref().and_then(Step::parse),
            progress: row.int(5)?.clamp(0, 100) as u8,
            attempts: row.int(6)?.max(0) as u32,
            max_attempts: row.int(7)?.max(0) as u32,
            error: opt(8)?,
            filename,
            document_id: opt(10)?,
            result,
            next_attempt_at: row.int(11)?,
            created_at: row.int(12)?,
            updated_at: row.int(13)?,
            blob_id: opt(14)?,
            tenant: row.text(15)?,
            request_id: opt(18)?,
            work,
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
