//! The Markdown chunker on arbitrary text, with a word counter standing in
//! for the tokenizer: chunks must be valid character ranges of the input,
//! in order.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options = lode_chunk::ChunkOptions::default();
    let count = |s: &str| s.split_whitespace().count();
    let chunks = lode_chunk::chunk_markdown(text, options, &count);
    let chars = text.chars().count();
    let mut last_start = 0;
    for c in &chunks {
        assert!(
            c.chars.0 <= c.chars.1 && c.chars.1 <= chars,
            "{:?} of {chars}",
            c.chars
        );
        assert!(c.chars.0 >= last_start, "chunks out of order");
        last_start = c.chars.0;
    }
});
