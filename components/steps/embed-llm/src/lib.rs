//! The `embed` step backed by the host: `fermyon:spin/llm`'s
//! `generate-embeddings` with `all-minilm-l6-v2`. On `lode-host` that runs
//! the same all-MiniLM-L6-v2 natively with tract (about 4× the in-Wasm
//! speed); on Spin it needs `ai_models = ["all-minilm-l6-v2"]` on the parent
//! component and `dependencies_inherit_configuration = true`.

use exports::lode::embed::embed::{Embeddings, Guest};
use spin_sdk::llm::{EmbeddingModel, generate_embeddings};

spin_sdk::wit_bindgen::generate!({
    world: "lode:embed/embedder",
    path: "../../../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

/// The id stored with every vector; the same model as the in-Wasm backend, so
/// the two backends' vectors may be mixed in one index.
const MODEL_ID: &str = "all-MiniLM-L6-v2";
const DIMENSIONS: u32 = 384;
/// Texts per host call: bounds the size of one call's arguments and results.
const BATCH: usize = 32;

struct Embedder;

impl Guest for Embedder {
    fn model() -> String {
        MODEL_ID.to_string()
    }

    fn embed(texts: Vec<String>) -> Result<Embeddings, String> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            let result = generate_embeddings(EmbeddingModel::AllMiniLmL6V2, batch)
                .map_err(|e| format!("generate-embeddings: {e:?}"))?;
            vectors.extend(result.embeddings);
        }
        if let Some(v) = vectors.iter().find(|v| v.len() != DIMENSIONS as usize) {
            return Err(format!(
                "host returned a {}-d vector, expected {DIMENSIONS}",
                v.len()
            ));
        }
        Ok(Embeddings {
            model: MODEL_ID.to_string(),
            dimensions: DIMENSIONS,
            vectors,
        })
    }
}

export!(Embedder);
