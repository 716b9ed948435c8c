//! Layout: positioned glyphs to text in reading order (chunks, lines,
//! column gutters, horizontal cuts, paragraphs and hyphenation). Separate
//! because it is pure geometry over glyphs, with no PDF objects in sight.

use super::walk::Glyph;

/// A gap wider than this fraction of the font size separates two words.
const SPACE_GAP: f64 = 0.15;

/// Glyphs drawn one after the other on one baseline without a wide gap.
#[derive(Debug, Clone)]
struct Chunk {
    glyphs: Vec<Glyph>,
    x0: f64,
    x1: f64,
    y: f64,
    size: f64,
}

impl Chunk {
    fn new(g: Glyph) -> Self {
        Self {
            x0: g.x0.min(g.x1),
            x1: g.x1.max(g.x0),
            y: g.y,
            size: g.size,
            glyphs: vec![g],
        }
    }

    fn push(&mut self, g: Glyph) {
        self.x0 = self.x0.min(g.x0.min(g.x1));
        self.x1 = self.x1.max(g.x1.max(g.x0));
        self.size = self.size.max(g.size);
        self.glyphs.push(g);
    }
}

/// A line of text in reading order.
#[derive(Debug)]
struct Line {
    text: String,
    y: f64,
    size: f64,
    /// First line of a column or band: a paragraph starts here.
    block_start: bool,
}

pub(super) fn layout_page(glyphs: Vec<Glyph>) -> String {
    let mut by_rot: [Vec<Glyph>; 4] = Default::default();
    for g in glyphs {
        if let Some(bucket) = by_rot.get_mut(usize::from(g.rot)) {
            bucket.push(g);
        }
    }
    let mut parts = Vec::new();
    for group in by_rot {
        if group.is_empty() {
            continue;
        }
        let chunks = make_chunks(group);
        let lines = order_chunks(chunks, 0);
        let text = write_lines(&lines);
        if !text.trim().is_empty() {
            parts.push(text);
        }
    }
    parts.join("\n\n")
}

fn make_chunks(glyphs: Vec<Glyph>) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = Vec::new();
    for g in glyphs {
        if let Some(last) = chunks.last_mut()
            && let Some(prev) = last.glyphs.last()
        {
            let size = prev.size.max(g.size);
            let gap = g.x0 - prev.x1;
            let same_line = (g.y - prev.y).abs() < 0.3 * size;
            if same_line && gap > -0.5 * size && gap < 0.4 * size {
                last.push(g);
                continue;
            }
        }
        chunks.push(Chunk::new(g));
    }
    chunks
}

/// Orders chunks into lines, splitting at a column gutter when there is one.
fn order_chunks(chunks: Vec<Chunk>, depth: usize) -> Vec<Line> {
    if depth < 4
        && let Some((lo, hi)) = find_gutter(&chunks)
    {
        let mid = (lo + hi) / 2.0;
        let mut left = Vec::new();
        let mut right = Vec::new();
        let mut spanning = Vec::new();
        for c in chunks {
            if c.x1 <= hi && c.x1 <= mid + (hi - lo) {
                if c.x1 <= lo + 0.5 {
                    left.push(c);
                } else if c.x0 >= hi - 0.5 {
                    right.push(c);
                } else {
                    spanning.push(c);
                }
            } else if c.x0 >= lo - 0.5 {
                right.push(c);
            } else {
                spanning.push(c);
            }
        }
        let spanning_lines = group_lines(spanning);
        let mut out = Vec::new();
        // Bands between the spanning lines, top to bottom.
        let mut upper = f64::INFINITY;
        let emit_band = |upper: f64,
                         lower: f64,
                         out: &mut Vec<Line>,
                         left: &mut Vec<Chunk>,
                         right: &mut Vec<Chunk>| {
            for side in [left, right] {
                let (band, rest): (Vec<Chunk>, Vec<Chunk>) =
                    side.drain(..).partition(|c| c.y < upper && c.y >= lower);
                *side = rest;
                let mut lines = order_chunks(band, depth.saturating_add(1));
                if let Some(first) = lines.first_mut() {
                    first.block_start = true;
                }
                out.extend(lines);
            }
        };
        for mut line in spanning_lines {
            emit_band(upper, line.y, &mut out, &mut left, &mut right);
            line.block_start = true;
            upper = line.y;
            out.push(line);
        }
        emit_band(upper, f64::NEG_INFINITY, &mut out, &mut left, &mut right);
        return out;
    }
    if depth < 8
        && let Some(blocks) = horizontal_split(&chunks)
    {
        // Cut across a wide horizontal gap (XY-cut), then look for columns
        // in each block: headers and footers no longer hide the gutter.
        let mut out = Vec::new();
        let mut rest = chunks;
        for lower in blocks {
            let (block, below): (Vec<Chunk>, Vec<Chunk>) =
                rest.into_iter().partition(|c| c.y > lower);
            rest = below;
            let mut lines = order_chunks(block, depth.saturating_add(1));
            if let Some(first) = lines.first_mut() {
                first.block_start = true;
            }
            out.extend(lines);
        }
        let mut lines = order_chunks(rest, depth.saturating_add(1));
        if let Some(first) = lines.first_mut() {
            first.block_start = true;
        }
        out.extend(lines);
        return out;
    }
    group_lines(chunks)
}

