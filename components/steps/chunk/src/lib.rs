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

/// The tokenizer, parsed once per instance.
fn tokenizer() -> &'static lode_chunk::ModelTokenizer {
    static TOKENIZER: std::sync::OnceLock<lode_chunk::ModelTokenizer> = std::sync::OnceLock::new();
    // The tokenizer file is fixed at build time and sha256-checked by
    // `scripts/models.sh`, so a parse failure is a build defect.
    TOKENIZER.get_or_init(|| {
        lode_chunk::ModelTokenizer::from_bytes(TOKENIZER_JSON)
            .expect("embedded tokenizer.json parses")
    })
}

struct Chunker;

impl Guest for Chunker {
    fn split(markdown: String, pages: Vec<PageSpan>, options: Options) -> Vec<Chunk> {
        let options = lode_chunk::ChunkOptions {
            target_tokens: options.target_tokens as usize,
            overlap: options.overlap,
            max_tokens: options.max_tokens as usize,
        };
        let chunks = lode_chunk::chunk_markdown(&markdown, options, tokenizer());
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

    fn count(text: String) -> u32 {
        u32::try_from(tokenizer().count(&text)).unwrap_or(u32::MAX)
    }
}

export!(Chunker);
