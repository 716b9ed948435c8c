//! Per-tenant settings: the defaults a tenant's requests start from (today:
//! how documents are chunked). Precedence is request > tenant > built-in.
//!
//! Stored as one validated JSON object per tenant, so adding a setting needs
//! no migration; unknown fields are refused, so a typo never passes silently.

use lode_api::{ApiError, query};
use lode_ratelimit::Limits;
use serde::{Deserialize, Serialize};

use crate::ids::{now_ms, rfc3339};
use crate::{Sql, Tenant};

/// The model's window is 256 wordpieces; [CLS] and [SEP] take two.
pub const MAX_CHUNK_TOKENS: u32 = 254;
/// Smaller chunks carry too little context to embed meaningfully.
pub const MIN_CHUNK_TOKENS: u32 = 16;
/// Beyond half, consecutive chunks would be mostly the same text.
pub const MAX_CHUNK_OVERLAP: f64 = 0.5;

/// How documents are split before embedding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chunking {
    /// Target tokens per chunk (the model's own tokenizer).
    pub target_tokens: u32,
    /// Share of the target repeated at the start of the next chunk.
    pub overlap: f64,
}

impl Default for Chunking {
    /// ~200 tokens with 15% overlap: a paragraph or two, well inside the window.
    fn default() -> Self {
        Chunking {
            target_tokens: 200,
            overlap: 0.15,
        }
    }
}

impl Chunking {
    /// Refuse values outside the model's window or the overlap range.
    pub fn validate(self) -> Result<Self, ApiError> {
        if !(MIN_CHUNK_TOKENS..=MAX_CHUNK_TOKENS).contains(&self.target_tokens) {
            return Err(ApiError::invalid(format!(
                "chunk target_tokens must be {MIN_CHUNK_TOKENS}-{MAX_CHUNK_TOKENS}"
            )));
        }
        if !(0.0..=MAX_CHUNK_OVERLAP).contains(&self.overlap) {
            return Err(ApiError::invalid(format!(
                "chunk overlap must be 0-{MAX_CHUNK_OVERLAP}"
            )));
        }
        Ok(self)
    }

    /// `self` overridden by `?chunk_tokens=&chunk_overlap=` in `query_string`
    /// (other parameters are the caller's to check).
    pub fn with_query(self, query_string: &str) -> Result<Self, ApiError> {
        let mut c = self;
        for (k, v) in query::pairs(query_string) {
            let bad = || ApiError::invalid(format!("{k} {v:?} is not a number"));
            match k.as_str() {
                "chunk_tokens" => c.target_tokens = v.parse().map_err(|_| bad())?,
                "chunk_overlap" => c.overlap = v.parse().map_err(|_| bad())?,
                _ => {}
            }
        }
        c.validate()
    }
}

/// What a tenant may hold and spend. Checked before the work is done: an
/// upload over a quota is refused before anything is stored, an LLM call
/// once the day's spend reached the cap is refused before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    /// Live documents.
    pub documents: u64,
    /// Bytes of document text and of stored originals awaiting ingestion.
    pub stored_bytes: u64,
    /// Indexed chunks.
    pub chunks: u64,
    /// Jobs queued or running.
    pub queued_jobs: u64,
    /// LLM tokens (input and output) per UTC day.
    pub llm_tokens_per_day: u64,
    /// LLM spend per UTC day, in US dollars (the registry's prices).
    pub llm_usd_per_day: f64,
}

impl Default for Quotas {
    /// Generous for one team; the operator's ceiling defaults to the same.
    fn default() -> Self {
        Quotas {
            documents: 100_000,
            stored_bytes: 10 << 30,
            chunks: 2_000_000,
            queued_jobs: 10_000,
            llm_tokens_per_day: 5_000_000,
            llm_usd_per_day: 50.0,
        }
    }
}

