use std::time::Duration;

use lode_store::rusqlite_sql::RusqliteSql;
use lode_store::{Chunking, Tenant};
use serde_json::Map;

use crate::*;

const LEASE: Duration = Duration::from_secs(30);
const STALE: Duration = Duration::from_secs(10);

fn request(name: &str) -> JobRequest {
    JobRequest {
        filename: Some(name.to_string()),
        media_type: Some("text/plain".to_string()),
        url: None,
        title: None,
        metadata: Map::new(),
        chunking: Chunking::default(),
    }
}

fn new_job(name: &str, priority: Priority) -> NewJob {
    NewJob {
        request: request(name).into(),
        priority,
        original: Some(format!("the bytes of {name}").into_bytes()),
    }
}

fn indexed(document_id: &str) -> Outcome<'_> {
    Outcome {
        document_id: Some(document_id),
        result: None,
    }
}

fn setup() -> (RusqliteSql, Tenant, Tenant) {
    RusqliteSql::with_two_tenants()
}

/// One queued normal job of `tenant`, created at `at`; its id.
async fn one_job(db: &RusqliteSql, tenant: &Tenant, at: i64) -> String {
    let (_, created) = Jobs::new(db, tenant)
        .enqueue(vec![new_job("a.txt", Priority::Normal)], 3, at)
        .await
        .unwrap();
    created[0].job_id.clone()
}

#[test]
fn a_batch_is_stored_with_its_originals_and_scoped_to_its_tenant() {
    let (db, acme, globex) = setup();
    RusqliteSql::block_on(async {
        let jobs = Jobs::new(&db, &acme);
        let (batch, created) = jobs
            .enqueue(
                vec![
                    new_job("a.txt", Priority::Normal),
                    new_job("b.txt", Priority::Urgent),
                ],
                3,
                1_000,
            )
            .await
            .unwrap();
        assert_eq!(created.len(), 2);
        assert!(
            created
                .iter()
                .all(|j| j.status == Status::Queued && j.batch_id == batch)
        );
        let a = &created[0];
        assert_eq!(a.filename.as_deref(), Some("a.txt"));
        let blob = a.blob_id.as_deref().unwrap();
        assert_eq!(
            jobs.original(blob).await.unwrap().unwrap(),
            b"the bytes of a.txt"
        );

        let progress = jobs.batch(&batch).await.unwrap().unwrap();
        assert_eq!(
            (progress.total, progress.progress, progress.done),
            (2, 0, false)
        );
        assert_eq!(progress.counts["queued"], 2);
        assert_eq!(jobs.list(Some(Status::Queued), 10).await.unwrap().len(), 2);
        assert!(jobs.list(Some(Status::Dead), 10).await.unwrap().is_empty());

        let other = Jobs::new(&db, &globex);
        assert!(other.get(&a.job_id).await.unwrap().is_none());
        assert!(other.batch(&batch).await.unwrap().is_none());
        assert!(other.original(blob).await.unwrap().is_none());
        assert!(other.events(&a.job_id, 0).await.unwrap().is_none());
    });
}

#[test]
fn only_one_worker_claims_a_job_and_a_lost_lease_stops_the_old_worker() {
    let (db, acme, _) = setup();
    RusqliteSql::block_on(async {
        let id = &one_job(&db, &acme, 1_000).await;
        let queue = Queue::new(&db, LEASE);
        let claimed = queue.claim(id, "w1", 1_000).await.unwrap().unwrap();
        assert_eq!((claimed.status, claimed.attempts), (Status::Processing, 1));
        assert!(
            queue.claim(id, "w2", 1_001).await.unwrap().is_none(),
            "held by w1"
        );
        assert!(
            queue
                .progress(id, "w1", Step::Extract, 2_000)
                .await
                .unwrap()
        );

        // w1 goes silent past its lease; w2 takes over and w1 may write nothing.
        let later = 2_000 + LEASE.as_millis() as i64 + 1;
        let taken = queue.claim(id, "w2", later).await.unwrap().unwrap();
        assert_eq!(taken.attempts, 2);
        assert!(!queue.progress(id, "w1", Step::Chunk, later).await.unwrap());
        assert!(
            !queue
                .complete(&taken, "w1", indexed("doc_x"), later)
                .await
                .unwrap()
        );
        assert!(queue.progress(id, "w2", Step::Embed, later).await.unwrap());
        assert!(
            queue
                .complete(&taken, "w2", indexed("doc_y"), later + 1)
                .await
                .unwrap()
        );
        let done = queue.load(id).await.unwrap().unwrap();
        assert_eq!((done.status, done.progress), (Status::Completed, 100));
        assert_eq!(done.document_id.as_deref(), Some("doc_y"));
        assert!(
            queue
                .claim(id, "w3", later + LEASE.as_millis() as i64 * 2)
                .await
                .unwrap()
                .is_none()
        );
    });
}

