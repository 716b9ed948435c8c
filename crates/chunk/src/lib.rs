//! Split a document's Markdown into chunks that fit the embedding model.
//!
//! Chunks never cross a heading (each carries its heading path, so results can
//! cite "§2.1"); inside a section they are packed from paragraphs, paragraphs
//! too long for one chunk are split into sentences, and sentences too long
//! into word runs. Consecutive chunks of a section overlap by about
//! `overlap` of the target size. Tokens come from a caller-supplied
//! [`Tokenize`] (the model's own tokenizer, see [`ModelTokenizer`]), so a chunk
//! never exceeds the model's window; each block is tokenized once and cut by
//! token index, so the work is linear in the text.

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

/// Splits text into the model's tokens. Chunking asks it once per block and
/// once per finished chunk, so the work is linear in the document's length
/// however the text is shaped (a run of `!` or of CJK characters without
/// spaces is as cheap as prose).
pub trait Tokenize {
    /// Byte ranges of `text`'s tokens, in order, special tokens excluded.
    fn spans(&self, text: &str) -> Vec<(usize, usize)>;
}

/// A span of the source that packing treats as indivisible.
#[derive(Debug, Clone, Copy)]
struct Unit {
    start: usize,
    end: usize,
    tokens: usize,
}

/// A block's tokens, as absolute byte ranges of the document.
struct Tokens(Vec<(usize, usize)>);

impl Tokens {
    /// Index of the first token starting at or after `byte`.
    fn at(&self, byte: usize) -> usize {
        self.0.partition_point(|t| t.0 < byte)
    }

    /// Tokens starting in `[start, end)`.
    fn count(&self, start: usize, end: usize) -> usize {
        self.at(end) - self.at(start)
    }
}