/// Baselines at which to cut the chunks into blocks separated by a vertical
/// gap of more than 1.5 lines that no text bridges, top to bottom; `None`
/// when there is no such gap.
fn horizontal_split(chunks: &[Chunk]) -> Option<Vec<f64>> {
    if chunks.len() < 6 {
        return None;
    }
    let mut spans: Vec<(f64, f64, f64)> = chunks
        .iter()
        .map(|c| (c.y + 0.8 * c.size, c.y - 0.2 * c.size, c.size))
        .collect();
    spans.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut cuts = Vec::new();
    let mut lowest = f64::INFINITY;
    let mut size = 0.0f64;
    for (top, bottom, s) in spans {
        if lowest.is_finite() && lowest - top > 1.5 * size.min(s) {
            cuts.push(lowest);
        }
        lowest = lowest.min(bottom);
        size = if lowest == bottom { s } else { size.max(s) };
    }
    // A cut is expressed as "chunks above this baseline": use the midpoint
    // just below the upper block's lowest extent.
    (!cuts.is_empty()).then(|| cuts.into_iter().map(|c| c - 0.01).collect())
}

/// A vertical band of whitespace that splits the chunks into two columns of
/// real text lines, as `(left edge, right edge)` of the band.
fn find_gutter(chunks: &[Chunk]) -> Option<(f64, f64)> {
    if chunks.len() < 6 {
        return None;
    }
    let min_x = chunks.iter().map(|c| c.x0).fold(f64::INFINITY, f64::min);
    let max_x = chunks
        .iter()
        .map(|c| c.x1)
        .fold(f64::NEG_INFINITY, f64::max);
    let width = max_x - min_x;
    if !width.is_finite() || width < 100.0 {
        return None;
    }
    let mut sizes: Vec<f64> = chunks.iter().map(|c| c.size).collect();
    sizes.sort_by(f64::total_cmp);
    let size = sizes.get(sizes.len() / 2).copied().unwrap_or(10.0).max(1.0);
    let bins = 1000usize;
    let bin_w = width / bins as f64;
    let mut cover = vec![0u32; bins];
    for c in chunks {
        let a = ((c.x0 - min_x) / bin_w)
            .floor()
            .clamp(0.0, bins as f64 - 1.0) as usize;
        let b = ((c.x1 - min_x) / bin_w).ceil().clamp(0.0, bins as f64) as usize;
        for slot in cover.iter_mut().take(b).skip(a) {
            *slot = slot.saturating_add(1);
        }
    }
    // Chunks allowed across the gutter: titles, headers, figure captions.
    let tolerance = (chunks.len() / 25).max(1) as u32;
    let min_gap = (0.8 * size).max(6.0);
    let lo_limit = (bins as f64 * 0.15) as usize;
    let hi_limit = (bins as f64 * 0.85) as usize;
    let mut best: Option<(usize, usize)> = None;
    let mut i = lo_limit;
    while i < hi_limit {
        if cover.get(i).copied().unwrap_or(u32::MAX) <= tolerance {
            let start = i;
            while i < hi_limit && cover.get(i).copied().unwrap_or(u32::MAX) <= tolerance {
                i = i.saturating_add(1);
            }
            let run = i - start;
            if (run as f64) * bin_w >= min_gap && best.is_none_or(|(s, e)| run > e - s) {
                best = Some((start, i));
            }
        } else {
            i = i.saturating_add(1);
        }
    }
    let (mut s, mut e) = best?;
    // Within the run, keep the widest stretch that the fewest chunks cross,
    // so that a line reaching into the gutter stays in its column.
    let least = cover
        .get(s..e)
        .and_then(|r| r.iter().min().copied())
        .unwrap_or(0);
    let mut stretch: Option<(usize, usize)> = None;
    let mut j = s;
    while j < e {
        if cover.get(j).copied() == Some(least) {
            let start = j;
            while j < e && cover.get(j).copied() == Some(least) {
                j = j.saturating_add(1);
            }
            if stretch.is_none_or(|(a, b)| j - start > b - a) {
                stretch = Some((start, j));
            }
        } else {
            j = j.saturating_add(1);
        }
    }
    if let Some((a, b)) = stretch
        && ((b - a) as f64) * bin_w >= min_gap
    {
        (s, e) = (a, b);
    }
    let lo = min_x + s as f64 * bin_w;
    let hi = min_x + e as f64 * bin_w;
    // Both sides must hold several lines of running text that sit beside
    // each other, not a few labels or one table column.
    let left: Vec<&Chunk> = chunks.iter().filter(|c| c.x1 <= lo + 0.5).collect();
    let right: Vec<&Chunk> = chunks.iter().filter(|c| c.x0 >= hi - 0.5).collect();
    let side_ok = |side: &[&Chunk]| {
        let mut ys: Vec<i64> = side
            .iter()
            .map(|c| (c.y / (size * 0.5)).round() as i64)
            .collect();
        ys.sort_unstable();
        ys.dedup();
        let text_width: f64 = side.iter().map(|c| c.x1 - c.x0).sum();
        ys.len() >= 3 && text_width / ys.len().max(1) as f64 >= 8.0 * size
    };
    if !side_ok(&left) || !side_ok(&right) {
        return None;
    }
    let span = |side: &[&Chunk]| {
        let top = side.iter().map(|c| c.y).fold(f64::NEG_INFINITY, f64::max);
        let bottom = side.iter().map(|c| c.y).fold(f64::INFINITY, f64::min);
        (bottom, top)
    };
    let (lb, lt) = span(&left);
    let (rb, rt) = span(&right);
    let overlap = lt.min(rt) - lb.max(rb);
    if overlap < 2.0 * size {
        return None;
    }
    Some((lo, hi))
}

