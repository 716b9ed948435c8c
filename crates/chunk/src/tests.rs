use super::*;

/// Whitespace-separated words as tokens: predictable for structural tests.
struct Words;

impl Tokenize for Words {
    fn spans(&self, text: &str) -> Vec<(usize, usize)> {
        text.split_whitespace()
            .map(|w| {
                let at = w.as_ptr() as usize - text.as_ptr() as usize;
                (at, at + w.len())
            })
            .collect()
    }
}

fn model_tokenizer() -> ModelTokenizer {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tokenizer.json");
    ModelTokenizer::from_bytes(&std::fs::read(path).expect("models/tokenizer.json (make setup)"))
        .unwrap()
}

/// The model's tokenizer, recording how many calls and bytes it was given.
struct Counting {
    inner: ModelTokenizer,
    calls: std::cell::Cell<usize>,
    bytes: std::cell::Cell<usize>,
}

impl Tokenize for Counting {
    fn spans(&self, text: &str) -> Vec<(usize, usize)> {
        self.calls.set(self.calls.get() + 1);
        self.bytes.set(self.bytes.get() + text.len());
        self.inner.spans(text)
    }
}

/// Bytes tokenized to chunk `doc` with default options.
fn work(doc: &str) -> (usize, Vec<Chunk>) {
    let t = Counting {
        inner: model_tokenizer(),
        calls: Default::default(),
        bytes: Default::default(),
    };
    let chunks = chunk_markdown(doc, ChunkOptions::default(), &t);
    assert!(
        t.calls.get() <= 2 * chunks.len() + 2,
        "{} calls",
        t.calls.get()
    );
    (t.bytes.get(), chunks)
}

fn opts(target: usize, overlap: f32) -> ChunkOptions {
    ChunkOptions {
        target_tokens: target,
        overlap,
        max_tokens: 254,
    }
    .sanitized()
}

#[test]
fn headings_split_and_paths_nest() {
    let doc = "# Guide\nIntro text here.\n\n## Install\nRun the thing.\n\n### Linux\nUse apt.\n\n## Use\nCall it.\n";
    let chunks = chunk_markdown(doc, opts(100, 0.0), &Words);
    let paths: Vec<Vec<&str>> = chunks
        .iter()
        .map(|c| c.heading_path.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        paths,
        vec![
            vec!["Guide"],
            vec!["Guide", "Install"],
            vec!["Guide", "Install", "Linux"],
            vec!["Guide", "Use"]
        ]
    );
    assert!(chunks[1].text.starts_with("## Install") && chunks[1].text.ends_with("Run the thing."));
    for c in &chunks {
        let slice: String = doc
            .chars()
            .skip(c.chars.0)
            .take(c.chars.1 - c.chars.0)
            .collect();
        assert_eq!(slice, c.text, "offsets point at the text");
    }
}

#[test]
fn long_sections_pack_with_overlap_and_respect_the_target() {
    let para = |i: usize| format!("Paragraph {i} has exactly eight words in it.");
    let doc: String = (0..20).map(para).collect::<Vec<_>>().join("\n\n");
    let chunks = chunk_markdown(&doc, opts(40, 0.25), &Words);
    assert!(chunks.len() > 3);
    for c in &chunks {
        assert!(c.token_count <= 40, "{} tokens", c.token_count);
    }
    // Consecutive chunks share the last paragraph (8 words <= 25% of 40).
    let last_para = chunks[0].text.rsplit("\n\n").next().unwrap();
    assert!(chunks[1].text.starts_with(last_para));
    // Every paragraph is in some chunk.
    for i in 0..20 {
        assert!(
            chunks.iter().any(|c| c.text.contains(&para(i))),
            "paragraph {i} lost"
        );
    }
}

#[test]
fn oversized_paragraphs_split_by_sentence_then_words() {
    let sentence = "This sentence has exactly six words. ";
    let long_para = sentence.repeat(30);
    let one_giant_sentence = "word ".repeat(500);
    let doc = format!("{long_para}\n\n{one_giant_sentence}");
    let chunks = chunk_markdown(&doc, opts(50, 0.0), &Words);
    assert!(chunks.iter().all(|c| c.token_count <= 50));
    let total: usize = chunks.iter().map(|c| c.token_count).sum();
    assert_eq!(total, 30 * 6 + 500, "no overlap: every word exactly once");
    assert!(
        chunks.iter().take(3).all(|c| c.text.ends_with('.')),
        "sentence boundaries kept"
    );
}

#[test]
fn code_fences_are_not_headings() {
    let doc = "# Real\n```\n# not a heading\ncode\n```\nafter";
    let chunks = chunk_markdown(doc, opts(100, 0.0), &Words);
    assert!(
        chunks
            .iter()
            .all(|c| c.heading_path == vec!["Real".to_string()])
    );
}

