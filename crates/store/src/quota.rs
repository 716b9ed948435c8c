//! Per-tenant quotas (the `quotas` setting, capped by the operator's
//! [`Ceiling`](crate::Ceiling)), checked before the work is done: what a
//! tenant holds (documents, stored bytes, chunks, queued jobs) before an
//! upload is stored or queued, and the day's LLM tokens and dollars before a
//! call is sent. Counted from the tables themselves, so no counter can drift
//! from the data; the counts use the tenant's indexes.

use lode_api::{ApiError, ErrorCode};
use serde::Serialize;

use crate::settings::Quotas;
use crate::usage::day;
use crate::{Sql, StoreError, Tenant};

const DAY_MS: i64 = 86_400_000;

/// What a tenant holds, or what a request would add.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Holdings {
    /// Live documents.
    pub documents: u64,
    /// Bytes of every stored version's text and of stored originals.
    pub stored_bytes: u64,
    /// Indexed chunks.
    pub chunks: u64,
    /// Jobs queued or running.
    pub queued_jobs: u64,
}

/// One UTC day's LLM spend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spend {
    /// Input and output tokens.
    pub tokens: u64,
    /// US dollars, at the registry's prices.
    pub usd: f64,
}

/// One quota as `GET /api/usage` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Allowance<T> {
    /// The quota in force.
    pub limit: T,
    /// Used so far.
    pub used: T,
    /// What is left (never negative).
    pub remaining: T,
}

/// Every quota of a tenant with what is used and left.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Allowances {
    /// Live documents.
    pub documents: Allowance<u64>,
    /// Stored bytes.
    pub stored_bytes: Allowance<u64>,
    /// Indexed chunks.
    pub chunks: Allowance<u64>,
    /// Jobs queued or running.
    pub queued_jobs: Allowance<u64>,
    /// Today's (UTC) LLM tokens.
    pub llm_tokens_today: Allowance<u64>,
    /// Today's (UTC) LLM spend in dollars.
    pub llm_usd_today: Allowance<f64>,
    /// When today's LLM allowance starts again (RFC 3339).
    pub llm_resets_at: String,
}

/// The quotas of one tenant.
pub struct Quota<'a, S: Sql> {
    sql: &'a S,
    tenant: &'a Tenant,
    quotas: Quotas,
}

impl<'a, S: Sql> Quota<'a, S> {
    /// `tenant` under `quotas` (already capped by the operator's ceiling).
    pub fn new(sql: &'a S, tenant: &'a Tenant, quotas: Quotas) -> Self {
        Self {
            sql,
            tenant,
            quotas,
        }
    }

    /// `tenant` under its own settings' quotas, capped by the operator's
    /// `ceiling` (the `tenant_ceiling` variable).
    pub async fn in_force(
        sql: &'a S,
        tenant: &'a Tenant,
        ceiling: &crate::Ceiling,
    ) -> Result<Self, ApiError> {
        let settings = crate::Settings::new(sql, tenant).get().await?.settings;
        let (_, quotas) = settings.in_force(ceiling);
        Ok(Self::new(sql, tenant, quotas))
    }

    /// What the tenant holds now.
    pub async fn holdings(&self) -> Result<Holdings, StoreError> {
        let all = Holdings {
            documents: 1,
            stored_bytes: 1,
            chunks: 1,
            queued_jobs: 1,
        };
        self.held(all).await
    }

