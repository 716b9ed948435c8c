//! Writing and reading one tenant's chunks, vectors and full-text rows.

mod fulltext;
pub use fulltext::{BACKFILL_BATCH, analyze_any_pending};

use std::collections::HashMap;

use lode_store::sql::transaction;
use lode_store::{Sql, StoreError, Tenant, Value};

use crate::{Hit, vector};

/// A chunk to index. `vector` is `None` when the caller kept the stored one
/// (same ordinal, same sha256), so unchanged chunks are never re-embedded.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRecord {
    /// Position in the document, from 0.
    pub ordinal: i64,
    /// The chunk's text.
    pub text: String,
    /// Headings above the chunk, outermost first.
    pub heading_path: Vec<String>,
    /// First and last page (1-based) for paged sources.
    pub pages: Option<(i64, i64)>,
    /// Character offsets into the document's text.
    pub chars: (i64, i64),
    /// Tokens by the embedding model's tokenizer.
    pub token_count: i64,
    /// sha256 of `text`.
    pub sha256: String,
    /// The embedding, or `None` to keep the stored one.
    pub vector: Option<Vec<f32>>,
}

/// A stored chunk as search results show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredChunk {
    /// Row id.
    pub id: i64,
    /// Owning document.
    pub document_id: String,
    /// Position in the document.
    pub ordinal: i64,
    /// Text.
    pub text: String,
    /// Heading path.
    pub heading_path: Vec<String>,
    /// Page range.
    pub pages: Option<(i64, i64)>,
    /// Character offsets.
    pub chars: (i64, i64),
    /// Token count.
    pub token_count: i64,
}

/// The index of one tenant, for one embedding model.
pub struct Index<'a, S: Sql> {
    pub(crate) sql: &'a S,
    pub(crate) tenant: &'a Tenant,
    model: &'a str,
}

impl<'a, S: Sql> Index<'a, S> {
    /// The index of `tenant`'s chunks embedded with `model`.
    pub fn new(sql: &'a S, tenant: &'a Tenant, model: &'a str) -> Self {
        Self { sql, tenant, model }
    }

    /// ordinal → sha256 of the chunks stored for `document_id` that have a vector of this model.
    pub async fn stored_hashes(
        &self,
        document_id: &str,
    ) -> Result<HashMap<i64, String>, StoreError> {
        let rows = self
            .sql
            .query(
                "SELECT c.ordinal, c.sha256 FROM chunks c JOIN chunk_vectors v ON v.chunk_id = c.id \
                 WHERE c.tenant = ? AND c.document_id = ? AND v.model = ?",
                vec![self.tenant.as_str().into(), document_id.into(), self.model.into()],
            )
            .await?;
        rows.iter().map(|r| Ok((r.int(0)?, r.text(1)?))).collect()
    }

    /// Make the stored chunks of `document_id` exactly `chunks`, in one
    /// transaction: unchanged chunks (same ordinal and sha256) are kept with
    /// their vectors; changed, new and surplus ones are replaced or removed.
    pub async fn write(
        &self,
        document_id: &str,
        version: i64,
        chunks: &[ChunkRecord],
    ) -> Result<(), StoreError> {
        transaction(self.sql, async {
            let stored = self.stored_hashes(document_id).await?;
            for c in chunks {
                let unchanged = stored.get(&c.ordinal) == Some(&c.sha256);
                if unchanged {
                    self.sql
                        .execute(
                            "UPDATE chunks SET version = ?, heading_path = ?, page_start = ?, page_end = ?, \
                             char_start = ?, char_end = ? WHERE tenant = ? AND document_id = ? AND ordinal = ?",
                            vec![
                                version.into(),
                                headings(&c.heading_path).into(),
                                c.pages.map(|p| p.0).into(),
                                c.pages.map(|p| p.1).into(),
                                c.chars.0.into(),
                                c.chars.1.into(),
                                self.tenant.as_str().into(),
                                document_id.into(),
                                c.ordinal.into(),
                            ],
                        )
                        .await?;
                    continue;
                }
                let Some(vector) = &c.vector else {
                    return Err(StoreError::Decode(format!("chunk {} changed but has no vector", c.ordinal)));
                };
                self.delete_where(document_id, "AND ordinal = ?", vec![c.ordinal.into()]).await?;
                self.insert(document_id, version, c, vector).await?;
            }
            let n = chunks.len() as i64;
            self.delete_where(document_id, "AND ordinal >= ?", vec![n.into()]).await
        })
        .await
    }

    async fn insert(
        &self,
        document_id: &str,
        version: i64,
        c: &ChunkRecord,
        vector: &[f32],
    ) -> Result<(), StoreError> {
        let rows = self
            .sql
            .query(
                "INSERT INTO chunks (tenant, document_id, version, ordinal, text, heading_path, page_start, \
                 page_end, char_start, char_end, token_count, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 RETURNING id",
                vec![
                    self.tenant.as_str().into(),
                    document_id.into(),
                    version.into(),
                    c.ordinal.into(),
                    c.text.clone().into(),
                    headings(&c.heading_path).into(),
                    c.pages.map(|p| p.0).into(),
                    c.pages.map(|p| p.1).into(),
                    c.chars.0.into(),
                    c.chars.1.into(),
                    c.token_count.into(),
                    c.sha256.clone().into(),
                ],
            )
            .await?;
        let id = rows
            .first()
            .ok_or_else(|| StoreError::Decode("INSERT returned no id".into()))?
            .int(0)?;
        self.add_terms(id, &c.text).await?;
        self.sql
            .execute(
                "INSERT INTO chunk_vectors (chunk_id, tenant, model, dim, vector) VALUES (?, ?, ?, ?, ?)",
                vec![
                    id.into(),
                    self.tenant.as_str().into(),
                    self.model.into(),
                    (vector.len() as i64).into(),
                    Value::Blob(vector::encode(vector)),
                ],
            )
            .await
            .map(drop)
    }

