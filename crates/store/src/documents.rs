//! The tenant-scoped document store: current documents, their immutable
//! versions, and soft deletion.
//!
//! Every statement here filters on `tenant = ?`; a [`Documents`] value is bound
//! to one tenant when it is made, so no method can reach another tenant's rows.

use lode_api::{ApiError, Cursor, ErrorCode, query};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::ids::{new_id, now_ms, rfc3339, sha256_hex};
use crate::sql::transaction;
use crate::{Row, Sql, StoreError, Tenant, Value};

/// Media types a document's text may have. PDFs and HTML arrive through
/// ingestion (a later step), which stores their extracted text as one of these.
pub const CONTENT_TYPES: &[&str] = &["text/plain", "text/markdown"];

const MAX_TITLE_CHARS: usize = 500;
const MAX_METADATA_KEYS: usize = 64;
const MAX_METADATA_BYTES: usize = 16 * 1024;
const MAX_FILTERS: usize = 8;

/// The body of `POST /api/documents` and `PUT /api/documents/{id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentInput {
    /// Human-readable title, 1–500 characters.
    pub title: String,
    /// The document's text.
    pub content: String,
    /// `text/plain` (default) or `text/markdown`.
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// Free-form JSON object, filterable with `?metadata.<key>=<value>`.
    #[serde(default)]
    pub metadata: Option<Json>,
}

fn default_content_type() -> String {
    "text/plain".to_string()
}

/// An input that passed validation; only this can be written.
#[derive(Debug, Clone)]
struct ValidInput {
    title: String,
    content: String,
    content_type: &'static str,
    metadata: String,
}

impl DocumentInput {
    /// Validate without storing, so a caller can refuse bad input before
    /// doing expensive work (chunking, embedding) for it.
    pub fn check(&self) -> Result<(), ApiError> {
        self.clone().validate().map(drop)
    }

    fn validate(self) -> Result<ValidInput, ApiError> {
        let title = self.title.trim().to_string();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            return Err(ApiError::invalid(format!(
                "title must be 1-{MAX_TITLE_CHARS} characters"
            )));
        }
        let content_type = CONTENT_TYPES
            .iter()
            .copied()
            .find(|t| t.eq_ignore_ascii_case(self.content_type.trim()))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    format!(
                        "content_type {:?} is not supported; use one of {}",
                        self.content_type,
                        CONTENT_TYPES.join(", ")
                    ),
                )
            })?;
        let metadata = match self.metadata {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(map)) => map,
            Some(_) => return Err(ApiError::invalid("metadata must be a JSON object")),
        };
        if metadata.len() > MAX_METADATA_KEYS {
            return Err(ApiError::invalid(format!(
                "metadata may have at most {MAX_METADATA_KEYS} keys"
            )));
        }
        if let Some(k) = metadata.keys().find(|k| !valid_metadata_key(k)) {
            return Err(ApiError::invalid(format!(
                "metadata key {k:?} must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'"
            )));
        }
        let metadata = Json::Object(metadata).to_string();
        if metadata.len() > MAX_METADATA_BYTES {
            return Err(ApiError::invalid(format!(
                "metadata may be at most {MAX_METADATA_BYTES} bytes of JSON"
            )));
        }
        Ok(ValidInput {
            title,
            content: self.content,
            content_type,
            metadata,
        })
    }
}

fn valid_metadata_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 64
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A document as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    /// `doc_…` id.
    pub id: String,
    /// Title of the current (or requested) version.
    pub title: String,
    /// `text/plain` or `text/markdown`.
    pub content_type: String,
    /// The metadata object.
    pub metadata: Json,
    /// Version number, starting at 1.
    pub version: i64,
    /// sha256 of the content, for deduplication.
    pub content_sha256: String,
    /// Content size in bytes (UTF-8).
    pub size_bytes: i64,
    /// When the document was first created (RFC 3339).
    pub created_at: String,
    /// When this version was written (RFC 3339).
    pub updated_at: String,
    /// The text; omitted in listings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip)]
    created_ms: i64,
}