impl Quotas {
    fn counts(&self) -> [(&'static str, u64); 5] {
        [
            ("documents", self.documents),
            ("stored_bytes", self.stored_bytes),
            ("chunks", self.chunks),
            ("queued_jobs", self.queued_jobs),
            ("llm_tokens_per_day", self.llm_tokens_per_day),
        ]
    }

    /// A finite, non-negative spend cap (zero is allowed: no LLM spend).
    pub fn validate(self) -> Result<Self, ApiError> {
        if !(self.llm_usd_per_day.is_finite() && self.llm_usd_per_day >= 0.0) {
            return Err(ApiError::invalid(
                "quotas.llm_usd_per_day must be a number of dollars, 0 or more",
            ));
        }
        Ok(self)
    }

    /// Refuse any quota above the operator's `ceiling`.
    pub fn within(self, ceiling: &Quotas) -> Result<Self, ApiError> {
        for ((name, v), (_, max)) in self.counts().into_iter().zip(ceiling.counts()) {
            if v > max {
                return Err(ApiError::invalid(format!(
                    "quotas.{name} may be at most {max} (the operator's ceiling)"
                )));
            }
        }
        if self.llm_usd_per_day > ceiling.llm_usd_per_day {
            return Err(ApiError::invalid(format!(
                "quotas.llm_usd_per_day may be at most {} (the operator's ceiling)",
                ceiling.llm_usd_per_day
            )));
        }
        Ok(self)
    }

    /// Each quota, no higher than the operator's `ceiling`.
    pub fn capped(self, ceiling: &Quotas) -> Quotas {
        Quotas {
            documents: self.documents.min(ceiling.documents),
            stored_bytes: self.stored_bytes.min(ceiling.stored_bytes),
            chunks: self.chunks.min(ceiling.chunks),
            queued_jobs: self.queued_jobs.min(ceiling.queued_jobs),
            llm_tokens_per_day: self.llm_tokens_per_day.min(ceiling.llm_tokens_per_day),
            llm_usd_per_day: self.llm_usd_per_day.min(ceiling.llm_usd_per_day),
        }
    }
}

/// The operator's ceiling over every tenant's `rate_limits` and `quotas`
/// (the `tenant_ceiling` Spin variable, JSON of the same shape): a tenant
/// admin cannot set more, and a ceiling lowered later also caps settings
/// chosen before.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ceiling {
    /// The highest rates.
    pub rate_limits: Limits,
    /// The highest quotas.
    pub quotas: Quotas,
}

impl Default for Ceiling {
    fn default() -> Self {
        Ceiling {
            rate_limits: Limits::CEILING,
            quotas: Quotas::default(),
        }
    }
}

impl Ceiling {
    /// The operator's JSON (`{}` or empty: the defaults). Fields left out
    /// keep their default ceiling, field by field.
    pub fn parse(text: &str) -> Result<Ceiling, String> {
        let mut merged = serde_json::to_value(Ceiling::default()).map_err(|e| e.to_string())?;
        if !text.trim().is_empty() {
            let given: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("tenant_ceiling: {e}"))?;
            let serde_json::Value::Object(given) = given else {
                return Err("tenant_ceiling must be a JSON object".into());
            };
            for (section, fields) in given {
                let (Some(slot), serde_json::Value::Object(fields)) =
                    (merged.get_mut(&section), fields)
                else {
                    return Err(format!("tenant_ceiling: unknown or malformed {section:?}"));
                };
                for (k, v) in fields {
                    slot[k] = v;
                }
            }
        }
        let ceiling: Ceiling =
            serde_json::from_value(merged).map_err(|e| format!("tenant_ceiling: {e}"))?;
        ceiling
            .rate_limits
            .validate()
            .map_err(|e| format!("tenant_ceiling: {e}"))?;
        ceiling
            .quotas
            .validate()
            .map_err(|e| format!("tenant_ceiling: {}", e.message))?;
        Ok(ceiling)
    }
}

/// A tenant's settings; every field has a built-in default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantSettings {
    /// Chunking of new and updated documents.
    pub chunking: Chunking,
    /// Requests per minute per key and per tenant, per budget (`lode-ratelimit`).
    pub rate_limits: Limits,
    /// What the tenant may hold and spend.
    pub quotas: Quotas,
}

impl TenantSettings {
    /// Refuse out-of-range values, and any above the operator's `ceiling`.
    pub fn validate(self, ceiling: &Ceiling) -> Result<Self, ApiError> {
        self.chunking.validate()?;
        self.rate_limits
            .validate()
            .and_then(|l| l.within(&ceiling.rate_limits))
            .map_err(ApiError::invalid)?;
        self.quotas.validate()?.within(&ceiling.quotas)?;
        Ok(self)
    }

    /// The rates and quotas in force: the tenant's, capped by `ceiling`.
    pub fn in_force(&self, ceiling: &Ceiling) -> (Limits, Quotas) {
        (
            self.rate_limits.capped(&ceiling.rate_limits),
            self.quotas.capped(&ceiling.quotas),
        )
    }
}

/// The settings as stored and when they last changed.
#[derive(Debug, Clone, Serialize)]
pub struct StoredSettings {
    /// The settings in effect.
    #[serde(flatten)]
    pub settings: TenantSettings,
    /// When they were last written (RFC 3339); `null` while all are defaults.
    pub updated_at: Option<String>,
}

/// The settings of one tenant.
pub struct Settings<'a, S: Sql> {
    sql: &'a S,
    tenant: &'a Tenant,
}

impl<'a, S: Sql> Settings<'a, S> {
    /// The settings store of `tenant`.
    pub fn new(sql: &'a S, tenant: &'a Tenant) -> Self {
        Self { sql, tenant }
    }

