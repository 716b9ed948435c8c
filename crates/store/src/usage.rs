//! LLM tokens and cost per tenant: every provider call is counted (a failed
//! one too, so a flapping provider shows), by UTC day, provider and model.

use lode_api::ApiError;
use serde::Serialize;

use crate::{Sql, Tenant};

/// One provider call to count.
#[derive(Debug, Clone, PartialEq)]
pub struct Call<'a> {
    /// The provider's registry name.
    pub provider: &'a str,
    /// Lode's model name.
    pub model: &'a str,
    /// Prompt tokens (as the provider counted them).
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// US dollars, from the registry's prices.
    pub cost_usd: f64,
    /// The call failed (no tokens were billed, or we do not know).
    pub failed: bool,
}

/// Totals over a period, and per (day, provider, model).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageReport {
    /// First day included (`YYYY-MM-DD`, UTC).
    pub from: String,
    /// Last day included.
    pub to: String,
    /// Calls made.
    pub requests: i64,
    /// Calls that failed.
    pub failures: i64,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Generated tokens.
    pub output_tokens: i64,
    /// US dollars.
    pub cost_usd: f64,
    /// The rows behind the totals.
    pub data: Vec<UsageRow>,
}

/// One day's use of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageRow {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// The provider.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Calls made.
    pub requests: i64,
    /// Calls that failed.
    pub failures: i64,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Generated tokens.
    pub output_tokens: i64,
    /// US dollars.
    pub cost_usd: f64,
}

/// The LLM usage of one tenant.
pub struct Usage<'a, S: Sql> {
    sql: &'a S,
    tenant: &'a Tenant,
}

/// The UTC day of a millisecond timestamp, `YYYY-MM-DD`.
pub fn day(ms: i64) -> String {
    crate::ids::rfc3339(ms).chars().take(10).collect()
}

impl<'a, S: Sql> Usage<'a, S> {
    /// The usage of `tenant`.
    pub fn new(sql: &'a S, tenant: &'a Tenant) -> Self {
        Self { sql, tenant }
    }

    /// Count one call at `now`.
    pub async fn record(&self, call: &Call<'_>, now: i64) -> Result<(), ApiError> {
        self.sql
            .execute(
                "INSERT INTO llm_usage (tenant, day, provider, model, requests, failures, input_tokens, output_tokens, cost_usd) \
                 VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?) \
                 ON CONFLICT (tenant, day, provider, model) DO UPDATE SET \
                 requests = requests + 1, failures = failures + excluded.failures, \
                 input_tokens = input_tokens + excluded.input_tokens, \
                 output_tokens = output_tokens + excluded.output_tokens, \
                 cost_usd = cost_usd + excluded.cost_usd",
                vec![
                    self.tenant.as_str().into(),
                    day(now).into(),
                    call.provider.into(),
                    call.model.into(),
                    i64::from(call.failed).into(),
                    (call.input_tokens as i64).into(),
                    (call.output_tokens as i64).into(),
                    crate::Value::Real(call.cost_usd),
                ],
            )
            .await?;
        Ok(())
    }

    /// Use between the days `from` and `to` (inclusive, `YYYY-MM-DD`).
    pub async fn report(&self, from: &str, to: &str) -> Result<UsageReport, ApiError> {
        let rows = self
            .sql
            .query(
                "SELECT day, provider, model, requests, failures, input_tokens, output_tokens, cost_usd \
                 FROM llm_usage WHERE tenant = ? AND day >= ? AND day <= ? ORDER BY day, provider, model",
                vec![self.tenant.as_str().into(), from.into(), to.into()],
            )
            .await?;
        let mut report = UsageReport {
            from: from.to_string(),
            to: to.to_string(),
            requests: 0,
            failures: 0,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            data: Vec::with_capacity(rows.len()),
        };
        for r in rows {
            let row = UsageRow {
                day: r.text(0)?,
                provider: r.text(1)?,
                model: r.text(2)?,
                requests: r.int(3)?,
                failures: r.int(4)?,
                input_tokens: r.int(5)?,
                output_tokens: r.int(6)?,
                cost_usd: r.real(7)?,
            };
            report.requests += row.requests;
            report.failures += row.failures;
            report.input_tokens += row.input_tokens;
            report.output_tokens += row.output_tokens;
            report.cost_usd += row.cost_usd;
            report.data.push(row);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate;
    use crate::rusqlite_sql::RusqliteSql;

    #[test]
    fn calls_add_up_per_day_and_model_and_stay_in_their_tenant() {
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(migrate(&db)).unwrap();
        let (acme, globex) = (
            Tenant::parse("acme").unwrap(),
            Tenant::parse("globex").unwrap(),
        );
        let day1 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        RusqliteSql::block_on(async {
            let u = Usage::new(&db, &acme);
            let call = |failed, input, output| Call {
                provider: "local",
                model: "tiny",
                input_tokens: input,
                output_tokens: output,
                cost_usd: (input + output) as f64 * 0.001,
                failed,
            };
            u.record(&call(false, 100, 20), day1).await.unwrap();
            u.record(&call(false, 50, 10), day1 + 3_600_000)
                .await
                .unwrap();
            u.record(&call(true, 0, 0), day1 + 86_400_000)
                .await
                .unwrap();
            let r = u.report("2026-01-01", "2026-01-02").await.unwrap();
            assert_eq!(
                (r.requests, r.failures, r.input_tokens, r.output_tokens),
                (3, 1, 150, 30)
            );
            assert!((r.cost_usd - 0.18).abs() < 1e-9);
            assert_eq!(r.data.len(), 2);
            assert_eq!(r.data[0].day, "2026-01-01");
            assert_eq!(r.data[0].requests, 2);
            assert_eq!(
                u.report("2026-01-02", "2026-01-02").await.unwrap().requests,
                1
            );
            assert_eq!(
                Usage::new(&db, &globex)
                    .report("2026-01-01", "2026-12-31")
                    .await
                    .unwrap()
                    .requests,
                0
            );
        });
    }
}
