//! The full-text side of the index, with statistics per tenant.
//!
//! Each chunk's terms (`crate::analyze`) are kept in `chunks.terms` and
//! indexed in the contentless FTS5 table `chunk_terms` prefixed by the
//! tenant (`acme:flow`), so a search walks only the tenant's postings and
//! FTS5 ranks candidates by the tenant's document frequencies. `fts_stats`
//! holds each tenant's chunk and term counts and `fts_terms` its document
//! frequencies, kept as chunks come and go. A search asks FTS5 for the best
//! candidates of the tenant, then scores them in Lode with the tenant's
//! statistics only ([`crate::bm25`]): what another tenant stores never
//! moves a tenant's scores.

use std::collections::HashMap;

use lode_store::sql::transaction;
use lode_store::{Sql, StoreError, Tenant, Value};

use super::{Index, document_filter};
use crate::bm25::Collection;
use crate::{Hit, analyze};

/// Chunks indexed before terms were kept are analysed at most this many at
/// a time by a search of their tenant (the sweep does the rest).
pub const BACKFILL_BATCH: u32 = 500;

/// Analyse up to `limit` chunks stored before terms were kept, whatever
/// their tenant: the sweep's share of an upgrade past migration 13, so the
/// index is complete within minutes even if nobody searches. How many.
pub async fn analyze_any_pending<S: Sql>(sql: &S, limit: u32) -> Result<usize, StoreError> {
    let rows = sql
        .query(
            "SELECT DISTINCT tenant FROM chunks WHERE terms IS NULL LIMIT 16",
            vec![],
        )
        .await?;
    let mut done = 0;
    for row in rows {
        let left = limit.saturating_sub(done as u32);
        if left == 0 {
            break;
        }
        let tenant = Tenant::parse(&row.text(0)?)
            .map_err(|e| StoreError::Decode(format!("chunks.tenant: {}", e.message)))?;
        done += Index::new(sql, &tenant, "").analyze_pending(left).await?;
    }
    Ok(done)
}

/// Query terms looked up in one statement.
const TERMS_PER_LOOKUP: usize = 100;

