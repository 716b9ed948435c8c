//! The documents API: `/api/documents[/{id}[/versions[/{version}]|/chunks]]`,
//! `/api/documents/upload` and `/api/documents/from-url`.
//!
//! Uploads and URLs are queued as jobs (`queued.rs`) for the Redis-triggered
//! worker, unless `?sync=true` asks for the work within the request. Adding
//! or changing a document through JSON runs the pipeline in the request:
//! chunk → embed (only chunks not already indexed) → store the document →
//! index its chunks. The steps are separate components
//! composed in through the step packages (see `wit/worlds.wit`); storage and
//! validation live in `lode-store` and `lode-index`.

mod queued;

use lode_api::{ApiError, ErrorCode};
use lode_auth::Principal;
use lode_auth::routes::DocumentsRoute;
use lode_common::SpinHost;
use lode_common::{ApiCall, ApiRequest, Reply, SpinSql, api_call, upload_limit};
use lode_index::Index;
use lode_ingest::{Extracted, Ingested, Steps, WitSteps, base_type, fetch};
use lode_jobs::Priority;
use lode_store::audit::Action;
use lode_store::ids::now_ms;
use lode_store::{Chunking, Document, DocumentInput, Documents, ListQuery, Settings, Tenant};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    lode_common::handle(env!("CARGO_PKG_NAME"), req, serve).await
}

async fn serve(req: Request) -> Result<Reply, ApiError> {
    let ApiCall {
        req,
        sql,
        who,
        handler,
        params,
    } = api_call(req).await?;
    let docs = Documents::new(&sql, &who.tenant);
    let id = params.get("id");
    match handler {
        DocumentsRoute::List => list(&docs, &req).await,
        DocumentsRoute::Add => {
            let input = req.json::<DocumentInput>(lode_common::body_limit().await?)?;
            add(
                &sql,
                &who.tenant,
                input,
                chunking(&sql, &who.tenant, &req.query).await?,
            )
            .await
        }
        DocumentsRoute::Upload => upload(&sql, &who, req).await,
        DocumentsRoute::FromUrl => from_url(&sql, &who, &req).await,
        DocumentsRoute::Get => found(docs.get(id).await?),
        DocumentsRoute::Update => {
            let input = req.json::<DocumentInput>(lode_common::body_limit().await?)?;
            update(
                &sql,
                &who.tenant,
                id,
                input,
                chunking(&sql, &who.tenant, &req.query).await?,
            )
            .await
        }
        DocumentsRoute::Delete => match docs.delete(id).await? {
            true => {
                Index::new(&sql, &who.tenant, &lode_ingest::model())
                    .purge(id)
                    .await?;
                lode_store::ToolResults::new(&sql, &who.tenant)
                    .purge(id)
                    .await?;
                lode_store::Audit::new(&sql, &who.tenant)
                    .record(
                        &who.actor(),
                        Action::DocumentDeleted,
                        id,
                        json!({}),
                        now_ms(),
                    )
                    .await?;
                Ok(Reply::empty(204))
            }
            false => Err(ApiError::not_found("document")),
        },
        DocumentsRoute::Versions => found(docs.versions(id).await?.map(|v| json!({ "data": v }))),
        DocumentsRoute::Version => {
            let version = params
                .get("version")
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request("version must be a whole number"))?;
            found(docs.get_version(id, Some(version)).await?)
        }
        DocumentsRoute::Chunks => chunks(&sql, &who.tenant, id).await,
    }
}

/// Store a new document and index it: 201, or 200 with `"duplicate": true`
/// and the existing document when the tenant already has this content.
async fn add(
    sql: &SpinSql,
    tenant: &Tenant,
    input: DocumentInput,
    chunking: Chunking,
) -> Result<Reply, ApiError> {
    created(
        lode_ingest::pipeline(sql, tenant)
            .add(input, &[], chunking, &lode_ingest::Quiet)
            .await?,
    )
}

/// The reply for a finished ingestion.
fn created(ingested: Ingested) -> Result<Reply, ApiError> {
    let doc = &ingested.document;
    let location = format!("/api/documents/{}", doc.id);
    let mut reply = if ingested.duplicate {
        Reply::json(200, with(doc, json!({"duplicate": true})))
    } else {
        let extra = json!({"duplicate": false, "chunk_count": ingested.chunk_count, "chunks_embedded": ingested.embedded});
        Reply::json(201, with(doc, extra))
    };
    if !ingested.warnings.is_empty() {
        reply = reply.with_field("warnings", json!(ingested.warnings));
    }
    Ok(reply.at(location))
}