    /// Delete chunks of `document_id` matching `extra` (an `AND …` clause),
    /// with their vectors and full-text rows.
    async fn delete_where(
        &self,
        document_id: &str,
        extra: &str,
        params: Vec<Value>,
    ) -> Result<(), StoreError> {
        let mut all = vec![self.tenant.as_str().into(), document_id.into()];
        all.extend(params);
        let rows = self
            .sql
            .query(
                &format!(
                    "SELECT id, terms, term_count FROM chunks WHERE tenant = ? AND document_id = ? {extra}"
                ),
                all,
            )
            .await?;
        for r in rows {
            let id = r.int(0)?;
            let terms = match (r.opt_text(1)?, r.opt_int(2)?) {
                (Some(t), Some(n)) => Some((t, n)),
                _ => None,
            };
            self.remove_terms(id, terms).await?;
            self.sql
                .execute(
                    "DELETE FROM chunk_vectors WHERE chunk_id = ?",
                    vec![id.into()],
                )
                .await?;
            self.sql
                .execute("DELETE FROM chunks WHERE id = ?", vec![id.into()])
                .await?;
        }
        Ok(())
    }

    /// Remove every chunk of a document (used when it is deleted).
    pub async fn purge(&self, document_id: &str) -> Result<(), StoreError> {
        transaction(self.sql, self.delete_where(document_id, "", vec![])).await
    }

    /// Exact top-`k` by cosine similarity (vectors are normalised).
    pub async fn search_vector(
        &self,
        query: &[f32],
        k: usize,
        documents: &[String],
    ) -> Result<Vec<Hit>, StoreError> {
        let (filter, mut params) = document_filter("c.document_id", documents);
        let mut all: Vec<Value> = vec![self.tenant.as_str().into(), self.model.into()];
        all.append(&mut params);
        // Chunk rows are read only to filter by document: the scan itself
        // needs nothing but the vectors.
        let join = match documents.is_empty() {
            true => "",
            false => "JOIN chunks c ON c.id = v.chunk_id",
        };
        let rows = self
            .sql
            .query(
                &format!(
                    "SELECT v.chunk_id, v.vector FROM chunk_vectors v {join} \
                     WHERE v.tenant = ? AND v.model = ? {filter}"
                ),
                all,
            )
            .await?;
        let mut hits = Vec::with_capacity(rows.len());
        for r in &rows {
            let Some(Value::Blob(bytes)) = r.0.get(1) else {
                return Err(StoreError::Decode("vector is not a blob".into()));
            };
            hits.push(Hit {
                chunk_id: r.int(0)?,
                score: vector::dot_bytes(query, bytes) as f64,
            });
        }
        Ok(vector::top_k(hits, k))
    }

    /// The chunks with these ids (only this tenant's), by id.
    pub async fn chunks(&self, ids: &[i64]) -> Result<HashMap<i64, StoredChunk>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let mut params: Vec<Value> = vec![self.tenant.as_str().into()];
        params.extend(ids.iter().map(|&i| Value::Integer(i)));
        let rows = self
            .sql
            .query(
                &format!("{CHUNK_SELECT} WHERE tenant = ? AND id IN ({marks})"),
                params,
            )
            .await?;
        rows.iter()
            .map(|r| stored_chunk(r).map(|c| (c.id, c)))
            .collect()
    }

    /// Every chunk of a document, in order.
    pub async fn document_chunks(&self, document_id: &str) -> Result<Vec<StoredChunk>, StoreError> {
        let rows = self
            .sql
            .query(
                &format!("{CHUNK_SELECT} WHERE tenant = ? AND document_id = ? ORDER BY ordinal"),
                vec![self.tenant.as_str().into(), document_id.into()],
            )
            .await?;
        rows.iter().map(stored_chunk).collect()
    }
}

const CHUNK_SELECT: &str = "SELECT id, document_id, ordinal, text, heading_path, page_start, page_end, \
     char_start, char_end, token_count FROM chunks";

fn stored_chunk(r: &lode_store::Row) -> Result<StoredChunk, StoreError> {
    let heading_path =
        serde_json::from_str(&r.text(4)?).map_err(|e| StoreError::Decode(e.to_string()))?;
    let pages = match (r.opt_int(5)?, r.opt_int(6)?) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    Ok(StoredChunk {
        id: r.int(0)?,
        document_id: r.text(1)?,
        ordinal: r.int(2)?,
        text: r.text(3)?,
        heading_path,
        pages,
        chars: (r.int(7)?, r.int(8)?),
        token_count: r.int(9)?,
    })
}

fn headings(path: &[String]) -> String {
    serde_json::to_string(path).unwrap_or_else(|_| "[]".into())
}

fn document_filter(column: &str, documents: &[String]) -> (String, Vec<Value>) {
    if documents.is_empty() {
        return (String::new(), vec![]);
    }
    let marks = vec!["?"; documents.len()].join(", ");
    (
        format!("AND {column} IN ({marks})"),
        documents.iter().map(|d| Value::Text(d.clone())).collect(),
    )
}

#[cfg(test)]
mod tests;