#[test]
fn events_are_ordered_and_end_in_the_final_state() {
    let (db, acme, _) = setup();
    RusqliteSql::block_on(async {
        let jobs = Jobs::new(&db, &acme);
        let (_, created) = jobs
            .enqueue(vec![new_job("a.txt", Priority::High)], 3, 1_000)
            .await
            .unwrap();
        let id = &created[0].job_id;
        let queue = Queue::new(&db, LEASE);
        let job = queue.claim(id, "w", 1_000).await.unwrap().unwrap();
        for (i, step) in [Step::Extract, Step::Chunk, Step::Embed, Step::Index]
            .into_iter()
            .enumerate()
        {
            queue
                .progress(id, "w", step, 1_001 + i as i64)
                .await
                .unwrap();
        }
        queue
            .complete(&job, "w", indexed("doc"), 1_010)
            .await
            .unwrap();
        let events = jobs.events(id, 0).await.unwrap().unwrap();
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
        let progress: Vec<u8> = events.iter().map(|e| e.progress).collect();
        assert_eq!(progress, [0, 0, 25, 35, 90, 100, 100]);
        assert_eq!(events.last().unwrap().status, Status::Completed);
        assert_eq!(
            jobs.events(id, 5).await.unwrap().unwrap().len(),
            2,
            "resume after seq 5"
        );
    });
}

#[test]
fn transient_failures_back_off_then_die_and_redrive_revives() {
    let (db, acme, _) = setup();
    RusqliteSql::block_on(async {
        let jobs = Jobs::new(&db, &acme);
        let (_, created) = jobs
            .enqueue(vec![new_job("a.txt", Priority::Normal)], 3, 0)
            .await
            .unwrap();
        let id = &created[0].job_id;
        let queue = Queue::new(&db, LEASE);
        let mut now = 0;
        for attempt in 1..=3 {
            queue.claim(id, "w", now).await.unwrap().expect("due");
            let status = queue
                .fail(id, "w", &Failure::Transient("HTTP 503".into()), now, 1.0)
                .await
                .unwrap()
                .unwrap();
            let job = queue.load(id).await.unwrap().unwrap();
            if attempt < 3 {
                assert_eq!(status, Status::Queued);
                // 2 s, then 4 s: doubled each time.
                let wait = job.next_attempt_at - now;
                assert_eq!(wait, 2_000 << (attempt - 1), "attempt {attempt}");
                assert!(
                    queue
                        .claim(id, "w", now + wait - 1)
                        .await
                        .unwrap()
                        .is_none(),
                    "not due yet"
                );
                now += wait;
            } else {
                assert_eq!(status, Status::Dead);
                assert_eq!(job.error.as_deref(), Some("HTTP 503"));
            }
        }
        assert!(
            queue
                .claim(id, "w", now + 1_000_000)
                .await
                .unwrap()
                .is_none(),
            "dead stays dead"
        );
        assert_eq!(jobs.list(Some(Status::Dead), 10).await.unwrap().len(), 1);
        let revived = jobs.redrive(now).await.unwrap();
        assert_eq!(revived.len(), 1);
        assert_eq!(
            (revived[0].status, revived[0].attempts),
            (Status::Queued, 0)
        );
        assert!(queue.claim(id, "w", now).await.unwrap().is_some());
    });
}

#[test]
fn permanent_failures_fail_at_once_and_retry_requeues_only_finished_jobs() {
    let (db, acme, _) = setup();
    RusqliteSql::block_on(async {
        let jobs = Jobs::new(&db, &acme);
        let (_, created) = jobs
            .enqueue(vec![new_job("bad.pdf", Priority::Normal)], 5, 0)
            .await
            .unwrap();
        let id = &created[0].job_id;
        let queue = Queue::new(&db, LEASE);
        queue.claim(id, "w", 0).await.unwrap().unwrap();
        let status = queue
            .fail(id, "w", &Failure::Permanent("not a PDF".into()), 0, 0.5)
            .await
            .unwrap();
        assert_eq!(status, Some(Status::Failed));
        let retried = jobs.retry(id, 10).await.unwrap().unwrap();
        assert_eq!(retried.status, Status::Queued);
        let err = jobs.retry(id, 10).await.unwrap_err();
        assert_eq!(err.status(), 409, "a queued job cannot be retried");
        assert!(jobs.retry("job_nope", 10).await.unwrap().is_none());
    });
}

