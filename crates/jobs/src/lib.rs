//! Durable background jobs (ingestion, and long LLM tool runs): the `jobs` table is the source of truth, and a
//! Redis message is only a wake-up call carrying a job id (Redis pub/sub
//! drops messages nobody listens to, so it cannot be the queue).
//!
//! A job moves `queued → processing → completed | failed | dead`:
//! - a worker **claims** it with one conditional `UPDATE` (queued and due, or
//!   processing with an expired lease), so two workers never run it together;
//! - **progress** and the outcome are written only by the lease holder, so a
//!   worker that lost its lease cannot overwrite its successor's work;
//! - a **transient** failure re-queues it with exponential backoff and jitter
//!   until `max_attempts`, then it is `dead`; a **permanent** one fails it;
//! - the **sweeper** finds jobs whose wake-up was lost or whose worker died,
//!   highest priority first, for the caller to publish again.
//!
//! Every change appends a row to `job_events`, which the progress stream reads.

mod model;
mod queue;
mod tenant;

pub use model::{Job, JobEvent, JobRequest, Kind, Priority, Status, Step, ToolRequest, Work};
pub use queue::{Failure, Outcome, Queue, Swept};
pub use tenant::{BatchProgress, Jobs, NewJob};

/// How long a worker holds a job after each claim or progress report; a job
/// silent for longer is presumed abandoned (the worker died) and re-queued
/// by the sweep. Generous: one step of a large PDF may take minutes.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(300);

#[cfg(test)]
mod tests;