/// One entry of `GET /api/documents/{id}/versions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionInfo {
    /// Version number.
    pub version: i64,
    /// Title at that version.
    pub title: String,
    /// Media type at that version.
    pub content_type: String,
    /// sha256 of that version's content.
    pub content_sha256: String,
    /// Size of that version's content.
    pub size_bytes: i64,
    /// When that version was written (RFC 3339).
    pub created_at: String,
}

/// What `GET /api/documents` asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Page size.
    pub limit: u32,
    /// Start after this position.
    pub cursor: Option<Cursor>,
    /// `metadata.<key>=<value>` filters, all of which must hold.
    pub metadata: Vec<(String, String)>,
    /// `title=<text>`: only titles containing it (ASCII case folded), for
    /// a library's search-as-you-type.
    pub title: Option<String>,
}

/// Longest `title` filter, in characters.
pub const MAX_TITLE_FILTER: usize = 200;

impl ListQuery {
    /// Parse `limit`, `cursor`, `title` and `metadata.<key>` parameters; others are a 400
    /// so a typo is not silently ignored.
    pub fn parse(query_string: &str) -> Result<ListQuery, ApiError> {
        let mut limit = None;
        let mut q = ListQuery::default();
        for (k, v) in query::pairs(query_string) {
            match k.as_str() {
                "limit" => limit = Some(v),
                "cursor" => q.cursor = Some(Cursor::decode(&v)?),
                "title" if v.chars().count() > MAX_TITLE_FILTER => {
                    return Err(ApiError::invalid(format!(
                        "title filter is longer than {MAX_TITLE_FILTER} characters"
                    )));
                }
                "title" => q.title = Some(v).filter(|t| !t.trim().is_empty()),
                _ => match k.strip_prefix("metadata.") {
                    Some(key) if valid_metadata_key(key) => q.metadata.push((key.to_string(), v)),
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "unknown query parameter {k:?}; use limit, cursor, title or metadata.<key>"
                        )));
                    }
                },
            }
        }
        if q.metadata.len() > MAX_FILTERS {
            return Err(ApiError::invalid(format!(
                "at most {MAX_FILTERS} metadata filters"
            )));
        }
        q.limit = query::limit(limit.as_deref(), 20, 100)?;
        Ok(q)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items on this page.
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The documents of one tenant.
pub struct Documents<'a, S: Sql> {
    sql: &'a S,
    tenant: &'a Tenant,
}

const COLUMNS: &str = "d.id, v.title, v.content_type, v.metadata, v.version, v.content_sha256, \
     v.size_bytes, d.created_at, v.created_at";

impl<'a, S: Sql> Documents<'a, S> {
    /// The document store of `tenant`.
    pub fn new(sql: &'a S, tenant: &'a Tenant) -> Self {
        Self { sql, tenant }
    }

    /// Store a new document as version 1.
    pub async fn create(&self, input: DocumentInput) -> Result<Document, ApiError> {
        let input = input.validate()?;
        let id = new_id("doc");
        let now = now_ms();
        let (hash, size) = (
            sha256_hex(input.content.as_bytes()),
            input.content.len() as i64,
        );
        transaction(self.sql, async {
            self.sql
                .execute(
                    "INSERT INTO documents (id, tenant, title, content_type, metadata, version, \
                     content_sha256, size_bytes, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
                    vec![
                        id.clone().into(),
                        self.tenant.as_str().into(),
                        input.title.clone().into(),
                        input.content_type.into(),
                        input.metadata.clone().into(),
                        hash.clone().into(),
                        size.into(),
                        now.into(),
                        now.into(),
                    ],
                )
                .await?;
            self.insert_version(&id, 1, &input, &hash, now).await
        })
        .await?;
        self.get(&id).await?.ok_or_else(ApiError::internal)
    }

