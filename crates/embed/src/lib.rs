//! all-MiniLM-L6-v2 sentence embeddings on tract-onnx, in-process.
//!
//! The pipeline is sentence-transformers' own: WordPiece tokenisation
//! truncated to 256 tokens, the BERT encoder, mean pooling over the attention
//! mask, L2 normalisation. One optimised tract plan with symbolic batch and
//! sequence dimensions serves every call, so the model is loaded once.
//! Pure Rust: the same crate runs natively (lode-host) and inside a Wasm component.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams, TruncationStrategy};
use tract_onnx::prelude::*;

/// The model's name as stored with every vector, so vectors of different models never mix.
pub const MODEL_ID: &str = "all-MiniLM-L6-v2";
/// Embedding width.
pub const DIM: usize = 384;
/// The model's window in wordpieces, [CLS] and [SEP] included (sentence-transformers' max_seq_length).
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass. Measured with tract 0.23.9 on this model
/// (`cargo run --release -p lode-embed --example throughput`, one thread):
/// 18-word sentences 73/s at batch 1 vs 41/s at batch 32; 180-word passages
/// 9.5/s at batch 1, 6.9/s at 8, 5.6/s at 32. Unlike ONNX Runtime, tract
/// gains nothing from batching here, so every text runs alone (no padding).
pub const BATCH: usize = 1;

/// File names inside a model directory.
pub const ONNX_FILE: &str = "all-MiniLM-L6-v2-fp32.onnx";
/// Tokenizer file name.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// sha256 of the fp32 ONNX export (see shared/models/README.md).
pub const ONNX_SHA256: &str = "3ca78847be8879e358c456672e54a16b2bfb252dda6adea808d350aefa587229";
/// sha256 of the model's tokenizer.json.
pub const TOKENIZER_SHA256: &str =
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037";

type Plan = Arc<TypedRunnableModel>;

/// A loaded model: tokenizer, counting tokenizer and optimised plan.
pub struct Embedder {
    plan: Plan,
    tokenizer: Tokenizer,
    counter: Tokenizer,
}

fn tok_err(e: Box<dyn std::error::Error + Send + Sync>) -> anyhow::Error {
    anyhow::anyhow!("tokenizer: {e}")
}

/// Check a file's sha256 against the pinned value.
pub fn verify(bytes: &[u8], expected: &str, what: &str) -> Result<()> {
    use sha2::Digest;
    let got = hex::encode(sha2::Sha256::digest(bytes));
    if got != expected {
        bail!("{what}: sha256 {got} does not match the pinned {expected}");
    }
    Ok(())
}

impl Embedder {
    /// Load `all-MiniLM-L6-v2-fp32.onnx` and `tokenizer.json` from `dir`, checking their sha256.
    pub fn load_dir(dir: &Path) -> Result<Embedder> {
        let read = |f: &str| {
            std::fs::read(dir.join(f)).with_context(|| format!("reading {}", dir.join(f).display()))
        };
        let (onnx, tokenizer) = (read(ONNX_FILE)?, read(TOKENIZER_FILE)?);
        verify(&onnx, ONNX_SHA256, ONNX_FILE)?;
        verify(&tokenizer, TOKENIZER_SHA256, TOKENIZER_FILE)?;
        Embedder::from_bytes(&onnx, &tokenizer)
    }

    /// Build from the model and tokenizer bytes.
    pub fn from_bytes(onnx: &[u8], tokenizer_json: &[u8]) -> Result<Embedder> {
        tokenizers::utils::parallelism::set_parallelism(false);
        let mut tokenizer = Tokenizer::from_bytes(tokenizer_json).map_err(tok_err)?;
        let mut counter = tokenizer.clone();
        counter.with_truncation(None).map_err(tok_err)?;
        counter.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                ..Default::default()
            }))
            .map_err(tok_err)?;
        let pad_id = tokenizer.token_to_id("[PAD]").unwrap_or(0);
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token: "[PAD]".into(),
            ..Default::default()
        }));
        Ok(Embedder {
            plan: load_plan(onnx)?,
            tokenizer,
            counter,
        })
    }

    /// Wordpieces in `text` without special tokens and without truncation:
    /// what the chunker budgets against.
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self
            .counter
            .encode_fast(text, false)
            .map_err(tok_err)?
            .len())
    }

    /// Embed texts; returns one unit-length 384-d vector per text, in order.
    ///
    /// Texts are sorted by length and run in batches of [`BATCH`], so short
    /// texts are never padded up to long ones.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for group in order.chunks(BATCH) {
            let batch: Vec<&str> = group.iter().map(|&i| texts[i]).collect();
            for (&i, v) in group.iter().zip(self.embed_batch(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(tok_err)?;
        let (b, s) = (enc.len(), enc.first().map_or(0, |e| e.len()));
        let mut ids = Vec::with_capacity(b * s);
        let mut mask = Vec::with_capacity(b * s);
        let mut types = Vec::with_capacity(b * s);
        for e in &enc {
            ids.extend(e.get_ids().iter().map(|&x| x as i64));
            mask.extend(e.get_attention_mask().iter().map(|&x| x as i64));
            types.extend(e.get_type_ids().iter().map(|&x| x as i64));
        }
        let tensor = |v: Vec<i64>| -> Result<TValue> {
            Ok(tract_ndarray::Array2::from_shape_vec((b, s), v)?.into_tvalue())
        };
        let out = self
            .plan
            .run(tvec![tensor(ids)?, tensor(mask.clone())?, tensor(types)?])?;
        let hidden = &out[0];
        let shape = hidden.shape();
        if shape != [b, s, DIM] {
            bail!("unexpected model output shape {shape:?}");
        }
        let flat: &[f32] = hidden.try_as_plain_ram()?.as_slice::<f32>()?;
        Ok(mean_pool_l2(flat, [b, s, DIM], &mask))
    }
}