    /// What the tenant holds of the quotas that `wanted` touches (non-zero
    /// fields); the others read 0 without a query, so a batch submission
    /// never counts the tenant's chunks.
    async fn held(&self, wanted: Holdings) -> Result<Holdings, StoreError> {
        let tenant = self.tenant.as_str();
        let count = async |want: u64, statement: &str| -> Result<u64, StoreError> {
            if want == 0 {
                return Ok(0);
            }
            let rows = self.sql.query(statement, vec![tenant.into()]).await?;
            Ok(rows
                .first()
                .map(|r| r.int(0))
                .transpose()?
                .unwrap_or(0)
                .max(0) as u64)
        };
        let versions = count(
            wanted.stored_bytes,
            "SELECT COALESCE(SUM(v.size_bytes), 0) FROM document_versions v \
             JOIN documents d ON d.id = v.document_id \
             WHERE v.tenant = ? AND d.deleted_at IS NULL",
        )
        .await?;
        let originals = count(
            wanted.stored_bytes,
            "SELECT COALESCE(SUM(size_bytes), 0) FROM blobs WHERE tenant = ?",
        )
        .await?;
        Ok(Holdings {
            documents: count(
                wanted.documents,
                "SELECT COUNT(*) FROM documents WHERE tenant = ? AND deleted_at IS NULL",
            )
            .await?,
            stored_bytes: versions + originals,
            chunks: count(
                wanted.chunks,
                "SELECT COUNT(*) FROM chunks WHERE tenant = ?",
            )
            .await?,
            queued_jobs: count(
                wanted.queued_jobs,
                "SELECT COUNT(*) FROM jobs WHERE tenant = ? AND status IN ('queued', 'processing')",
            )
            .await?,
        })
    }

