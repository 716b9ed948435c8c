//! The Markdown chunker on arbitrary text with the model's own tokenizer:
//! chunks must be valid character ranges of the input, in order, holding
//! exactly that text, within the model's window.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn tokenizer() -> &'static lode_chunk::ModelTokenizer {
    static T: OnceLock<lode_chunk::ModelTokenizer> = OnceLock::new();
    T.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/tokenizer.json");
        let json = std::fs::read(path).expect("models/tokenizer.json (make setup)");
        lode_chunk::ModelTokenizer::from_bytes(&json).expect("tokenizer parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options = lode_chunk::ChunkOptions::default();
    let chunks = lode_chunk::chunk_markdown(text, options, tokenizer());
    let chars: Vec<char> = text.chars().collect();
    let mut last_start = 0;
    for c in &chunks {
        assert!(
            c.chars.0 <= c.chars.1 && c.chars.1 <= chars.len(),
            "{:?} of {}",
            c.chars,
            chars.len()
        );
        assert!(c.chars.0 >= last_start, "chunks out of order");
        let slice: String = chars[c.chars.0..c.chars.1].iter().collect();
        assert_eq!(slice, c.text, "offsets point at the text");
        assert!(c.token_count <= options.max_tokens, "{} tokens", c.token_count);
        last_start = c.chars.0;
    }
});