/// Replace a document's content: a new version, re-indexed; chunks whose text
/// did not change keep their vectors.
async fn update(
    sql: &SpinSql,
    tenant: &Tenant,
    id: &str,
    input: DocumentInput,
    chunking: Chunking,
) -> Result<Reply, ApiError> {
    let updated = lode_ingest::pipeline(sql, tenant)
        .update(id, input, chunking, &lode_ingest::Quiet)
        .await?
        .ok_or_else(|| ApiError::not_found("document"))?;
    let extra = json!({"chunk_count": updated.chunk_count, "chunks_embedded": updated.embedded});
    Ok(Reply::json(200, with(&updated.document, extra)))
}

/// `POST /api/documents/upload`. `multipart/form-data` is always queued.
/// Otherwise the body is the file, `Content-Type` its media type, the name
/// from `Content-Disposition: attachment; filename=…` or `?filename=`;
/// `?title=`, `?metadata.<key>=` and `?priority=` are optional. Queued
/// (202) unless `?sync=true` asks to extract and index within the request
/// (201, for small files and scripts).
async fn upload(sql: &SpinSql, who: &Principal, req: ApiRequest) -> Result<Reply, ApiError> {
    let tenant = &who.tenant;
    if req
        .header("content-type")
        .is_some_and(|t| base_type(t) == "multipart/form-data")
    {
        let chunking = chunking(sql, tenant, &req.query).await?;
        return queued::form(sql, who, &req, chunking).await;
    }
    let media_type = req
        .header("content-type")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the file's media type in Content-Type (application/pdf, text/html, text/markdown or text/plain)",
            )
        })?
        .to_string();
    if req.body.is_empty() {
        return Err(ApiError::invalid("the upload is empty"));
    }
    let options = UploadQuery::parse(&req.query, tenant_chunking(sql, tenant).await?)?;
    let filename = options.filename.clone().or_else(|| {
        req.header("content-disposition")
            .and_then(disposition_filename)
    });
    let password = req.header("lode-pdf-password").map(str::to_string);
    if !options.sync {
        if password.is_some() {
            return Err(ApiError::invalid(
                "Lode does not store PDF passwords with queued jobs; send an encrypted PDF with ?sync=true",
            ));
        }
        return queued::raw(sql, who, req, &media_type, filename, options).await;
    }
    let extracted = WitSteps.extract(&req.body, &media_type, password)?;
    let mut source = Map::new();
    source.insert("media_type".into(), json!(base_type(&media_type)));
    if let Some(f) = &filename {
        source.insert("filename".into(), json!(f));
    }
    ingest_extracted(sql, tenant, extracted, options, filename, source).await
}

/// `POST /api/documents/from-url` with `{"url": …, "title"?, "metadata"?,
/// "priority"?}`: queued (202), unless `?sync=true`.
async fn from_url(sql: &SpinSql, who: &Principal, req: &ApiRequest) -> Result<Reply, ApiError> {
    let tenant = &who.tenant;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct FromUrl {
        url: String,
        title: Option<String>,
        metadata: Option<Map<String, Json>>,
        priority: Option<String>,
    }
    let body: FromUrl = req.json(lode_common::body_limit().await?)?;
    let url = fetch::parse_url(&body.url)?;
    let mut options = UploadQuery::parse(&req.query, tenant_chunking(sql, tenant).await?)?;
    options.title = body.title.or(options.title);
    options.metadata.extend(body.metadata.unwrap_or_default());
    if let Some(p) = body.priority {
        options.priority = queued::priority(&p)?;
    }
    let fence = fetch::Fence::load(&SpinHost).await;
    fence.check(&url)?;
    if !options.sync {
        return queued::url(sql, who, url, options).await;
    }
    let fetched = fetch::fetch(&SpinHost, url, upload_limit().await?, &fence).await?;
    let extracted = WitSteps.extract(&fetched.bytes, &fetched.media_type, None)?;
    let (name, source) = fetch::source(&fetched);
    ingest_extracted(sql, tenant, extracted, options, name, source).await
}