fn load_plan(onnx: &[u8]) -> Result<Plan> {
    let mut model = tract_onnx::onnx().model_for_read(&mut &onnx[..])?;
    model.set_input_names(["input_ids", "attention_mask", "token_type_ids"])?;
    model.select_outputs_by_name(["last_hidden_state"])?;
    // The export names its dynamic dimensions `batch` and `sequence`; reusing
    // those symbols (from the model's own scope) keeps one plan for any batch
    // and length, and pins the inputs to i64.
    let (b, s) = (model.sym("batch"), model.sym("sequence"));
    for ix in 0..3 {
        model.set_input_fact(ix, i64::fact([b.clone(), s.clone()]).into())?;
    }
    model.into_optimized()?.into_runnable()
}

/// sentence-transformers' `Pooling(mean)` then `Normalize()`:
/// Σ(h·m) / max(Σm, 1e-9), divided by max(‖·‖, 1e-12).
pub fn mean_pool_l2(hidden: &[f32], [batch, seq, dim]: [usize; 3], mask: &[i64]) -> Vec<Vec<f32>> {
    (0..batch)
        .map(|b| {
            let mut acc = vec![0f32; dim];
            let mut count = 0f32;
            for t in 0..seq {
                let m = mask[b * seq + t] as f32;
                if m == 0.0 {
                    continue;
                }
                count += m;
                let row = &hidden[(b * seq + t) * dim..][..dim];
                acc.iter_mut().zip(row).for_each(|(a, &h)| *a += h * m);
            }
            let denom = count.max(1e-9);
            acc.iter_mut().for_each(|a| *a /= denom);
            let norm = acc.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
            acc.iter_mut().for_each(|a| *a /= norm);
            acc
        })
        .collect()
}

/// The model files of a checkout: `LODE_MODEL_DIR`, else the repository's
/// `models/` (what `make setup` fills), for tests and tools run in place.
pub fn repo_model_dir() -> std::path::PathBuf {
    std::env::var_os("LODE_MODEL_DIR")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_ignores_padding_and_normalises() {
        // batch 1, seq 3 (last is padding), dim 2
        let hidden = [1.0, 0.0, 3.0, 0.0, 100.0, 100.0];
        let v = mean_pool_l2(&hidden, [1, 3, 2], &[1, 1, 0]);
        assert_eq!(v, vec![vec![1.0, 0.0]]);
    }

    #[test]
    fn real_model_behaves_like_sentence_transformers() {
        let e = Embedder::load_dir(&repo_model_dir()).expect("model files (make models)");
        let texts = [
            "The boundary layer separates at high angles of attack.",
            "Flow separation occurs when the wing's angle of attack is large.",
            "My cat sleeps on the sofa all afternoon.",
        ];
        let v = e.embed(&texts).unwrap();
        assert!(
            v.iter()
                .all(|x| x.len() == DIM && (cosine(x, x) - 1.0).abs() < 1e-4)
        );
        assert!(
            cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.3,
            "related sentences are closer"
        );
        // Batched and single embeddings agree (padding is masked out).
        let single = e.embed(&texts[2..]).unwrap();
        assert!(cosine(&single[0], &v[2]) > 0.99999);
        // Long input is truncated to the window, never an error.
        let long = "wing ".repeat(2000);
        assert_eq!(e.embed(&[long.as_str()]).unwrap()[0].len(), DIM);
        assert_eq!(e.count_tokens("hello world").unwrap(), 2);
        assert!(e.count_tokens(&long).unwrap() >= 2000);
    }
}