    async fn insert_version(
        &self,
        id: &str,
        version: i64,
        input: &ValidInput,
        hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.sql
            .execute(
                "INSERT INTO document_versions (document_id, tenant, version, title, content, \
                 content_type, metadata, content_sha256, size_bytes, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    id.into(),
                    self.tenant.as_str().into(),
                    version.into(),
                    input.title.clone().into(),
                    input.content.clone().into(),
                    input.content_type.into(),
                    input.metadata.clone().into(),
                    hash.into(),
                    (input.content.len() as i64).into(),
                    now.into(),
                ],
            )
            .await
            .map(drop)
    }

    /// The live document whose current content has this sha256, if any: an
    /// upload of content the tenant already has returns that document.
    pub async fn find_by_sha256(&self, sha256: &str) -> Result<Option<Document>, ApiError> {
        let rows = self
            .sql
            .query(
                "SELECT id FROM documents WHERE tenant = ? AND content_sha256 = ? \
                 AND deleted_at IS NULL ORDER BY created_at, id LIMIT 1",
                vec![self.tenant.as_str().into(), sha256.into()],
            )
            .await?;
        match rows.first() {
            Some(row) => self.get(&row.text(0)?).await,
            None => Ok(None),
        }
    }

    /// The current version of a live document, with content.
    pub async fn get(&self, id: &str) -> Result<Option<Document>, ApiError> {
        self.get_version(id, None).await
    }

    /// A given version (or the current one) of a live document, with content.
    pub async fn get_version(
        &self,
        id: &str,
        version: Option<i64>,
    ) -> Result<Option<Document>, ApiError> {
        let statement = format!(
            "SELECT {COLUMNS}, v.content FROM documents d \
             JOIN document_versions v ON v.document_id = d.id AND v.tenant = d.tenant \
             WHERE d.tenant = ? AND d.id = ? AND d.deleted_at IS NULL \
             AND v.version = COALESCE(?, d.version)"
        );
        let rows = self
            .sql
            .query(
                &statement,
                vec![self.tenant.as_str().into(), id.into(), version.into()],
            )
            .await?;
        rows.first()
            .map(|r| document(r, true))
            .transpose()
            .map_err(Into::into)
    }

    /// A page of live documents, oldest first, without content.
    pub async fn list(&self, q: &ListQuery) -> Result<Page<Document>, ApiError> {
        let mut statement = format!(
            "SELECT {COLUMNS} FROM documents d \
             JOIN document_versions v ON v.document_id = d.id AND v.tenant = d.tenant \
             AND v.version = d.version \
             WHERE d.tenant = ? AND d.deleted_at IS NULL"
        );
        let mut params: Vec<Value> = vec![self.tenant.as_str().into()];
        if let Some(c) = &q.cursor {
            statement.push_str(" AND (d.created_at > ? OR (d.created_at = ? AND d.id > ?))");
            params.extend([
                c.created_at.into(),
                c.created_at.into(),
                c.id.clone().into(),
            ]);
        }
        if let Some(title) = &q.title {
            // instr, not LIKE: the user's text needs no escaping.
            statement.push_str(" AND instr(lower(d.title), lower(?)) > 0");
            params.push(title.trim().to_string().into());
        }
        for (key, value) in &q.metadata {
            // `->>` yields the SQL value (strings match), `->` its JSON text
            // (numbers and booleans match as written in the query string).
            statement.push_str(" AND (v.metadata ->> ? = ? OR v.metadata -> ? = ?)");
            let path = format!("$.\"{key}\"");
            params.extend([
                path.clone().into(),
                value.clone().into(),
                path.into(),
                value.clone().into(),
            ]);
        }
        statement.push_str(" ORDER BY d.created_at, d.id LIMIT ?");
        params.push((q.limit as i64 + 1).into());
        let rows = self.sql.query(&statement, params).await?;
        let mut data = rows
            .iter()
            .map(|r| document(r, false))
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if data.len() > q.limit as usize {
            data.truncate(q.limit as usize);
            data.last().map(|d| {
                Cursor {
                    created_at: d.created_ms,
                    id: d.id.clone(),
                }
                .encode()
            })
        } else {
            None
        };
        Ok(Page { data, next_cursor })
    }

    /// Write a new version; the old ones stay readable. `None` if there is no such live document.
    pub async fn update(
        &self,
        id: &str,
        input: DocumentInput,
    ) -> Result<Option<Document>, ApiError> {
        let input = input.validate()?;
        let now = now_ms();
        let hash = sha256_hex(input.content.as_bytes());
        let updated = transaction(self.sql, async {
            let rows = self
                .sql
                .query(
                    "UPDATE documents SET version = version + 1, title = ?, content_type = ?, \
                     metadata = ?, content_sha256 = ?, size_bytes = ?, updated_at = ? \
                     WHERE tenant = ? AND id = ? AND deleted_at IS NULL RETURNING version",
                    vec![
                        input.title.clone().into(),
                        input.content_type.into(),
                        input.metadata.clone().into(),
                        hash.clone().into(),
                        (input.content.len() as i64).into(),
                        now.into(),
                        self.tenant.as_str().into(),
                        id.into(),
                    ],
                )
                .await?;
            let Some(row) = rows.first() else {
                return Ok(false);
            };
            self.insert_version(id, row.int(0)?, &input, &hash, now)
                .await?;
            Ok(true)
        })
        .await?;
        if !updated {
            return Ok(None);
        }
        self.get(id).await
    }

    /// All versions of a live document, oldest first; `None` if there is no such document.
    pub async fn versions(&self, id: &str) -> Result<Option<Vec<VersionInfo>>, ApiError> {
        let rows = self
            .sql
            .query(
                "SELECT v.version, v.title, v.content_type, v.content_sha256, v.size_bytes, v.created_at \
                 FROM documents d JOIN document_versions v ON v.document_id = d.id AND v.tenant = d.tenant \
                 WHERE d.tenant = ? AND d.id = ? AND d.deleted_at IS NULL ORDER BY v.version",
                vec![self.tenant.as_str().into(), id.into()],
            )
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let versions = rows
            .iter()
            .map(version_info)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(versions))
    }

    /// Soft-delete: the document reads as absent from now on; its rows stay until
    /// a purge removes them with their chunks. Returns false if it was not live.
    pub async fn delete(&self, id: &str) -> Result<bool, ApiError> {
        let changed = self
            .sql
            .execute(
                "UPDATE documents SET deleted_at = ? WHERE tenant = ? AND id = ? AND deleted_at IS NULL",
                vec![now_ms().into(), self.tenant.as_str().into(), id.into()],
            )
            .await?;
        Ok(changed > 0)
    }
}