#[test]
fn the_sweep_requeues_abandoned_jobs_and_returns_stranded_ones_most_urgent_first() {
    let (db, acme, _) = setup();
    RusqliteSql::block_on(async {
        let jobs = Jobs::new(&db, &acme);
        let (_, created) = jobs
            .enqueue(
                vec![
                    new_job("low", Priority::Low),
                    new_job("urgent", Priority::Urgent),
                    new_job("crashed", Priority::Normal),
                ],
                2,
                0,
            )
            .await
            .unwrap();
        let queue = Queue::new(&db, LEASE);
        let crashed = &created[2].job_id;
        queue
            .claim(crashed, "dead-worker", 0)
            .await
            .unwrap()
            .unwrap();

        assert!(
            queue.sweep(1_000, STALE, 100).await.unwrap().is_empty(),
            "nothing is stale yet"
        );
        let now = LEASE.as_millis() as i64 + 1;
        let swept = queue.sweep(now, STALE, 100).await.unwrap();
        let order: Vec<(&str, Priority)> = swept
            .iter()
            .map(|s| {
                let name = created.iter().find(|j| j.job_id == s.job_id).unwrap();
                (name.filename.as_deref().unwrap(), s.priority)
            })
            .collect();
        assert_eq!(
            order,
            [
                ("urgent", Priority::Urgent),
                ("crashed", Priority::Normal),
                ("low", Priority::Low)
            ]
        );
        assert!(
            queue.sweep(now + 1, STALE, 100).await.unwrap().is_empty(),
            "touched jobs wait"
        );

        // The crashed job's second (last) attempt also dies mid-way: dead.
        queue.claim(crashed, "w2", now).await.unwrap().unwrap();
        let later = now + LEASE.as_millis() as i64 + 1;
        queue.sweep(later, STALE, 100).await.unwrap();
        let job = queue.load(crashed).await.unwrap().unwrap();
        assert_eq!(job.status, Status::Dead);
        assert!(job.error.unwrap().contains("worker stopped"));
    });
}

#[test]
fn tool_jobs_report_partial_progress_keep_their_result_and_have_their_own_channel() {
    let (db, acme, _) = setup();
    RusqliteSql::block_on(async {
        let jobs = Jobs::new(&db, &acme);
        let tool = ToolRequest {
            tool: "summarize".into(),
            document: Some(("doc_1".into(), 2)),
            input: Map::new(),
            model: None,
            strategy: Some("cost".into()),
            cache_key: Some("k".into()),
        };
        let (_, created) = jobs
            .enqueue(
                vec![NewJob {
                    request: tool.clone().into(),
                    priority: Priority::Low,
                    original: None,
                }],
                3,
                1_000,
            )
            .await
            .unwrap();
        let job = &created[0];
        assert_eq!(
            (job.kind, job.tool.as_deref()),
            (Kind::Tool, Some("summarize"))
        );
        assert_eq!(job.channel(), "lode-tools-low");
        assert_eq!(job.work, Work::Tool(tool));

        // A lost wake-up is swept onto the tool channel, not the ingestion one.
        let queue = Queue::new(&db, LEASE);
        let swept = queue.sweep(1_000 + 60_000, STALE, 10).await.unwrap();
        assert_eq!(swept.len(), 1);
        assert_eq!(swept[0].channel(), "lode-tools-low");

        let claimed = queue
            .claim(&job.job_id, "w", 70_000)
            .await
            .unwrap()
            .unwrap();
        assert!(
            queue
                .progress_at(&job.job_id, "w", Step::Map, 40, 70_001)
                .await
                .unwrap()
        );
        assert!(
            queue
                .progress(&job.job_id, "w", Step::Reduce, 70_002)
                .await
                .unwrap()
        );
        let result = serde_json::json!({"tool": "summarize", "result": {"summary": "s"}});
        let outcome = Outcome {
            document_id: Some("doc_1"),
            result: Some(&result),
        };
        assert!(
            queue
                .complete(&claimed, "w", outcome, 70_003)
                .await
                .unwrap()
        );
        let done = jobs.get(&job.job_id).await.unwrap().unwrap();
        assert_eq!(done.status, Status::Completed);
        assert_eq!(done.step, Some(Step::Store));
        assert_eq!(done.result, Some(result));
        let progress: Vec<u8> = jobs
            .events(&job.job_id, 0)
            .await
            .unwrap()
            .unwrap()
            .iter()
            .map(|e| e.progress)
            .collect();
        assert_eq!(progress, [0, 0, 40, 95, 100]);
    });
}