impl<S: Sql> Index<'_, S> {
    /// `tenant:term` for each term: what `chunk_terms` holds.
    fn prefixed(&self, terms: &str) -> String {
        let tenant = self.tenant.as_str();
        terms
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(|t| format!("{tenant}:{t}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Index chunk `id`'s `text`: its terms, the FTS5 row, the statistics.
    pub(super) async fn add_terms(&self, id: i64, text: &str) -> Result<(), StoreError> {
        let terms = analyze::terms(text);
        let joined = terms.join(" ");
        self.sql
            .execute(
                "UPDATE chunks SET terms = ?, term_count = ? WHERE id = ?",
                vec![
                    joined.as_str().into(),
                    (terms.len() as i64).into(),
                    id.into(),
                ],
            )
            .await?;
        self.sql
            .execute(
                "INSERT INTO chunk_terms (rowid, terms) VALUES (?, ?)",
                vec![id.into(), self.prefixed(&joined).into()],
            )
            .await?;
        self.count_terms(&joined, 1).await?;
        self.count(1, terms.len() as i64).await
    }

    /// Add `delta` to the document frequency of each distinct term of
    /// `terms`, a statement per [`TERMS_PER_LOOKUP`] terms; terms no chunk
    /// holds any more are dropped.
    async fn count_terms(&self, terms: &str, delta: i64) -> Result<(), StoreError> {
        let mut distinct: Vec<&str> = terms.split(' ').filter(|t| !t.is_empty()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let tenant = self.tenant.as_str();
        for batch in distinct.chunks(TERMS_PER_LOOKUP) {
            let rows = vec!["(?, ?, ?)"; batch.len()].join(", ");
            let mut params: Vec<Value> = Vec::with_capacity(batch.len() * 3);
            for t in batch {
                params.extend([tenant.into(), (*t).into(), delta.into()]);
            }
            self.sql
                .execute(
                    &format!(
                        "INSERT INTO fts_terms (tenant, term, df) VALUES {rows} \
                         ON CONFLICT (tenant, term) DO UPDATE SET df = df + excluded.df"
                    ),
                    params,
                )
                .await?;
        }
        if delta < 0 {
            self.sql
                .execute(
                    "DELETE FROM fts_terms WHERE tenant = ? AND df <= 0",
                    vec![tenant.into()],
                )
                .await?;
        }
        Ok(())
    }

    /// Take chunk `id` out of the full-text index (`terms`: what it held;
    /// `None` for a chunk never analysed, which the index does not hold).
    pub(super) async fn remove_terms(
        &self,
        id: i64,
        terms: Option<(String, i64)>,
    ) -> Result<(), StoreError> {
        let Some((terms, count)) = terms else {
            return Ok(());
        };
        // A contentless FTS5 table is told what to forget, with the old terms.
        self.sql
            .execute(
                "INSERT INTO chunk_terms (chunk_terms, rowid, terms) VALUES ('delete', ?, ?)",
                vec![id.into(), self.prefixed(&terms).into()],
            )
            .await?;
        self.count_terms(&terms, -1).await?;
        self.count(-1, -count).await
    }

    async fn count(&self, chunks: i64, terms: i64) -> Result<(), StoreError> {
        self.sql
            .execute(
                "INSERT INTO fts_stats (tenant, chunks, terms) VALUES (?, ?, ?) \
                 ON CONFLICT (tenant) DO UPDATE SET chunks = chunks + excluded.chunks, \
                 terms = terms + excluded.terms",
                vec![self.tenant.as_str().into(), chunks.into(), terms.into()],
            )
            .await
            .map(drop)
    }

    /// Analyse up to `limit` of this tenant's chunks stored before terms
    /// were kept (a database from before migration 13), in one transaction;
    /// how many it analysed.
    pub async fn analyze_pending(&self, limit: u32) -> Result<usize, StoreError> {
        let rows = self
            .sql
            .query(
                "SELECT id, text FROM chunks WHERE tenant = ? AND terms IS NULL LIMIT ?",
                vec![self.tenant.as_str().into(), i64::from(limit).into()],
            )
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let pending: Vec<(i64, String)> = rows
            .iter()
            .map(|r| Ok((r.int(0)?, r.text(1)?)))
            .collect::<Result<_, StoreError>>()?;
        transaction(self.sql, async {
            for (id, text) in &pending {
                self.add_terms(*id, text).await?;
            }
            Ok(())
        })
        .await?;
        Ok(pending.len())
    }

    /// The top `k` chunks for `query` by BM25 over this tenant's statistics.
    pub async fn search_fulltext(
        &self,
        query: &str,
        k: usize,
        documents: &[String],
    ) -> Result<Vec<Hit>, StoreError> {
        self.analyze_pending(BACKFILL_BATCH).await?;
        let terms = analyze::query_terms(query);
        if terms.is_empty() || k == 0 {
            return Ok(vec![]);
        }
        // Candidates: FTS5's own ranking, whose document frequencies are
        // already the tenant's; deep enough that re-scoring can reorder.
        let expr = terms
            .iter()
            .map(|(t, _)| format!("\"{}\"", self.prefixed(t)))
            .collect::<Vec<_>>()
            .join(" OR ");
        let depth = (k * 3).clamp(30, 1000).max(k);
        // Only ids go through FTS5's sort (a chunk's row is read for the
        // few that win, not for every match); the tenant's prefix already
        // keeps other tenants' chunks out, the join only serves a filter.
        let mut params: Vec<Value> = vec![expr.into()];
        let statement = if documents.is_empty() {
            "SELECT rowid FROM chunk_terms WHERE chunk_terms MATCH ? \
             ORDER BY bm25(chunk_terms), rowid LIMIT ?"
                .to_string()
        } else {
            let (filter, filtered) = document_filter("c.document_id", documents);
            params.push(self.tenant.as_str().into());
            params.extend(filtered);
            format!(
                "SELECT c.id FROM chunk_terms JOIN chunks c ON c.id = chunk_terms.rowid \
                 WHERE chunk_terms MATCH ? AND c.tenant = ? {filter} \
                 ORDER BY bm25(chunk_terms), c.id LIMIT ?"
            )
        };
        params.push((depth as i64).into());
        let ids = self.sql.query(&statement, params).await?;
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let mut params: Vec<Value> = vec![self.tenant.as_str().into()];
        for r in &ids {
            params.push(r.int(0)?.into());
        }
        let rows = self
            .sql
            .query(
                &format!("SELECT id, terms FROM chunks WHERE tenant = ? AND id IN ({marks})"),
                params,
            )
            .await?;
        let collection = self.collection().await?;
        let df = self.document_frequencies(&terms).await?;
        let idf: Vec<(f64, u32)> = terms
            .iter()
            .map(|(t, w)| (collection.idf(df.get(t).copied().unwrap_or(0)), *w))
            .collect();
        let position: HashMap<&str, usize> = terms
            .iter()
            .enumerate()
            .map(|(i, (t, _))| (t.as_str(), i))
            .collect();
        let mut hits = Vec::with_capacity(rows.len());
        for row in &rows {
            // One pass over the chunk's terms counts every query term.
            let held = row.opt_text(1)?.unwrap_or_default();
            let (mut length, mut tf) = (0, vec![0u32; terms.len()]);
            for t in held.split(' ').filter(|t| !t.is_empty()) {
                length += 1;
                if let Some(&i) = position.get(t) {
                    tf[i] += 1;
                }
            }
            let per_term = idf.iter().zip(&tf).map(|(&(idf, w), &tf)| (idf, w, tf));
            hits.push(Hit {
                chunk_id: row.int(0)?,
                score: collection.score(length, per_term),
            });
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.chunk_id.cmp(&b.chunk_id))
        });
        hits.truncate(k);
        Ok(hits)
    }

    /// This tenant's chunk and term counts.
    async fn collection(&self) -> Result<Collection, StoreError> {
        let rows = self
            .sql
            .query(
                "SELECT chunks, terms FROM fts_stats WHERE tenant = ?",
                vec![self.tenant.as_str().into()],
            )
            .await?;
        Ok(match rows.first() {
            Some(r) => Collection {
                chunks: r.int(0)?.max(0) as u64,
                terms: r.int(1)?.max(0) as u64,
            },
            None => Collection {
                chunks: 0,
                terms: 0,
            },
        })
    }

    /// How many of this tenant's chunks hold each term.
    async fn document_frequencies(
        &self,
        terms: &[(String, u32)],
    ) -> Result<HashMap<String, u64>, StoreError> {
        let mut out = HashMap::new();
        for batch in terms.chunks(TERMS_PER_LOOKUP) {
            let marks = vec!["?"; batch.len()].join(", ");
            let mut params: Vec<Value> = vec![self.tenant.as_str().into()];
            params.extend(batch.iter().map(|(t, _)| Value::Text(t.clone())));
            let rows = self
                .sql
                .query(
                    &format!(
                        "SELECT term, df FROM fts_terms WHERE tenant = ? AND term IN ({marks})"
                    ),
                    params,
                )
                .await?;
            for r in rows {
                out.insert(r.text(0)?, r.int(1)?.max(0) as u64);
            }
        }
        Ok(out)
    }
}