fn document(row: &Row, with_content: bool) -> Result<Document, StoreError> {
    let metadata = serde_json::from_str(&row.text(3)?)
        .map_err(|e| StoreError::Decode(format!("metadata: {e}")))?;
    let created_ms = row.int(7)?;
    Ok(Document {
        id: row.text(0)?,
        title: row.text(1)?,
        content_type: row.text(2)?,
        metadata,
        version: row.int(4)?,
        content_sha256: row.text(5)?,
        size_bytes: row.int(6)?,
        created_at: rfc3339(created_ms),
        updated_at: rfc3339(row.int(8)?),
        content: if with_content {
            Some(row.text(9)?)
        } else {
            None
        },
        created_ms,
    })
}

fn version_info(row: &Row) -> Result<VersionInfo, StoreError> {
    Ok(VersionInfo {
        version: row.int(0)?,
        title: row.text(1)?,
        content_type: row.text(2)?,
        content_sha256: row.text(3)?,
        size_bytes: row.int(4)?,
        created_at: rfc3339(row.int(5)?),
    })
}

impl From<StoreError> for ApiError {
    /// Clients see a generic 500; the cause goes to the request's log line
    /// (`lode_common::http::finish`), on the component's stderr.
    fn from(e: StoreError) -> Self {
        ApiError::internal_because(format!("store error: {e}"))
    }
}

#[cfg(test)]
mod tests;
