//! Split a document's Markdown into chunks that fit the embedding model.
//!
//! Chunks never cross a heading (each carries its heading path, so results can
//! cite "§2.1"); inside a section they are packed from paragraphs, paragraphs
//! too long for one chunk are split into sentences, and sentences too long
//! into word runs. Consecutive chunks of a section overlap by about
//! `overlap` of the target size. Token counts come from a caller-supplied
//! counter (the model's own tokenizer, see [`ModelTokenizer`]), so a chunk never
//! exceeds the model's window.

#[cfg(feature = "tokenizer")]
mod tokenizer;
#[cfg(feature = "tokenizer")]
pub use tokenizer::ModelTokenizer;

/// How to chunk.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkOptions {
    /// Aim for chunks of about this many tokens.
    pub target_tokens: usize,
    /// Share of `target_tokens` repeated from the end of the previous chunk.
    pub overlap: f32,
    /// Hard ceiling: the model's window minus its special tokens.
    pub max_tokens: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            target_tokens: 200,
            overlap: 0.15,
            max_tokens: 254,
        }
    }
}

impl ChunkOptions {
    /// Clamp user-supplied options to workable values (target 16..=max, overlap 0..=0.5).
    pub fn sanitized(self) -> ChunkOptions {
        let max_tokens = self.max_tokens.clamp(16, 254);
        ChunkOptions {
            target_tokens: self.target_tokens.clamp(16, max_tokens),
            overlap: if self.overlap.is_finite() {
                self.overlap.clamp(0.0, 0.5)
            } else {
                0.15
            },
            max_tokens,
        }
    }
}

/// One chunk of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// The chunk's text, a verbatim slice of the document.
    pub text: String,
    /// Headings above it, outermost first.
    pub heading_path: Vec<String>,
    /// Character (not byte) offsets of `text` in the document.
    pub chars: (usize, usize),
    /// Tokens by the counter used.
    pub token_count: usize,
}

/// A span of the source that packing treats as indivisible.
#[derive(Debug, Clone, Copy)]
struct Unit {
    start: usize,
    end: usize,
    tokens: usize,
}

/// Chunk `text` (Markdown or plain) with `count` giving the tokens of a string.
pub fn chunk_markdown(
    text: &str,
    options: ChunkOptions,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let options = options.sanitized();
    let mut chunks = Vec::new();
    for section in sections(text) {
        let units = section
            .blocks
            .iter()
            .flat_map(|&(s, e)| split_block(text, s, e, options, count))
            .collect::<Vec<_>>();
        pack(text, &units, &section.path, options, count, &mut chunks);
    }
    chunks
}

struct Section {
    path: Vec<String>,
    /// Byte ranges of paragraphs (a heading line is its own block).
    blocks: Vec<(usize, usize)>,
}

/// Split into heading-delimited sections of blank-line-separated blocks;
/// fenced code stays one block.
fn sections(text: &str) -> Vec<Section> {
    let mut out = vec![Section {
        path: vec![],
        blocks: vec![],
    }];
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut block: Option<(usize, usize)> = None;
    let mut in_fence = false;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let (start, end) = (pos, pos + line.len());
        pos = end;
        let trimmed = line.trim();
        let content_end = start + line.trim_end().len();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        }
        let heading = (!in_fence).then(|| heading(trimmed)).flatten();
        if let Some((level, title)) = heading {
            if let Some(b) = block.take() {
                out.last_mut().unwrap().blocks.push(b);
            }
            stack.retain(|(l, _)| *l < level);
            stack.push((level, title));
            out.push(Section {
                path: stack.iter().map(|(_, t)| t.clone()).collect(),
                blocks: vec![(start, content_end)],
            });
        } else if trimmed.is_empty() && !in_fence {
            if let Some(b) = block.take() {
                out.last_mut().unwrap().blocks.push(b);
            }
        } else {
            let b =
                block.get_or_insert((start + (line.len() - line.trim_start().len()), content_end));
            b.1 = content_end.max(b.1);
        }
    }
    if let Some(b) = block {
        out.last_mut().unwrap().blocks.push(b);
    }
    out.retain(|s| !s.blocks.is_empty());
    out
}

/// `## Title` → (2, "Title").
fn heading(line: &str) -> Option<(usize, String)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    let rest = &line[level..];
    ((1..=6).contains(&level) && (rest.is_empty() || rest.starts_with(' ')))
        .then(|| (level, rest.trim().trim_end_matches('#').trim().to_string()))
}

/// A block as units: whole if it fits the target, else sentences, else word runs.
fn split_block(
    text: &str,
    start: usize,
    end: usize,
    o: ChunkOptions,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Unit> {
    let tokens = count(&text[start..end]);
    if tokens <= o.target_tokens {
        return vec![Unit { start, end, tokens }];
    }
    let mut units = Vec::new();
    for (s, e) in sentences(text, start, end) {
        let t = count(&text[s..e]);
        if t <= o.target_tokens {
            units.push(Unit {
                start: s,
                end: e,
                tokens: t,
            });
        } else {
            units.extend(word_runs(text, s, e, o.target_tokens, count));
        }
    }
    units
}

/// Sentence spans: end after `.`, `!` or `?` followed by whitespace.
fn sentences(text: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let slice = &text[start..end];
    let mut out = Vec::new();
    let mut s = 0;
    let bytes = slice.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_some_and(|n| n.is_ascii_whitespace())
        {
            out.push((s, i + 1));
            s = i + 1 + slice[i + 1..].len() - slice[i + 1..].trim_start().len();
        }
    }
    if s < slice.len() {
        out.push((s, slice.len()));
    }
    out.into_iter()
        .filter(|(a, b)| b > a)
        .map(|(a, b)| (start + a, start + b))
        .collect()
}