/// Groups chunks into lines top to bottom, each line left to right.
fn group_lines(mut chunks: Vec<Chunk>) -> Vec<Line> {
    chunks.sort_by(|a, b| b.y.total_cmp(&a.y).then(a.x0.total_cmp(&b.x0)));
    let mut groups: Vec<Vec<Chunk>> = Vec::new();
    let mut line_y = 0.0f64;
    let mut line_size = 0.0f64;
    for c in chunks {
        if let Some(group) = groups.last_mut() {
            // Vertical extents [y - 0.25 size, y + 0.75 size] overlapping by
            // half the smaller one: same line (this takes in super- and
            // subscripts).
            let (a0, a1) = (line_y - 0.25 * line_size, line_y + 0.75 * line_size);
            let (b0, b1) = (c.y - 0.25 * c.size, c.y + 0.75 * c.size);
            let overlap = a1.min(b1) - a0.max(b0);
            if overlap > 0.5 * line_size.min(c.size) {
                if c.size > line_size {
                    line_size = c.size;
                    line_y = c.y;
                }
                group.push(c);
                continue;
            }
        }
        line_y = c.y;
        line_size = c.size;
        groups.push(vec![c]);
    }
    groups
        .into_iter()
        .filter_map(|group| {
            let y = group.iter().map(|c| c.y).fold(f64::NEG_INFINITY, f64::max);
            let size = group.iter().map(|c| c.size).fold(0.0, f64::max);
            let text = line_text(group);
            (!text.is_empty()).then_some(Line {
                text,
                y,
                size,
                block_start: false,
            })
        })
        .collect()
}

/// The text of one line: glyphs left to right, duplicates (fake bold)
/// dropped, a space wherever the gap is wide enough.
fn line_text(mut chunks: Vec<Chunk>) -> String {
    chunks.sort_by(|a, b| a.x0.total_cmp(&b.x0));
    let mut out = String::new();
    let mut prev: Option<&Glyph> = None;
    let mut recent: Vec<&Glyph> = Vec::new();
    let mut seen: Vec<(String, f64, f64)> = Vec::new();
    for chunk in &chunks {
        // The same run drawn twice at the same place (shadows, fake bold).
        let chunk_text: String = chunk.glyphs.iter().map(|g| g.text.as_str()).collect();
        if seen.iter().any(|(t, x, y)| {
            *t == chunk_text
                && (x - chunk.x0).abs() < 0.15 * chunk.size
                && (y - chunk.y).abs() < 0.15 * chunk.size
        }) {
            continue;
        }
        seen.push((chunk_text, chunk.x0, chunk.y));
        for g in &chunk.glyphs {
            let dup = recent.iter().any(|r| {
                r.text == g.text
                    && (r.x0 - g.x0).abs() < 0.15 * g.size
                    && (r.y - g.y).abs() < 0.15 * g.size
            });
            if dup {
                continue;
            }
            if let Some(p) = prev {
                let size = p.size.max(g.size);
                let gap = g.x0 - p.x1;
                let wide = gap > SPACE_GAP * size;
                let flagged = g.space_before && gap > -0.3 * size;
                // Text drawn over earlier text on the same line is separate text.
                let overlapping = gap < -0.3 * size;
                if (wide || flagged || overlapping) && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            out.push_str(&g.text);
            prev = Some(g);
            recent.push(g);
            if recent.len() > 4 {
                recent.remove(0);
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lines to text: a blank line between paragraphs, hyphenated words joined.
fn write_lines(lines: &[Line]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Line> = None;
    for line in lines {
        if let Some(p) = prev {
            let gap = p.y - line.y;
            let size = p.size.max(line.size);
            let paragraph = line.block_start || gap > 1.6 * size || gap < -0.5 * size;
            let starts_lower = line.text.chars().next().is_some_and(char::is_lowercase);
            let hyphen = out.ends_with('-') || out.ends_with('\u{ad}');
            let before_hyphen_letter = out
                .trim_end_matches(['-', '\u{ad}'])
                .chars()
                .next_back()
                .is_some_and(char::is_alphabetic);
            if hyphen && before_hyphen_letter && starts_lower {
                out.pop();
                out.push_str(&line.text);
                prev = Some(line);
                continue;
            }
            out.push_str(if paragraph { "\n\n" } else { "\n" });
        }
        out.push_str(&line.text);
        prev = Some(line);
    }
    out
}
