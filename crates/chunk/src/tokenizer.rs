//! Token counting with the embedding model's own WordPiece tokenizer.

use tokenizers::Tokenizer;

/// The model's tokenizer, without truncation or padding, used only to count.
pub struct ModelTokenizer(Tokenizer);

impl ModelTokenizer {
    /// Load from `tokenizer.json` bytes.
    pub fn from_bytes(json: &[u8]) -> Result<ModelTokenizer, String> {
        tokenizers::utils::parallelism::set_parallelism(false);
        let mut t = Tokenizer::from_bytes(json).map_err(|e| e.to_string())?;
        t.with_truncation(None).map_err(|e| e.to_string())?;
        t.with_padding(None);
        Ok(ModelTokenizer(t))
    }

    /// Wordpieces in `text`, special tokens excluded.
    pub fn count(&self, text: &str) -> usize {
        self.0
            .encode_fast(text, false)
            .map(|e| e.len())
            .unwrap_or(usize::MAX)
    }
}