#[test]
fn empty_and_whitespace_documents_have_no_chunks() {
    assert!(chunk_markdown("", ChunkOptions::default(), &Words).is_empty());
    assert!(chunk_markdown("\n \n\t\n", ChunkOptions::default(), &Words).is_empty());
}

#[test]
fn real_tokenizer_keeps_chunks_in_the_window() {
    let t = model_tokenizer();
    let count = |s: &str| t.count(s);
    let doc = "Supercalifragilisticexpialidocious aerothermodynamics. ".repeat(400);
    let chunks = chunk_markdown(&doc, ChunkOptions::default(), &t);
    assert!(chunks.len() > 5);
    assert!(
        chunks
            .iter()
            .all(|c| c.token_count <= 254 && count(&c.text) == c.token_count)
    );
}

#[test]
fn chunk_pages_maps_character_offsets_to_page_spans() {
    // "é" is two bytes: offsets must be converted, not reused.
    let text = "é page one.\n\nSecond page text.\n\nThird.";
    let p2 = text.find("Second").unwrap();
    let p3 = text.find("Third").unwrap();
    let pages = [
        PageSpan {
            page: 1,
            start: 0,
            end: p2,
        },
        PageSpan {
            page: 2,
            start: p2,
            end: p3,
        },
        PageSpan {
            page: 3,
            start: p3,
            end: text.len(),
        },
    ];
    let chunk = |s: usize, e: usize| Chunk {
        text: text.chars().skip(s).take(e - s).collect(),
        heading_path: vec![],
        chars: (s, e),
        token_count: 1,
    };
    let n = text.chars().count();
    let second = text[..p2].chars().count();
    let chunks = [chunk(0, 5), chunk(0, n), chunk(second, second + 6)];
    assert_eq!(
        chunk_pages(text, &chunks, &pages),
        vec![Some((1, 1)), Some((1, 3)), Some((2, 2))]
    );
    assert_eq!(chunk_pages(text, &chunks, &[]), vec![None, None, None]);
}

/// Runs without whitespace (punctuation, CJK) were re-tokenized from every
/// cut to the end: quadratic. Now each block is tokenized once and each
/// chunk once more to verify it, so doubling the input doubles the work.
#[test]
fn runs_without_spaces_chunk_in_linear_work() {
    for unit in ["!", "中", "a"] {
        let small = unit.repeat(64 * 1024 / unit.len());
        let large = unit.repeat(128 * 1024 / unit.len());
        let (w1, c1) = work(&small);
        let (w2, c2) = work(&large);
        // One pass over the block plus one per chunk (with its overlap).
        assert!(
            w1 <= 3 * small.len(),
            "{unit}: {w1} bytes tokenized for {}",
            small.len()
        );
        assert!(
            w2 <= 2 * w1 + w1 / 4,
            "{unit}: doubling the input took {w1} → {w2} bytes tokenized"
        );
        for c in c1.iter().chain(&c2) {
            assert!(
                c.token_count <= 254,
                "{unit}: chunk of {} tokens",
                c.token_count
            );
        }
        // Nothing lost: the chunks cover the whole run.
        assert_eq!(c2.first().unwrap().chars.0, 0);
        assert_eq!(c2.last().unwrap().chars.1, large.chars().count());
    }
}

#[test]
fn full_width_terminators_end_sentences() {
    let sentence = "今日は晴れです。";
    let doc = sentence.repeat(200);
    let chunks = chunk_markdown(&doc, ChunkOptions::default(), &model_tokenizer());
    assert!(chunks.len() > 1);
    assert!(
        chunks
            .iter()
            .all(|c| c.text.ends_with('。') && c.text.starts_with('今')),
        "chunks cut at sentence ends: {:?}",
        chunks.iter().map(|c| &c.text).collect::<Vec<_>>()
    );
    assert_eq!(
        sentences("Is it? Yes! 本当。Done", 0, 25)
            .iter()
            .map(|&(a, b)| &"Is it? Yes! 本当。Done"[a..b])
            .collect::<Vec<_>>(),
        vec!["Is it?", "Yes!", "本当。", "Done"]
    );
}

#[test]
fn chunk_character_offsets_are_exact_across_multibyte_text() {
    let doc = "é ".repeat(300) + "\n\n# Ünïcode\n\n" + &"中文 ".repeat(400);
    for c in chunk_markdown(&doc, opts(40, 0.25), &model_tokenizer()) {
        let slice: String = doc
            .chars()
            .skip(c.chars.0)
            .take(c.chars.1 - c.chars.0)
            .collect();
        assert_eq!(slice, c.text);
    }
}