    /// The settings in effect: the stored ones, or the defaults.
    pub async fn get(&self) -> Result<StoredSettings, ApiError> {
        let rows = self
            .sql
            .query(
                "SELECT settings, updated_at FROM tenant_settings WHERE tenant = ?",
                vec![self.tenant.as_str().into()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(StoredSettings {
                settings: TenantSettings::default(),
                updated_at: None,
            });
        };
        let settings = serde_json::from_str(&row.text(0)?).map_err(|e| {
            ApiError::internal_because(format!(
                "tenant_settings of {} unreadable: {e}",
                self.tenant.as_str()
            ))
        })?;
        Ok(StoredSettings {
            settings,
            updated_at: Some(rfc3339(row.int(1)?)),
        })
    }

    /// Replace the settings with `settings`, validated against `ceiling`.
    pub async fn put(
        &self,
        settings: TenantSettings,
        ceiling: &Ceiling,
    ) -> Result<StoredSettings, ApiError> {
        let settings = settings.validate(ceiling)?;
        let now = now_ms();
        let json = serde_json::to_string(&settings).map_err(|_| ApiError::internal())?;
        self.sql
            .execute(
                "INSERT INTO tenant_settings (tenant, settings, updated_at) VALUES (?, ?, ?) \
                 ON CONFLICT (tenant) DO UPDATE SET settings = excluded.settings, \
                 updated_at = excluded.updated_at",
                vec![self.tenant.as_str().into(), json.into(), now.into()],
            )
            .await?;
        Ok(StoredSettings {
            settings,
            updated_at: Some(rfc3339(now)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rusqlite_sql::RusqliteSql;

    #[test]
    fn defaults_until_put_and_per_tenant() {
        let (db, acme, globex) = RusqliteSql::with_two_tenants();
        RusqliteSql::block_on(async {
            let s = Settings::new(&db, &acme);
            let first = s.get().await.unwrap();
            assert_eq!(first.settings, TenantSettings::default());
            assert!(first.updated_at.is_none());
            let small = TenantSettings {
                chunking: Chunking {
                    target_tokens: 64,
                    overlap: 0.0,
                },
                ..TenantSettings::default()
            };
            s.put(small.clone(), &Ceiling::default()).await.unwrap();
            assert_eq!(s.get().await.unwrap().settings, small);
            let again = TenantSettings::default();
            s.put(again.clone(), &Ceiling::default()).await.unwrap();
            assert_eq!(s.get().await.unwrap().settings, again);
            s.put(small.clone(), &Ceiling::default()).await.unwrap();
            let other = Settings::new(&db, &globex).get().await.unwrap();
            assert_eq!(other.settings, TenantSettings::default());
        });
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for (tokens, overlap) in [(8, 0.1), (255, 0.1), (100, -0.1), (100, 0.6)] {
            let c = Chunking {
                target_tokens: tokens,
                overlap,
            };
            assert!(c.validate().is_err(), "{tokens} {overlap}");
        }
        assert!(
            serde_json::from_str::<TenantSettings>(r#"{"chunkin":{}}"#).is_err(),
            "unknown fields are refused"
        );
        let partial: TenantSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(partial, TenantSettings::default());
    }

    #[test]
    fn the_query_overrides_the_tenant_defaults() {
        let base = Chunking {
            target_tokens: 64,
            overlap: 0.0,
        };
        assert_eq!(
            base.with_query("chunk_tokens=100").unwrap().target_tokens,
            100
        );
        assert_eq!(base.with_query("chunk_tokens=100").unwrap().overlap, 0.0);
        assert_eq!(base.with_query("title=x").unwrap(), base);
        assert!(base.with_query("chunk_tokens=1000").is_err());
        assert!(base.with_query("chunk_overlap=lots").is_err());
    }
}

#[cfg(test)]
mod ceiling_tests {
    use super::*;

    #[test]
    fn the_operators_ceiling_merges_field_by_field_and_bounds_settings() {
        let ceiling =
            Ceiling::parse(r#"{"quotas":{"documents":50},"rate_limits":{"llm_per_minute":10}}"#)
                .unwrap();
        assert_eq!(ceiling.quotas.documents, 50);
        assert_eq!(ceiling.quotas.chunks, Quotas::default().chunks);
        assert_eq!(ceiling.rate_limits.llm_per_minute, 10);
        assert_eq!(
            ceiling.rate_limits.api_per_minute,
            Limits::CEILING.api_per_minute
        );
        assert_eq!(Ceiling::parse("").unwrap(), Ceiling::default());
        assert_eq!(Ceiling::parse("{}").unwrap(), Ceiling::default());
        for bad in [r#"{"quota":{}}"#, r#"{"quotas":{"document":1}}"#, "[]", "{"] {
            assert!(Ceiling::parse(bad).is_err(), "{bad}");
        }
        // Defaults are within the ceiling; more is refused; a ceiling lowered
        // after the tenant chose its settings still caps them.
        let defaults = TenantSettings::default();
        let err = defaults.clone().validate(&ceiling).unwrap_err();
        assert!(err.message.contains("at most"), "{}", err.message);
        let (limits, quotas) = defaults.in_force(&ceiling);
        assert_eq!((limits.llm_per_minute, quotas.documents), (10, 50));
        assert!(defaults.validate(&Ceiling::default()).is_ok());
        let negative = TenantSettings {
            quotas: Quotas {
                llm_usd_per_day: -1.0,
                ..Quotas::default()
            },
            ..TenantSettings::default()
        };
        assert!(negative.validate(&Ceiling::default()).is_err());
    }
}
