//! Token spans from the embedding model's own WordPiece tokenizer.

use tokenizers::Tokenizer;

/// The model's tokenizer, without truncation or padding.
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

    /// Wordpieces in `text`, special tokens excluded (no offsets tracked).
    pub fn count(&self, text: &str) -> usize {
        self.0
            .encode_fast(text, false)
            .map(|e| e.len())
            .unwrap_or(usize::MAX)
    }
}

impl crate::Tokenize for ModelTokenizer {
    fn spans(&self, text: &str) -> Vec<(usize, usize)> {
        // `encode` reports byte offsets into the original (unnormalised) text.
        match self.0.encode(text, false) {
            Ok(e) => e.get_offsets().to_vec(),
            // WordPiece does not fail on text; should it, one token per
            // character keeps every chunk within the window.
            Err(_) => text
                .char_indices()
                .map(|(i, c)| (i, i + c.len_utf8()))
                .collect(),
        }
    }
}