/// Store an upload's or a URL's extracted text.
async fn ingest_extracted(
    sql: &SpinSql,
    tenant: &Tenant,
    extracted: Extracted,
    options: UploadQuery,
    name: Option<String>,
    source: Map<String, Json>,
) -> Result<Reply, ApiError> {
    let options_ = lode_ingest::Options {
        title: options.title,
        metadata: options.metadata,
        chunking: options.chunking,
    };
    created(
        lode_ingest::pipeline(sql, tenant)
            .add_extracted(extracted, options_, name, source, &lode_ingest::Quiet)
            .await?,
    )
}

/// The chunking for one request: the tenant's settings, overridden by
/// `?chunk_tokens=&chunk_overlap=`.
async fn chunking(sql: &SpinSql, tenant: &Tenant, query: &str) -> Result<Chunking, ApiError> {
    tenant_chunking(sql, tenant).await?.with_query(query)
}

async fn tenant_chunking(sql: &SpinSql, tenant: &Tenant) -> Result<Chunking, ApiError> {
    Ok(Settings::new(sql, tenant).get().await?.settings.chunking)
}

/// Query parameters of the upload routes.
pub(crate) struct UploadQuery {
    pub(crate) title: Option<String>,
    pub(crate) filename: Option<String>,
    pub(crate) metadata: Map<String, Json>,
    pub(crate) chunking: Chunking,
    pub(crate) priority: Priority,
    /// Ingest within the request instead of queueing.
    pub(crate) sync: bool,
}

impl UploadQuery {
    /// `base` is the tenant's chunking, which `chunk_*` parameters override.
    fn parse(query: &str, base: Chunking) -> Result<UploadQuery, ApiError> {
        let mut q = UploadQuery {
            title: None,
            filename: None,
            metadata: Map::new(),
            chunking: base.with_query(query)?,
            priority: Priority::Normal,
            sync: false,
        };
        for (k, v) in lode_api::query::pairs(query) {
            match k.as_str() {
                "title" => q.title = Some(v),
                "filename" => q.filename = Some(v),
                "priority" => q.priority = queued::priority(&v)?,
                "sync" => {
                    q.sync = match v.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(ApiError::bad_request("sync must be true or false")),
                    }
                }
                "chunk_tokens" | "chunk_overlap" => {}
                _ => match k.strip_prefix("metadata.") {
                    Some(key) => {
                        q.metadata.insert(key.to_string(), Json::String(v));
                    }
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "unknown query parameter {k:?}; use title, filename, priority, sync, chunk_tokens, chunk_overlap or metadata.<key>"
                        )));
                    }
                },
            }
        }
        Ok(q)
    }
}

/// `filename` (or RFC 5987 `filename*=UTF-8''…`) from a Content-Disposition value.
fn disposition_filename(value: &str) -> Option<String> {
    let mut plain = None;
    for part in value.split(';').map(str::trim) {
        if let Some(v) = part.strip_prefix("filename*=") {
            let encoded = v.split_once("''").map(|(_, rest)| rest).unwrap_or(v);
            let decoded = lode_api::query::pairs(&format!("f={encoded}"))
                .pop()
                .map(|(_, v)| v)?;
            return Some(decoded);
        }
        if let Some(v) = part.strip_prefix("filename=") {
            plain = Some(v.trim_matches('"').to_string());
        }
    }
    plain.filter(|f| !f.is_empty())
}

/// `GET /api/documents/{id}/chunks`: the document's chunks in order.
async fn chunks(sql: &SpinSql, tenant: &Tenant, id: &str) -> Result<Reply, ApiError> {
    if Documents::new(sql, tenant).get(id).await?.is_none() {
        return Err(ApiError::not_found("document"));
    }
    let model = lode_ingest::model();
    let chunks = Index::new(sql, tenant, &model).document_chunks(id).await?;
    Ok(Reply::json(200, json!({ "data": chunks })))
}

/// A document's JSON with extra fields.
fn with(doc: &Document, extra: Json) -> Json {
    let mut value = serde_json::to_value(doc).unwrap_or(Json::Null);
    if let (Json::Object(map), Json::Object(more)) = (&mut value, extra) {
        map.extend(more);
    }
    value
}

async fn list(docs: &Documents<'_, SpinSql>, req: &ApiRequest) -> Result<Reply, ApiError> {
    let page = docs.list(&ListQuery::parse(&req.query)?).await?;
    Ok(Reply::json(200, page))
}

fn found<T: serde::Serialize>(value: Option<T>) -> Result<Reply, ApiError> {
    value
        .map(|v| Reply::json(200, v))
        .ok_or_else(|| ApiError::not_found("document"))
}
