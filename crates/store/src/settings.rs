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

/// A tenant's settings; every field has a built-in default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantSettings {
    /// Chunking of new and updated documents.
    pub chunking: Chunking,
    /// Requests per minute per key, per budget (`lode-ratelimit`).
    pub rate_limits: Limits,
}

impl TenantSettings {
    /// Refuse out-of-range values.
    pub fn validate(self) -> Result<Self, ApiError> {
        self.chunking.validate()?;
        self.rate_limits.validate().map_err(ApiError::invalid)?;
        Ok(self)
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

    /// Replace the settings with validated `settings`.
    pub async fn put(&self, settings: TenantSettings) -> Result<StoredSettings, ApiError> {
        let settings = settings.validate()?;
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
    use crate::migrate;
    use crate::rusqlite_sql::RusqliteSql;

    #[test]
    fn defaults_until_put_and_per_tenant() {
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(migrate(&db)).unwrap();
        let (acme, globex) = (
            Tenant::parse("acme").unwrap(),
            Tenant::parse("globex").unwrap(),
        );
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
            s.put(small.clone()).await.unwrap();
            assert_eq!(s.get().await.unwrap().settings, small);
            let again = TenantSettings::default();
            s.put(again.clone()).await.unwrap();
            assert_eq!(s.get().await.unwrap().settings, again);
            s.put(small.clone()).await.unwrap();
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
