//! Ingestion (`lode_pipeline`) over Spin, shared by every component that
//! ingests (the documents API and the queue worker): the pipeline steps are
//! the composed `lode:{extract,chunk,embed}` components ([`WitSteps`],
//! through the component's `[component.x.dependencies]`) and the host
//! capabilities are Spin's ([`SpinHost`]). A component that links this
//! crate imports the `ingest` world.

use lode_api::{ApiError, ErrorCode};
use lode_common::{SpinHost, SpinSql};
use lode_index::ChunkRecord;
use lode_store::ids::sha256_hex;
use lode_store::{Chunking, Tenant};

pub use lode_pipeline::{
    Extracted, Ingested, Options, PageSpan, Pipeline, Progress, Quiet, Steps, base_type, fetch,
};

use crate::lode::chunk::chunk;
use crate::lode::embed::embed;
use crate::lode::extract::extract;

spin_sdk::wit_bindgen::generate!({
    world: "ingest",
    // The step interfaces live in their own packages (wit/deps/).
    generate_all,
    path: "../../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

/// Pages a PDF may have before it is refused.
const MAX_PAGES: u32 = 2000;

/// The pipeline over this component's capabilities and composed steps.
pub fn pipeline<'a>(
    sql: &'a SpinSql,
    tenant: &'a Tenant,
) -> Pipeline<'a, SpinHost, SpinSql, WitSteps> {
    Pipeline {
        host: &SpinHost,
        sql,
        tenant,
        steps: &WitSteps,
    }
}

/// The model id of the composed embed step.
pub fn model() -> String {
    embed::model()
}

/// The composed step components, called through their WIT interfaces.
pub struct WitSteps;

impl Steps for WitSteps {
    fn model(&self) -> String {
        embed::model()
    }

    fn extract(
        &self,
        bytes: &[u8],
        media_type: &str,
        password: Option<String>,
    ) -> Result<Extracted, ApiError> {
        let options = extract::Options {
            password,
            max_pages: MAX_PAGES,
        };
        let out = extract::extract(bytes, media_type, &options).map_err(|e| match e {
            extract::Error::Unsupported(m) => ApiError::new(ErrorCode::UnsupportedMediaType, m),
            extract::Error::Encrypted => ApiError::new(
                ErrorCode::Encrypted,
                "the PDF is encrypted; send its password in the Lode-Pdf-Password header",
            ),
            extract::Error::Malformed(m) => ApiError::new(ErrorCode::Unreadable, m),
            extract::Error::TooLarge(m) => ApiError::new(ErrorCode::PayloadTooLarge, m),
            extract::Error::Encoding(m) => ApiError::new(ErrorCode::Unreadable, m),
        })?;
        Ok(Extracted {
            markdown: out.markdown,
            pages: out
                .pages
                .into_iter()
                .map(|p| PageSpan {
                    page: p.page,
                    start: p.start,
                    end: p.end,
                })
                .collect(),
            title: out.title,
            author: out.author,
            language: out.language,
            warnings: out.warnings,
        })
    }

    fn split(&self, markdown: &str, pages: &[PageSpan], chunking: Chunking) -> Vec<ChunkRecord> {
        let spans: Vec<chunk::PageSpan> = pages
            .iter()
            .map(|p| chunk::PageSpan {
                page: p.page,
                start: p.start,
                end: p.end,
            })
            .collect();
        let options = chunk::Options {
            target_tokens: chunking.target_tokens,
            overlap: chunking.overlap as f32,
            max_tokens: 254,
        };
        chunk::split(markdown, &spans, options)
            .into_iter()
            .enumerate()
            .map(|(i, c)| ChunkRecord {
                ordinal: i as i64,
                sha256: sha256_hex(c.text.as_bytes()),
                pages: c
                    .first_page
                    .zip(c.last_page)
                    .map(|(a, b)| (a as i64, b as i64)),
                chars: (c.start as i64, c.end as i64),
                token_count: c.token_count as i64,
                heading_path: c.heading_path,
                text: c.text,
                vector: None,
            })
            .collect()
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ApiError> {
        embed::embed(texts).map(|out| out.vectors).map_err(|e| {
            lode_common::log_error!("embed step failed: {e}");
            ApiError::unavailable("the embedding model is unavailable")
        })
    }
}