/// Runs of whole words of at most `limit` tokens (a single over-long word is cut by characters).
fn word_runs(
    text: &str,
    start: usize,
    end: usize,
    limit: usize,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut run_start = start;
    let mut last_end = start;
    let words = text[start..end].split_whitespace().map(|w| {
        let offset = w.as_ptr() as usize - text.as_ptr() as usize;
        (offset, offset + w.len())
    });
    for (ws, we) in words {
        if count(&text[run_start..we]) > limit && last_end > run_start {
            units.push(Unit {
                start: run_start,
                end: last_end,
                tokens: count(&text[run_start..last_end]),
            });
            run_start = ws;
        }
        // A single word longer than the limit: cut it at character boundaries.
        while count(&text[run_start..we]) > limit {
            let mut cut = run_start;
            for (i, _) in text[run_start..we].char_indices().skip(1) {
                if count(&text[run_start..run_start + i]) > limit {
                    break;
                }
                cut = run_start + i;
            }
            if cut == run_start {
                break;
            }
            units.push(Unit {
                start: run_start,
                end: cut,
                tokens: count(&text[run_start..cut]),
            });
            run_start = cut;
        }
        last_end = we;
    }
    if last_end > run_start {
        units.push(Unit {
            start: run_start,
            end: last_end,
            tokens: count(&text[run_start..last_end]),
        });
    }
    units
}

/// Greedily pack units into chunks of about the target size, with overlap.
fn pack(
    text: &str,
    units: &[Unit],
    path: &[String],
    o: ChunkOptions,
    count: &dyn Fn(&str) -> usize,
    out: &mut Vec<Chunk>,
) {
    let overlap_budget = (o.target_tokens as f32 * o.overlap) as usize;
    let mut i = 0;
    while i < units.len() {
        let mut j = i;
        let mut tokens = 0;
        while j < units.len() && (j == i || tokens + units[j].tokens <= o.target_tokens) {
            tokens += units[j].tokens;
            j += 1;
        }
        // Sums of unit counts can undercount at joins: verify, and shrink if needed.
        let mut chunk_tokens = count(&text[units[i].start..units[j - 1].end]);
        while chunk_tokens > o.max_tokens && j - 1 > i {
            j -= 1;
            chunk_tokens = count(&text[units[i].start..units[j - 1].end]);
        }
        let (s, e) = (units[i].start, units[j - 1].end);
        out.push(Chunk {
            text: text[s..e].to_string(),
            heading_path: path.to_vec(),
            chars: (text[..s].chars().count(), text[..e].chars().count()),
            token_count: chunk_tokens,
        });
        if j >= units.len() {
            break;
        }
        // Start the next chunk with trailing units worth at most the overlap budget.
        let mut next = j;
        let mut carried = 0;
        while next > i + 1 && carried + units[next - 1].tokens <= overlap_budget {
            carried += units[next - 1].tokens;
            next -= 1;
        }
        i = next;
    }
}

#[cfg(test)]
mod tests;

/// The byte range `[start, end)` of a document's text that came from page `page`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSpan {
    /// Page number, from 1.
    pub page: u32,
    /// First byte of the page's text.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// First and last page each chunk's text came from, so a result can cite
/// "pp. 3–4". Chunks carry character offsets and extraction reports byte
/// offsets; this converts in one pass over `text`. `None` for unpaged text.
pub fn chunk_pages(text: &str, chunks: &[Chunk], pages: &[PageSpan]) -> Vec<Option<(u32, u32)>> {
    if pages.is_empty() {
        return vec![None; chunks.len()];
    }
    // Byte offset of every character position any chunk starts or ends at.
    let mut wanted: Vec<usize> = chunks.iter().flat_map(|c| [c.chars.0, c.chars.1]).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut byte_at = std::collections::HashMap::with_capacity(wanted.len());
    let mut next = wanted.iter().peekable();
    for (ci, (bi, _)) in text.char_indices().chain([(text.len(), ' ')]).enumerate() {
        while next.peek() == Some(&&ci) {
            byte_at.insert(ci, bi);
            next.next();
        }
    }
    chunks
        .iter()
        .map(|c| {
            let start = *byte_at.get(&c.chars.0)?;
            let end = *byte_at.get(&c.chars.1)?;
            let mut hit = pages
                .iter()
                .filter(|p| p.start < end.max(start + 1) && start < p.end)
                .map(|p| p.page);
            let first = hit.next()?;
            Some((first, hit.next_back().unwrap_or(first)))
        })
        .collect()
}
