//! The search API: `POST /api/search` (`mode`: `vector`, `fulltext` or
//! `hybrid`, the default) and the fixed-mode aliases `/api/search/vector` and
//! `/api/search/fulltext`. The query is embedded by the composed
//! `lode:embed/embed` step (the same model that embedded the chunks);
//! ranking, fusion, filters and snippets live in `lode-index`.

use lode_api::ApiError;
use lode_auth::routes::SearchRoute;
use lode_common::{ApiCall, Reply, api_call, body_limit};
use lode_index::{Index, Mode, SearchRequest};
use serde_json::json;
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

spin_sdk::wit_bindgen::generate!({
    world: "search",
    // The step interfaces live in their own packages (wit/deps/).
    generate_all,
    path: "../../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

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
        ..
    } = api_call(req).await?;
    let route_mode = match handler {
        SearchRoute::Hybrid => None,
        SearchRoute::Vector => Some(Mode::Vector),
        SearchRoute::Fulltext => Some(Mode::Fulltext),
    };
    let query = req
        .json::<SearchRequest>(body_limit().await?)?
        .validate(route_mode)?;
    let model = lode::embed::embed::model();
    let vector = match query.needs_vector() {
        true => Some(embed_query(&query.text).await?),
        false => None,
    };
    let hits = Index::new(&sql, &who.tenant, &model)
        .search(&query, vector.as_deref())
        .await?;
    Ok(Reply::json(
        200,
        json!({ "query": query.text, "mode": query.mode, "k": query.k, "model": model, "data": hits }),
    ))
}

async fn embed_query(text: &str) -> Result<Vec<f32>, ApiError> {
    let started = std::time::Instant::now();
    let mut out = lode::embed::embed::embed(&[text.to_string()]).map_err(|e| {
        lode_common::log_error!("embed step failed: {e}");
        ApiError::unavailable("the embedding model is unavailable")
    })?;
    lode_common::metrics::embedded("query", 1, started.elapsed()).await;
    out.vectors.pop().ok_or_else(ApiError::internal)
}
