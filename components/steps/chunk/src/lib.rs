//! The `chunk` step: exports `lode:chunk/chunk` over `lode-chunk`, counting
//! tokens with all-MiniLM-L6-v2's own `tokenizer.json`, which is embedded at
//! build time (`make setup` installs it, sha256-checked, into `models/`).

use exports::lode::chunk::chunk::{Chunk, Guest, Options, PageSpan};

spin_sdk::wit_bindgen::generate!({
    world: "lode:chunk/chunker",
    path: "../../../wit",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

const TOKENIZER_JSON: &[u8] = include_bytes!("../../../../models/tokenizer.json");

struct Chunker;

impl Guest for Chunker {
    fn split(markdown: String, pages: Vec<PageSpan>, options: Options) -> Vec<Chunk> {
        // The tokenizer file is fixed at build time and sha256-checked by
        // `scripts/models.sh`, so a parse failure is a build defect.
        let tokenizer = lode_chunk::ModelTokenizer::from_bytes(TOKENIZER_JSON)
            .expect("embedded tokenizer.json parses");
        let options = lode_chunk::ChunkOptions {
            target_tokens: options.target_tokens as usize,
            overlap: options.overlap,
            max_tokens: options.max_tokens as usize,
        };
        let chunks = lode_chunk::chunk_markdown(&markdown, options, &|s| tokenizer.count(s));
        let spans: Vec<lode_chunk::PageSpan> = pages
            .iter()
            .map(|p| lode_chunk::PageSpan {
                page: p.page,
                start: p.start as usize,
                end: p.end as usize,
            })
            .collect();
        let page_ranges = lode_chunk::chunk_pages(&markdown, &chunks, &spans);
        chunks
            .into_iter()
            .zip(page_ranges)
            .map(|(c, pages)| Chunk {
                text: c.text,
                heading_path: c.heading_path,
                first_page: pages.map(|p| p.0),
                last_page: pages.map(|p| p.1),
                start: c.chars.0 as u32,
                end: c.chars.1 as u32,
                token_count: c.token_count as u32,
            })
            .collect()
    }
}

export!(Chunker);