    /// The tenant's LLM spend on the UTC day of `now`.
    pub async fn spend_today(&self, now: i64) -> Result<Spend, StoreError> {
        let rows = self
            .sql
            .query(
                "SELECT COALESCE(SUM(input_tokens + output_tokens), 0), COALESCE(SUM(cost_usd), 0.0) \
                 FROM llm_usage WHERE tenant = ? AND day = ?",
                vec![self.tenant.as_str().into(), day(now).into()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(Spend::default());
        };
        Ok(Spend {
            tokens: row.int(0)?.max(0) as u64,
            usd: row.real(1)?.max(0.0),
        })
    }

    /// Refuse (`429 quota_exceeded`) unless the tenant can take `adding` on
    /// top of what it holds; only the quotas `adding` touches are checked.
    pub async fn admit(&self, adding: Holdings) -> Result<(), ApiError> {
        let held = self.held(adding).await?;
        let q = &self.quotas;
        for (name, held, adding, limit) in [
            ("documents", held.documents, adding.documents, q.documents),
            (
                "stored_bytes",
                held.stored_bytes,
                adding.stored_bytes,
                q.stored_bytes,
            ),
            ("chunks", held.chunks, adding.chunks, q.chunks),
            (
                "queued_jobs",
                held.queued_jobs,
                adding.queued_jobs,
                q.queued_jobs,
            ),
        ] {
            if adding > 0 && held.saturating_add(adding) > limit {
                return Err(exceeded(format!(
                    "the tenant's quota of {limit} {} is reached ({held} held, {adding} more asked); \
                     delete some or ask for a higher quota",
                    name.replace('_', " ")
                )));
            }
        }
        Ok(())
    }

    /// Refuse (`429 quota_exceeded`, `Retry-After` at the next UTC midnight)
    /// once the day's LLM tokens or dollars reached the tenant's cap.
    pub async fn admit_llm(&self, now: i64) -> Result<(), ApiError> {
        let spent = self.spend_today(now).await?;
        let q = &self.quotas;
        let over = if spent.tokens >= q.llm_tokens_per_day {
            Some(format!("{} LLM tokens", q.llm_tokens_per_day))
        } else if spent.usd >= q.llm_usd_per_day {
            Some(format!("${:.2} of LLM calls", q.llm_usd_per_day))
        } else {
            None
        };
        match over {
            None => Ok(()),
            Some(what) => {
                let wait = ((next_day(now) - now + 999) / 1000).max(1);
                Err(exceeded(format!(
                    "the tenant's daily quota of {what} is used up; it starts again at 00:00 UTC"
                ))
                .with_header("retry-after", wait.to_string()))
            }
        }
    }

    /// Every quota with what is used and left, for `GET /api/usage`.
    pub async fn allowances(&self, now: i64) -> Result<Allowances, ApiError> {
        let held = self.holdings().await?;
        let spent = self.spend_today(now).await?;
        let q = &self.quotas;
        let count = |limit: u64, used: u64| Allowance {
            limit,
            used,
            remaining: limit.saturating_sub(used),
        };
        Ok(Allowances {
            documents: count(q.documents, held.documents),
            stored_bytes: count(q.stored_bytes, held.stored_bytes),
            chunks: count(q.chunks, held.chunks),
            queued_jobs: count(q.queued_jobs, held.queued_jobs),
            llm_tokens_today: count(q.llm_tokens_per_day, spent.tokens),
            llm_usd_today: Allowance {
                limit: q.llm_usd_per_day,
                used: spent.usd,
                remaining: (q.llm_usd_per_day - spent.usd).max(0.0),
            },
            llm_resets_at: crate::ids::rfc3339(next_day(now)),
        })
    }
}

/// The start of the UTC day after `now`.
fn next_day(now: i64) -> i64 {
    (now.div_euclid(DAY_MS) + 1) * DAY_MS
}

fn exceeded(message: String) -> ApiError {
    ApiError::new(ErrorCode::QuotaExceeded, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rusqlite_sql::RusqliteSql;
    use crate::usage::{Call, Usage};
    use crate::{DocumentInput, Documents, migrate};

    fn small() -> Quotas {
        Quotas {
            documents: 2,
            stored_bytes: 1_000,
            chunks: 10,
            queued_jobs: 3,
            llm_tokens_per_day: 100,
            llm_usd_per_day: 0.5,
        }
    }

    #[test]
    fn holdings_are_counted_per_tenant_and_checked_before_adding() {
        let (db, acme, globex) = RusqliteSql::with_two_tenants();
        RusqliteSql::block_on(async {
            for tenant in [&acme, &acme, &globex] {
                Documents::new(&db, tenant)
                    .create(DocumentInput {
                        title: "t".into(),
                        content: "x".repeat(300),
                        content_type: "text/plain".into(),
                        metadata: None,
                    })
                    .await
                    .unwrap();
            }
            let quota = Quota::new(&db, &acme, small());
            let held = quota.holdings().await.unwrap();
            assert_eq!((held.documents, held.stored_bytes), (2, 600));
            let one = Holdings {
                documents: 1,
                ..Holdings::default()
            };
            let e = quota.admit(one).await.unwrap_err();
            assert_eq!((e.status(), e.code.as_str()), (429, "quota_exceeded"));
            assert!(e.message.contains("quota of 2 documents"), "{}", e.message);
            // Globex holds one: it may add one more.
            Quota::new(&db, &globex, small()).admit(one).await.unwrap();
            let bytes = Holdings {
                stored_bytes: 401,
                ..Holdings::default()
            };
            assert!(quota.admit(bytes).await.is_err());
            let allowances = quota.allowances(0).await.unwrap();
            assert_eq!(allowances.stored_bytes.remaining, 400);
            assert_eq!(allowances.documents.remaining, 0);
        });
    }

    #[test]
    fn the_days_llm_spend_is_capped_until_midnight_utc() {
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(migrate(&db)).unwrap();
        let acme = Tenant::parse("acme").unwrap();
        RusqliteSql::block_on(async {
            let quota = Quota::new(&db, &acme, small());
            let noon = 20 * DAY_MS + DAY_MS / 2;
            quota.admit_llm(noon).await.unwrap();
            let call = Call {
                provider: "p",
                model: "m",
                input_tokens: 60,
                output_tokens: 40,
                cost_usd: 0.01,
                failed: false,
            };
            Usage::new(&db, &acme).record(&call, noon).await.unwrap();
            let e = quota.admit_llm(noon).await.unwrap_err();
            assert!(e.message.contains("100 LLM tokens"), "{}", e.message);
            let retry = e.headers.iter().find(|(k, _)| k == "retry-after").unwrap();
            assert_eq!(retry.1, (DAY_MS / 2 / 1000).to_string());
            // The next day starts afresh; dollars are capped too.
            quota.admit_llm(21 * DAY_MS).await.unwrap();
            let dear = Call {
                input_tokens: 1,
                output_tokens: 1,
                cost_usd: 0.6,
                ..call
            };
            Usage::new(&db, &acme)
                .record(&dear, 21 * DAY_MS)
                .await
                .unwrap();
            let e = quota.admit_llm(21 * DAY_MS + 1).await.unwrap_err();
            assert!(e.message.contains("$0.50"), "{}", e.message);
            let a = quota.allowances(21 * DAY_MS + 1).await.unwrap();
            assert_eq!(
                (a.llm_tokens_today.used, a.llm_usd_today.remaining),
                (2, 0.0)
            );
        });
    }
}
