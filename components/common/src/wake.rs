//! Wake a worker for a job: publish its id on the channel of its kind and
//! priority (`redis_url` variable). Only a wake-up: the job is already durable in
//! SQL, so a failed publish is logged and left to the sweeper.

use lode_capabilities::Publish;

/// Publish `job_id` on `channel` (`Job::channel`); `false` if it could not be sent.
pub async fn wake(job_id: &str, channel: String) -> bool {
    match crate::SpinHost.publish(&channel, job_id.as_bytes()).await {
        Ok(()) => true,
        Err(e) => {
            crate::log_error!("job {job_id}: wake-up not sent ({e}); the sweeper will publish it");
            false
        }
    }
}
