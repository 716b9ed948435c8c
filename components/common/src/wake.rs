//! Wake a worker for a job: publish its id on the channel of its kind and
//! priority (`redis_url` variable). Only a wake-up: the job is already durable in
//! SQL, so a failed publish is logged and left to the sweeper.

/// Publish `job_id` on `channel` (`Job::channel`); `false` if it could not be sent.
pub async fn wake(job_id: &str, channel: String) -> bool {
    let result = async {
        let url = crate::optional_variable("redis_url")
            .await
            .ok_or("variable redis_url is unavailable")?;
        let connection = spin_sdk::redis::Connection::open(&url)
            .await
            .map_err(|e| format!("connecting to Redis: {e:?}"))?;
        connection
            .publish(channel, job_id.as_bytes())
            .await
            .map_err(|e| format!("publishing: {e:?}"))
    }
    .await;
    match result {
        Ok(()) => true,
        Err(e) => {
            crate::log_error!("job {job_id}: wake-up not sent ({e}); the sweeper will publish it");
            false
        }
    }
}