/// Chunk `text` (Markdown or plain), tokenized by `tokenizer`.
pub fn chunk_markdown(text: &str, options: ChunkOptions, tokenizer: &dyn Tokenize) -> Vec<Chunk> {
    let options = options.sanitized();
    let mut chunks = Vec::new();
    let mut chars = CharCursor::default();
    for section in sections(text) {
        let units = section
            .blocks
            .iter()
            .flat_map(|&(s, e)| {
                let spans = tokenizer.spans(&text[s..e]);
                let tokens = Tokens(spans.into_iter().map(|(a, b)| (s + a, s + b)).collect());
                split_block(text, s, e, &tokens, options)
            })
            .collect::<Vec<_>>();
        let packed = Packing {
            text,
            path: &section.path,
            options,
            tokenizer,
        };
        packed.pack(&units, &mut chars, &mut chunks);
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

/// A block as units: whole if it fits the target, else sentences, else word
/// runs, else runs of tokens. Counts come from the block's one tokenization.
fn split_block(
    text: &str,
    start: usize,
    end: usize,
    tokens: &Tokens,
    o: ChunkOptions,
) -> Vec<Unit> {
    let n = tokens.count(start, end);
    if n <= o.target_tokens {
        return vec![Unit {
            start,
            end,
            tokens: n,
        }];
    }
    let mut units = Vec::new();
    for (s, e) in sentences(text, start, end) {
        let t = tokens.count(s, e);
        if t <= o.target_tokens {
            units.push(Unit {
                start: s,
                end: e,
                tokens: t,
            });
        } else {
            word_runs(text, s, e, tokens, o.target_tokens, &mut units);
        }
    }
    units
}

/// Terminators that end a sentence without a following space (CJK
/// full-width and ideographic forms).
const CLOSED_TERMINATORS: &[char] = &['。', '！', '？', '｡', '．', '‼', '⁇', '⁈', '⁉'];

/// Terminators that end a sentence when whitespace follows.
const OPEN_TERMINATORS: &[char] = &['.', '!', '?', '؟', '۔', '।', '॥', '።', '…'];

/// Sentence spans: end after `.`, `!`, `?` (and other scripts' terminators)
/// followed by whitespace, or after a full-width terminator such as `。`.
fn sentences(text: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let slice = &text[start..end];
    let mut out = Vec::new();
    let mut s = 0;
    let mut chars = slice.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let after = i + c.len_utf8();
        let ends = CLOSED_TERMINATORS.contains(&c)
            || (OPEN_TERMINATORS.contains(&c)
                && chars.peek().is_some_and(|&(_, n)| n.is_whitespace()));
        if ends {
            out.push((s, after));
            while chars.peek().is_some_and(|&(_, n)| n.is_whitespace()) {
                chars.next();
            }
            s = chars.peek().map_or(slice.len(), |&(j, _)| j);
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

/// Runs of whole words of at most `limit` tokens; a word longer than that
/// (a run without spaces) is cut between its tokens.
fn word_runs(
    text: &str,
    start: usize,
    end: usize,
    tokens: &Tokens,
    limit: usize,
    units: &mut Vec<Unit>,
) {
    let mut run_start = start;
    let mut last_end = start;
    let words = text[start..end].split_whitespace().map(|w| {
        let offset = w.as_ptr() as usize - text.as_ptr() as usize;
        (offset, offset + w.len())
    });
    for (ws, we) in words {
        if tokens.count(run_start, we) > limit && last_end > run_start {
            units.push(Unit {
                start: run_start,
                end: last_end,
                tokens: tokens.count(run_start, last_end),
            });
            run_start = ws;
        }
        while tokens.count(run_start, we) > limit {
            // Cut before the token `limit` places on (never at the run's start).
            let first = tokens.at(run_start);
            let Some(&(cut, _)) = tokens.0[first + limit..].iter().find(|t| t.0 > run_start) else {
                break;
            };
            units.push(Unit {
                start: run_start,
                end: cut,
                tokens: tokens.count(run_start, cut),
            });
            run_start = cut;
        }
        last_end = we;
    }
    if last_end > run_start {
        units.push(Unit {
            start: run_start,
            end: last_end,
            tokens: tokens.count(run_start, last_end),
        });
    }
}

/// Character offsets of byte positions that mostly move forward (chunk
/// starts and ends, stepping back only by an overlap), in time linear in
/// the distance moved rather than in the position.
#[derive(Default)]
struct CharCursor {
    byte: usize,
    chars: usize,
}

impl CharCursor {
    fn at(&mut self, text: &str, byte: usize) -> usize {
        if byte >= self.byte {
            self.chars += text[self.byte..byte].chars().count();
        } else {
            self.chars -= text[byte..self.byte].chars().count();
        }
        self.byte = byte;
        self.chars
    }
}

/// Packs one section's units into chunks.
struct Packing<'a> {
    text: &'a str,
    path: &'a [String],
    options: ChunkOptions,
    tokenizer: &'a dyn Tokenize,
}

impl Packing<'_> {
    /// Greedily pack units into chunks of about the target size, with overlap.
    fn pack(&self, units: &[Unit], chars: &mut CharCursor, out: &mut Vec<Chunk>) {
        let (text, o) = (self.text, self.options);
        let overlap_budget = (o.target_tokens as f32 * o.overlap) as usize;
        let mut i = 0;
        while i < units.len() {
            let mut j = i;
            let mut tokens = 0;
            while j < units.len() && (j == i || tokens + units[j].tokens <= o.target_tokens) {
                tokens += units[j].tokens;
                j += 1;
            }
            // A chunk tokenized on its own can count more than its units did
            // (word pieces differ at a cut): verify, and shrink by at least
            // the excess before counting again.
            let mut chunk_tokens = self.count(units[i].start, units[j - 1].end);
            while chunk_tokens > o.max_tokens && j - 1 > i {
                let mut dropped = 0;
                while dropped < chunk_tokens - o.max_tokens && j - 1 > i {
                    j -= 1;
                    dropped += units[j].tokens;
                }
                chunk_tokens = self.count(units[i].start, units[j - 1].end);
            }
            let (s, e) = (units[i].start, units[j - 1].end);
            out.push(Chunk {
                text: text[s..e].to_string(),
                heading_path: self.path.to_vec(),
                chars: (chars.at(text, s), chars.at(text, e)),
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

    fn count(&self, start: usize, end: usize) -> usize {
        self.tokenizer.spans(&self.text[start..end]).len()
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
