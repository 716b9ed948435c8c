//! The `embed` step in Wasm: all-MiniLM-L6-v2 on tract (`lode-embed`), with
//! the model and tokenizer embedded at build time.
//!
//! Loading and optimising the model takes about half a second, far too long
//! per request, so the build runs `wizer-initialize` once and snapshots the
//! instance (`lode-host wizen`, wasmtime-wizer): every instance then starts
//! with the optimised plan already in memory. The snapshot is a plain
//! component; real Spin runs it unchanged.

use std::sync::LazyLock;

use exports::lode::embed::embed::{Embeddings, Guest};
use lode_embed::{DIM, Embedder, MODEL_ID};

spin_sdk::wit_bindgen::generate!({
    world: "lode:embed/embedder",
    path: "../../../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

/// `make setup` installs both files into `models/`, checked by sha256.
static ONNX: &[u8] = include_bytes!("../../../../models/all-MiniLM-L6-v2-fp32.onnx");
static TOKENIZER: &[u8] = include_bytes!("../../../../models/tokenizer.json");

/// Built by `wizer-initialize` at build time (or on first use when the
/// component was not pre-initialised).
static EMBEDDER: LazyLock<Result<Embedder, String>> =
    LazyLock::new(|| Embedder::from_bytes(ONNX, TOKENIZER).map_err(|e| format!("{e:#}")));

struct Step;

impl Guest for Step {
    fn model() -> String {
        MODEL_ID.to_string()
    }

    fn embed(texts: Vec<String>) -> Result<Embeddings, String> {
        let embedder = EMBEDDER.as_ref().map_err(Clone::clone)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = embedder.embed(&refs).map_err(|e| format!("{e:#}"))?;
        Ok(Embeddings {
            model: MODEL_ID.to_string(),
            dimensions: DIM as u32,
            vectors,
        })
    }
}

export!(Step);

/// The build-time initialiser that wasmtime-wizer calls before snapshotting.
/// Pure computation only: no I/O, no Spin calls (host state is not snapshotted).
mod wizer_init {
    spin_sdk::wit_bindgen::generate!({
        inline: "package lode:wizer;\nworld init { export wizer-initialize: func(); }",
        world: "init",
        runtime_path: "::spin_sdk::wit_bindgen::rt",
    });

    struct Init;

    impl Guest for Init {
        fn wizer_initialize() {
            // Warm with one real call so tract's lazily built kernels are in the snapshot too.
            if let Ok(e) = super::EMBEDDER.as_ref() {
                let _ = e.embed(&["warm up"]);
            }
        }
    }

    export!(Init);
}
