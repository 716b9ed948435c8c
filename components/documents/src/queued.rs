//! Queued ingestion: uploads (multipart or raw) and URLs become jobs.
//!
//! `multipart/form-data` carries one or many files (field `files`,
//! repeatable) plus optional `metadata` (a JSON object), `title` and
//! `priority` fields. Originals are stored with one job per file in one
//! transaction (in SQLite's `blobs` table, so jobs and bytes commit
//! together), a worker is woken per job through Redis, and the answer is
//! `202 {"batch_id", "jobs":[{"job_id","filename"}]}` at once. A URL job
//! stores no bytes: the worker fetches it (and a retry fetches it again).

use lode_api::{ApiError, ErrorCode};
use lode_auth::Principal;
use lode_common::{ApiRequest, Reply, SpinSql, upload_limit};

use crate::UploadQuery;
use lode_ingest::base_type;
use lode_jobs::{JobRequest, NewJob, Priority};
use lode_multipart::{Limits, MultipartError};
use lode_store::Chunking;
use serde_json::{Map, Value as Json, json};

/// What the extract step reads (crates/extract `MEDIA_TYPES`).
const INGESTIBLE: &[&str] = &[
    "application/pdf",
    "text/html",
    "application/xhtml+xml",
    "text/markdown",
    "text/plain",
];

/// Queue every file of a multipart upload.
pub async fn form(
    sql: &SpinSql,
    who: &Principal,
    req: &ApiRequest,
    chunking: Chunking,
) -> Result<Reply, ApiError> {
    let content_type = req.header("content-type").unwrap_or_default();
    let boundary = lode_multipart::boundary(content_type)
        .map_err(|e| ApiError::new(ErrorCode::UnsupportedMediaType, e.to_string()))?;
    let limits = Limits {
        max_file_bytes: upload_limit().await?.0 as u64,
        ..Limits::default()
    };
    let form = lode_multipart::parse(req.body.clone(), &boundary, &limits).map_err(form_error)?;
    if form.files.is_empty() {
        return Err(ApiError::invalid(
            "no files: send each one as a part named \"files\" with a filename",
        ));
    }
    let metadata = match form.field("metadata") {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Json>(text) {
            Ok(Json::Object(map)) => map,
            _ => return Err(ApiError::invalid("metadata must be a JSON object")),
        },
    };
    let priority = match form.field("priority") {
        None => Priority::Normal,
        Some(p) => priority(p)?,
    };
    let title = form.field("title").map(str::to_string);
    let mut jobs = Vec::with_capacity(form.files.len());
    for file in form.files {
        if file.field != "files" {
            return Err(ApiError::invalid(format!(
                "file {:?} came in field {:?}; use \"files\"",
                file.filename, file.field
            )));
        }
        if file.bytes.is_empty() {
            return Err(ApiError::invalid(format!(
                "file {:?} is empty",
                file.filename
            )));
        }
        let media_type = media_type(file.content_type.as_deref(), &file.filename)?;
        jobs.push(NewJob {
            request: JobRequest {
                filename: Some(file.filename),
                media_type: Some(media_type),
                url: None,
                title: title.clone(),
                metadata: metadata.clone(),
                chunking,
            }
            .into(),
            priority,
            original: Some(file.bytes.into()),
        });
    }
    submit(sql, who, jobs).await
}

/// Queue a raw-body upload (`Content-Type` is the file's media type).
pub async fn raw(
    sql: &SpinSql,
    who: &Principal,
    req: ApiRequest,
    content_type: &str,
    filename: Option<String>,
    options: UploadQuery,
) -> Result<Reply, ApiError> {
    let media_type = media_type(Some(content_type), filename.as_deref().unwrap_or(""))?;
    let job = NewJob {
        request: JobRequest {
            filename,
            media_type: Some(media_type),
            url: None,
            title: options.title,
            metadata: options.metadata,
            chunking: options.chunking,
        }
        .into(),
        priority: options.priority,
        // Moved, not copied: the body is held once.
        original: Some(req.body.into()),
    };
    submit(sql, who, vec![job]).await
}

/// Queue a URL for the worker to fetch.
pub async fn url(
    sql: &SpinSql,
    who: &Principal,
    url: url::Url,
    options: UploadQuery,
) -> Result<Reply, ApiError> {
    let filename = url
        .path_segments()
        .and_then(|mut s| s.rfind(|p| !p.is_empty()))
        .map(str::to_string);
    let job = NewJob {
        request: JobRequest {
            filename,
            media_type: None,
            url: Some(url.to_string()),
            title: options.title,
            metadata: options.metadata,
            chunking: options.chunking,
        }
        .into(),
        priority: options.priority,
        original: None,
    };
    submit(sql, who, vec![job]).await
}

/// Parse a `priority` field or parameter.
pub fn priority(text: &str) -> Result<Priority, ApiError> {
    Priority::parse(text.trim())
        .ok_or_else(|| ApiError::invalid("priority must be urgent, high, normal or low"))
}

/// Queue `jobs` as one batch and answer 202 with the batch's location.
async fn submit(sql: &SpinSql, who: &Principal, jobs: Vec<NewJob>) -> Result<Reply, ApiError> {
    let (batch_id, created) = lode_common::job::submit(sql, who, jobs).await?;
    let listed: Vec<Json> = created
        .iter()
        .map(|j| json!({"job_id": j.job_id, "filename": j.filename}))
        .collect();
    Ok(
        Reply::json(202, json!({"batch_id": batch_id, "jobs": listed}))
            .at(format!("/api/jobs/batches/{batch_id}")),
    )
}

/// The part's media type if Lode can ingest it; else from the file name's
/// extension when the client sent none or `application/octet-stream`.
fn media_type(sent: Option<&str>, filename: &str) -> Result<String, ApiError> {
    let sent = sent
        .map(base_type)
        .filter(|t| t != "application/octet-stream");
    let guessed = || {
        let ext = filename
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())?;
        let t = match ext.as_str() {
            "pdf" => "application/pdf",
            "html" | "htm" => "text/html",
            "md" | "markdown" => "text/markdown",
            "txt" | "text" => "text/plain",
            _ => return None,
        };
        Some(t.to_string())
    };
    match sent.or_else(guessed) {
        Some(t) if INGESTIBLE.contains(&t.as_str()) => Ok(t),
        other => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "file {filename:?} ({}) cannot be ingested; send PDF, HTML, Markdown or plain text",
                other.as_deref().unwrap_or("unknown type")
            ),
        )),
    }
}

fn form_error(e: MultipartError) -> ApiError {
    let code = match e {
        MultipartError::TooLarge { .. } | MultipartError::TooMany { .. } => {
            ErrorCode::PayloadTooLarge
        }
        MultipartError::NotMultipart => ErrorCode::UnsupportedMediaType,
        _ => ErrorCode::BadRequest,
    };
    ApiError::new(code, e.to_string())
}