#[test]
fn wake_ups_serve_tenants_in_turn_and_every_job_exactly_once() {
    let (db, acme, globex) = setup();
    RusqliteSql::block_on(async {
        // acme queues 200 files, then globex 2: 202 wake-ups in that order.
        let mut hints = Vec::new();
        for (tenant, n, at) in [(&acme, 200, 1_000), (&globex, 2, 2_000)] {
            let jobs = (0..n)
                .map(|i| new_job(&format!("{i}.txt"), Priority::Normal))
                .collect();
            let (_, created) = Jobs::new(&db, tenant).enqueue(jobs, 3, at).await.unwrap();
            hints.extend(created.into_iter().map(|j| j.job_id));
        }
        // An urgent job is not anyone's turn at normal priority.
        let (_, urgent) = Jobs::new(&db, &acme)
            .enqueue(vec![new_job("u.txt", Priority::Urgent)], 3, 1_500)
            .await
            .unwrap();
        let queue = Queue::new(&db, LEASE);
        let mut order = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for hint in &hints {
            let job = queue.claim_next(hint, "w", 3_000).await.unwrap().unwrap();
            assert_eq!(job.priority, Priority::Normal);
            assert!(seen.insert(job.job_id.clone()), "claimed twice");
            assert!(
                queue
                    .complete(&job, "w", indexed("d"), 3_000)
                    .await
                    .unwrap()
            );
            order.push(job.tenant);
        }
        // globex's two files ran second and fourth, not after acme's 200.
        let globex_at: Vec<usize> = (0..order.len()).filter(|&i| order[i] == "globex").collect();
        assert_eq!(globex_at, vec![1, 3]);
        assert_eq!(seen.len(), 202);
        // A duplicate wake-up finds nothing left at its priority.
        assert!(
            queue
                .claim_next(&hints[0], "w", 3_000)
                .await
                .unwrap()
                .is_none()
        );
        // The urgent job waits for its own wake-up.
        let job = queue
            .claim_next(&urgent[0].job_id, "w", 3_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.job_id, urgent[0].job_id);
    });
}

#[test]
fn a_wake_up_takes_over_its_own_job_only_when_the_lease_expired() {
    let (db, acme, _) = setup();
    RusqliteSql::block_on(async {
        let id = &one_job(&db, &acme, 1_000).await;
        let queue = Queue::new(&db, LEASE);
        assert!(queue.claim_next(id, "w1", 1_000).await.unwrap().is_some());
        let lease = LEASE.as_millis() as i64;
        assert!(
            queue
                .claim_next(id, "w2", 1_000 + lease)
                .await
                .unwrap()
                .is_none()
        );
        let job = queue
            .claim_next(id, "w2", 1_001 + lease)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.attempts, 2, "a take-over counts the attempt");
        assert!(
            queue
                .claim_next("job_nonesuch", "w3", 1_000)
                .await
                .unwrap()
                .is_none()
        );
    });
}

#[test]
fn renewing_inside_a_long_step_keeps_the_job_from_a_second_worker() {
    let (db, acme, _) = setup();
    RusqliteSql::block_on(async {
        let id = &one_job(&db, &acme, 0).await;
        let queue = Queue::new(&db, LEASE);
        let lease = LEASE.as_millis() as i64;
        assert!(queue.claim_next(id, "w1", 0).await.unwrap().is_some());
        // w1 embeds for three leases, renewing after each slice.
        for t in (1..=3).map(|k| k * lease - 1) {
            queue.renew(id, "w1", t).await.unwrap();
            assert!(queue.claim_next(id, "w2", t + 1).await.unwrap().is_none());
            assert!(queue.sweep(t + 1, STALE, 10).await.unwrap().is_empty());
        }
        // w1 goes silent: w2 takes over, and w1's next renewal fails.
        let late = 4 * lease;
        let job = queue.claim_next(id, "w2", late).await.unwrap().unwrap();
        assert_eq!(job.attempts, 2);
        assert!(queue.renew(id, "w1", late).await.is_err());
        queue.renew(id, "w2", late).await.unwrap();
    });
}
