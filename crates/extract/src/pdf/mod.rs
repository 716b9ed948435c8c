//! PDF to text: every page's content stream is walked into positioned
//! glyphs, which are grouped into lines and columns and written out in
//! reading order, one paragraph per block of lines.
//!
//! `lopdf` parses the file, decrypts it, bounds stream decompression and
//! decodes the encodings and ToUnicode CMaps; the layout is ours, because
//! `Document::extract_text` only concatenates strings in stream order.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use lopdf::content::Content;
use lopdf::{DecompressError, Dictionary, Document, Encoding, LoadOptions, Object, ObjectId};
use unicode_normalization::UnicodeNormalization;

use crate::{ExtractError, Extracted, Options, PageSpan};

mod budget;
use budget::{Budget, Refused};

/// How deep Form XObjects may nest inside each other.
const MAX_FORM_DEPTH: usize = 8;
/// How many `q` may be outstanding; deeper saves are ignored.
const MAX_GSTATE_DEPTH: usize = 256;
/// How many parents we follow up the page tree for inherited resources.
const MAX_PARENT_DEPTH: usize = 32;
/// Most glyphs kept per page, a memory bound on top of the operator bound.
const MAX_GLYPHS_PER_PAGE: usize = 2_000_000;
/// A gap wider than this fraction of the font size separates two words.
const SPACE_GAP: f64 = 0.15;
/// A TJ adjustment below this (thousandths of an em) is a word space.
const TJ_SPACE: f64 = -200.0;

/// Extracts a PDF.
pub(crate) fn extract(bytes: &[u8], opts: &Options) -> Result<Extracted, ExtractError> {
    extract_within(bytes, opts, &mut Budget::new(opts))
}

/// Extracts a PDF, charging its work to `budget`.
fn extract_within(
    bytes: &[u8],
    opts: &Options,
    budget: &mut Budget,
) -> Result<Extracted, ExtractError> {
    let doc = load(bytes, opts)?;
    let pages = doc.get_pages();
    if pages.len() > opts.max_pages {
        return Err(ExtractError::TooLarge(format!(
            "{} pages, more than the limit of {}",
            pages.len(),
            opts.max_pages
        )));
    }
    if pages.is_empty() {
        return Err(ExtractError::Malformed(
            "the PDF has no readable pages".into(),
        ));
    }

    let mut fonts = FontCache::default();
    let mut markdown = String::new();
    let mut spans = Vec::with_capacity(pages.len());
    let mut warnings = Vec::new();
    let mut read_pages = 0usize;
    let mut too_large = None;
    for (&number, &page_id) in &pages {
        let page = page_text(
            &doc,
            page_id,
            number,
            opts,
            &mut fonts,
            budget,
            &mut warnings,
        );
        let text = match page {
            Ok(text) => {
                read_pages = read_pages.saturating_add(1);
                text
            }
            Err(PageError::Exhausted(msg)) => return Err(ExtractError::TooLarge(msg)),
            Err(err) => {
                if let PageError::TooLarge(msg) = &err {
                    too_large.get_or_insert_with(|| msg.clone());
                }
                warnings.push(format!("page {number} skipped: {err}"));
                String::new()
            }
        };
        if text.trim().is_empty() {
            warnings.push(format!("page {number} has no text layer"));
        }
        if !markdown.is_empty() && !text.is_empty() {
            markdown.push_str("\n\n");
        }
        let start = markdown.len();
        markdown.push_str(&text);
        spans.push(PageSpan {
            page: number,
            start,
            end: markdown.len(),
        });
    }
    if let Some(msg) = budget.spent() {
        return Err(ExtractError::TooLarge(msg.to_string()));
    }
    if read_pages == 0 {
        return Err(match too_large {
            Some(msg) => ExtractError::TooLarge(msg),
            None => ExtractError::Malformed("no page could be read".into()),
        });
    }

    let info = doc
        .trailer
        .get(b"Info")
        .ok()
        .and_then(|o| deref(&doc, o))
        .and_then(|o| o.as_dict().ok());
    let info_text = |key: &[u8]| {
        info.and_then(|d| d.get(key).ok())
            .and_then(|o| deref(&doc, o))
            .and_then(|o| lopdf::decode_text_string(o).ok())
            .map(|s| s.trim().trim_matches('\0').trim().nfc().collect::<String>())
            .filter(|s| !s.is_empty())
    };
    let title = info_text(b"Title");
    let author = info_text(b"Author");
    let language = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"Lang").ok())
        .and_then(|o| deref(&doc, o))
        .and_then(|o| lopdf::decode_text_string(o).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());

    Ok(Extracted {
        markdown,
        pages: spans,
        title,
        author,
        language,
        warnings,
    })
}

/// Loads the document, trying the empty user password and then the caller's.
fn load(bytes: &[u8], opts: &Options) -> Result<Document, ExtractError> {
    let options = LoadOptions {
        password: opts.password.clone(),
        max_decompressed_size: Some(opts.max_decompressed_bytes),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).map_err(|err| match err {
        lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) => ExtractError::Encrypted,
        lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { limit }) => {
            ExtractError::TooLarge(format!("a stream decompresses to more than {limit} bytes"))
        }
        other => ExtractError::Malformed(other.to_string()),
    })?;
    if doc.is_encrypted() {
        return Err(ExtractError::Encrypted);
    }
    Ok(doc)
}

/// Follows references (a bounded number of them) to the object itself.
fn deref<'a>(doc: &'a Document, mut obj: &'a Object) -> Option<&'a Object> {
    for _ in 0..16 {
        match obj {
            Object::Reference(id) => obj = doc.get_object(*id).ok()?,
            other => return Some(other),
        }
    }
    None
}

fn dict_get<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    dict.get(key).ok().and_then(|o| deref(doc, o))
}

fn num(obj: &Object) -> Option<f64> {
    match obj {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)).filter(|v| v.is_finite()),
        _ => None,
    }
}

/// Why one page could not be read.
#[derive(Debug)]
enum PageError {
    /// The document's budget is spent: the whole document is refused.
    Exhausted(String),
    TooLarge(String),
    Other(String),
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::Exhausted(m) | PageError::TooLarge(m) | PageError::Other(m) => {
                f.write_str(m)
            }
        }
    }
}

fn page_text(
    doc: &Document,
    page_id: ObjectId,
    number: u32,
    opts: &Options,
    fonts: &mut FontCache,
    budget: &mut Budget,
    warnings: &mut Vec<String>,
) -> Result<String, PageError> {
    let page = doc
        .get_dictionary(page_id)
        .map_err(|e| PageError::Other(format!("page object unreadable: {e}")))?;
    let content = page_content(doc, page_id, budget)?;
    let resources = inherited_resources(doc, page);
    let mut walker = Walker {
        doc,
        opts,
        fonts,
        budget,
        glyphs: Vec::new(),
        ops: 0,
        truncated: false,
        exhausted: None,
        broken: false,
        pending_space: false,
        forms: HashSet::new(),
    };
    let mut state = State::default();
    walker.run(&content, resources, &mut state, 0);
    walker.annotations(page, &mut State::default());
    if let Some(msg) = walker.exhausted {
        return Err(PageError::Exhausted(msg));
    }
    if walker.truncated {
        warnings.push(format!(
            "page {number}: more than {} operators or too many glyphs; the rest of the page was skipped",
            opts.max_ops_per_page
        ));
    }
    if walker.broken {
        warnings.push(format!(
            "page {number}: content stream damaged; text after the damage was skipped"
        ));
    }
    Ok(layout_page(walker.glyphs))
}

/// The page's content streams, concatenated (as lopdf's
/// `get_page_content` does, newline-separated), through the budget's cache
/// so that pages sharing a stream inflate it once.
fn page_content(
    doc: &Document,
    page_id: ObjectId,
    budget: &mut Budget,
) -> Result<Vec<u8>, PageError> {
    let mut content = Vec::new();
    for id in doc.get_page_contents(page_id) {
        let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
            continue;
        };
        let bytes = budget.stream(Some(id), stream).map_err(|e| match e {
            Refused::Exhausted(m) => PageError::Exhausted(m),
            Refused::StreamTooLarge(limit) => {
                PageError::TooLarge(format!("content decompresses to more than {limit} bytes"))
            }
            Refused::Damaged(m) => PageError::Other(format!("content unreadable: {m}")),
        })?;
        content.extend_from_slice(&bytes);
        content.push(b'\n');
    }
    Ok(content)
}

/// The page's `/Resources`, inherited from the page tree when absent.
fn inherited_resources<'a>(doc: &'a Document, page: &'a Dictionary) -> Option<&'a Dictionary> {
    let mut node = page;
    for _ in 0..MAX_PARENT_DEPTH {
        if let Some(res) = dict_get(doc, node, b"Resources").and_then(|o| o.as_dict().ok()) {
            return Some(res);
        }
        node = dict_get(doc, node, b"Parent")?.as_dict().ok()?;
    }
    None
}

// ---------------------------------------------------------------------------
// Fonts

/// What we need from a font: how to split strings into codes, what each
/// code means as text and how far it advances.
struct Font {
    two_byte: bool,
    /// Decoded `/ToUnicode` CMap, which wins over the encoding.
    to_unicode: Option<Encoding<'static>>,
    /// Unicode text for each single-byte code (simple fonts).
    table: Vec<String>,
    /// UCS-2 CMaps map codes to Unicode directly.
    ucs2: bool,
    first_char: i64,
    widths: Vec<f64>,
    /// CID widths as (first, last, width) ranges.
    cid_widths: Vec<(u32, u32, f64)>,
    default_width: Option<f64>,
    /// Glyph space to text space (1/1000 for all but Type3 fonts).
    scale: f64,
    /// Standard-14 metrics to estimate widths when `/Widths` is missing.
    metrics: Metrics,
}

#[derive(Clone, Copy)]
enum Metrics {
    Helvetica,
    Times,
    Courier,
}

#[derive(Default)]
struct FontCache {
    /// Keyed by the address of the font dictionary in the loaded document,
    /// which is stable while the document lives.
    fonts: HashMap<usize, Rc<Font>>,
    base_tables: HashMap<Vec<u8>, Rc<Vec<String>>>,
    glyph_names: HashMap<Vec<u8>, String>,
}

impl Font {
    /// Unicode text and width (in text space, before font size) of a code.
    fn decode(&self, code: u32, len: u8) -> (String, f64) {
        let mut text = String::new();
        if let Some(Encoding::UnicodeMapEncoding(cmap)) = &self.to_unicode {
            let mapped = cmap
                .get(code, len)
                .or_else(|| if len == 1 { cmap.get(code, 2) } else { None });
            if let Some(units) = mapped {
                text = char::decode_utf16(units)
                    .filter_map(Result::ok)
                    .filter(|c| *c != '\u{fffd}')
                    .collect();
            }
        }
        if text.is_empty() {
            if self.ucs2 {
                if let Some(c) = char::from_u32(code) {
                    text.push(c);
                }
            } else if !self.two_byte
                && let Some(t) = usize::try_from(code).ok().and_then(|i| self.table.get(i))
            {
                text.push_str(t);
            }
        }
        let text: String = text
            .nfkc()
            .filter(|c| !c.is_control() || *c == '\t')
            .map(|c| if c == '\t' || c == '\u{a0}' { ' ' } else { c })
            .collect();
        let width = self.width(code).unwrap_or_else(|| {
            let c = text.chars().next().unwrap_or('n');
            estimate_width(self.metrics, c)
        });
        (text, width)
    }

    fn width(&self, code: u32) -> Option<f64> {
        if self.two_byte {
            let w = self
                .cid_widths
                .iter()
                .find(|(lo, hi, _)| *lo <= code && code <= *hi)
                .map(|r| r.2)
                .or(self.default_width)
                .unwrap_or(1000.0);
            return Some(w * self.scale);
        }
        let index = i64::from(code).checked_sub(self.first_char)?;
        let w = usize::try_from(index)
            .ok()
            .and_then(|i| self.widths.get(i))
            .copied()
            .filter(|w| *w > 0.0)
            .or(self.default_width.filter(|w| *w > 0.0))?;
        Some(w * self.scale)
    }
}

/// Standard-14 advance widths (thousandths of an em) for ASCII 32..=126.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
const TIMES: [u16; 95] = [
    250, 333, 408, 500, 500, 833, 778, 180, 333, 333, 500, 564, 250, 333, 250, 278, 500, 500, 500,
    500, 500, 500, 500, 500, 500, 500, 278, 278, 564, 564, 564, 444, 921, 722, 667, 667, 722, 611,
    556, 722, 722, 333, 389, 722, 611, 889, 722, 722, 556, 722, 667, 556, 611, 722, 722, 944, 722,
    722, 611, 333, 278, 333, 469, 500, 333, 444, 500, 444, 500, 444, 333, 500, 500, 278, 278, 500,
    278, 778, 500, 500, 500, 500, 333, 389, 278, 500, 500, 722, 500, 500, 444, 480, 200, 480, 541,
];

fn estimate_width(metrics: Metrics, c: char) -> f64 {
    let index = (c as u32)
        .checked_sub(32)
        .and_then(|i| usize::try_from(i).ok());
    let w = match metrics {
        Metrics::Courier => 600,
        Metrics::Helvetica => index.and_then(|i| HELVETICA.get(i)).copied().unwrap_or(556),
        Metrics::Times => index.and_then(|i| TIMES.get(i)).copied().unwrap_or(500),
    };
    f64::from(w) / 1000.0
}

impl FontCache {
    fn get(&mut self, doc: &Document, dict: &Dictionary, budget: &mut Budget) -> Rc<Font> {
        let key = dict as *const Dictionary as usize;
        if let Some(font) = self.fonts.get(&key) {
            return font.clone();
        }
        let font = Rc::new(self.build(doc, dict, budget));
        self.fonts.insert(key, font.clone());
        font
    }

    fn build(&mut self, doc: &Document, dict: &Dictionary, budget: &mut Budget) -> Font {
        let subtype = dict_get(doc, dict, b"Subtype")
            .and_then(|o| o.as_name().ok())
            .unwrap_or(b"");
        let base_font = dict_get(doc, dict, b"BaseFont")
            .and_then(|o| o.as_name().ok())
            .unwrap_or(b"")
            .to_ascii_lowercase();
        let metrics = if base_font.windows(7).any(|w| w == b"courier")
            || base_font.windows(4).any(|w| w == b"mono")
        {
            Metrics::Courier
        } else if base_font.windows(5).any(|w| w == b"times")
            || base_font.windows(5).any(|w| w == b"serif")
        {
            Metrics::Times
        } else {
            Metrics::Helvetica
        };
        let to_unicode = to_unicode(doc, dict, budget);
        let mut font = Font {
            two_byte: false,
            to_unicode,
            table: Vec::new(),
            ucs2: false,
            first_char: 0,
            widths: Vec::new(),
            cid_widths: Vec::new(),
            default_width: None,
            scale: 0.001,
            metrics,
        };
        if subtype == b"Type0" {
            font.two_byte = true;
            let encoding = dict_get(doc, dict, b"Encoding")
                .and_then(|o| o.as_name().ok())
                .unwrap_or(b"");
            font.ucs2 = font.to_unicode.is_none()
                && (encoding.windows(4).any(|w| w == b"UCS2")
                    || encoding.windows(5).any(|w| w == b"UTF16"));
            if let Some(desc) = dict_get(doc, dict, b"DescendantFonts")
                .and_then(|o| o.as_array().ok())
                .and_then(|a| a.first())
                .and_then(|o| deref(doc, o))
                .and_then(|o| o.as_dict().ok())
            {
                font.default_width = dict_get(doc, desc, b"DW").and_then(num);
                if let Some(w) = dict_get(doc, desc, b"W").and_then(|o| o.as_array().ok()) {
                    font.cid_widths = parse_cid_widths(doc, w);
                }
            }
            return font;
        }
        if subtype == b"Type3"
            && let Some(m) = dict_get(doc, dict, b"FontMatrix").and_then(|o| o.as_array().ok())
            && let Some(a) = m.first().and_then(num)
            && a.abs() > 1e-9
        {
            font.scale = a.abs();
        }
        font.first_char = dict_get(doc, dict, b"FirstChar")
            .and_then(num)
            .map_or(0, |v| v.clamp(0.0, 255.0) as i64);
        if let Some(w) = dict_get(doc, dict, b"Widths").and_then(|o| o.as_array().ok()) {
            font.widths = w
                .iter()
                .take(256)
                .map(|o| deref(doc, o).and_then(num).unwrap_or(0.0))
                .collect();
        }
        font.default_width = dict_get(doc, dict, b"FontDescriptor")
            .and_then(|o| o.as_dict().ok())
            .and_then(|d| dict_get(doc, d, b"MissingWidth"))
            .and_then(num);
        font.table = self.simple_table(doc, dict);
        font
    }

    /// The byte-to-text table of a simple font: its base encoding with its
    /// `/Differences` applied.
    fn simple_table(&mut self, doc: &Document, dict: &Dictionary) -> Vec<String> {
        let encoding = dict_get(doc, dict, b"Encoding");
        let (base_name, differences): (&[u8], Option<&Vec<Object>>) = match encoding {
            Some(Object::Name(name)) => (name, None),
            Some(Object::Dictionary(enc)) => (
                dict_get(doc, enc, b"BaseEncoding")
                    .and_then(|o| o.as_name().ok())
                    .unwrap_or(b"StandardEncoding"),
                dict_get(doc, enc, b"Differences").and_then(|o| o.as_array().ok()),
            ),
            _ => (b"StandardEncoding", None),
        };
        let mut table = (*self.base_table(base_name)).clone();
        if let Some(diffs) = differences {
            let mut code: i64 = 0;
            for item in diffs.iter().take(4096) {
                match deref(doc, item) {
                    Some(Object::Integer(c)) => code = *c,
                    Some(Object::Name(name)) => {
                        if let Some(slot) =
                            usize::try_from(code).ok().and_then(|i| table.get_mut(i))
                        {
                            *slot = self.glyph_name(name);
                        }
                        code = code.saturating_add(1);
                    }
                    _ => {}
                }
            }
        }
        table
    }

    fn base_table(&mut self, name: &[u8]) -> Rc<Vec<String>> {
        let name = match name {
            b"WinAnsiEncoding" | b"MacRomanEncoding" | b"MacExpertEncoding" | b"PDFDocEncoding" => {
                name
            }
            _ => b"StandardEncoding",
        };
        if let Some(t) = self.base_tables.get(name) {
            return t.clone();
        }
        let mut fake = Dictionary::new();
        fake.set("Type", Object::Name(b"Font".to_vec()));
        fake.set("Encoding", Object::Name(name.to_vec()));
        let doc = Document::new();
        let table: Vec<String> = match fake.get_font_encoding(&doc) {
            Ok(enc) => (0..=255u8)
                .map(|b| enc.bytes_to_string(&[b]).unwrap_or_default())
                .collect(),
            Err(_) => vec![String::new(); 256],
        };
        let table = Rc::new(table);
        self.base_tables.insert(name.to_vec(), table.clone());
        table
    }

    /// Unicode text for a glyph name: the Adobe Glyph List (through lopdf),
    /// `uniXXXX`/`uXXXX` names, ligature names (`f_i`) and suffixes (`a.sc`).
    fn glyph_name(&mut self, name: &[u8]) -> String {
        if let Some(text) = self.glyph_names.get(name) {
            return text.clone();
        }
        let text = glyph_name_uncached(name, 0);
        if self.glyph_names.len() < 65_536 {
            self.glyph_names.insert(name.to_vec(), text.clone());
        }
        text
    }
}

fn glyph_name_uncached(name: &[u8], depth: u8) -> String {
    if name.is_empty() || depth > 2 {
        return String::new();
    }
    // Suffixes (".sc", ".alt", ".001") name variants of the same character.
    if let Some(dot) = name.iter().position(|&b| b == b'.')
        && dot > 0
    {
        return glyph_name_uncached(name.get(..dot).unwrap_or_default(), depth.saturating_add(1));
    }
    if name.contains(&b'_') {
        return name
            .split(|&b| b == b'_')
            .map(|part| glyph_name_uncached(part, depth.saturating_add(1)))
            .collect();
    }
    if let Some(hex) = name.strip_prefix(b"uni")
        && hex.len() >= 4
        && hex.len() % 4 == 0
        && hex.iter().all(u8::is_ascii_hexdigit)
    {
        let units: Vec<u16> = hex
            .chunks(4)
            .filter_map(|c| u16::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
            .collect();
        return char::decode_utf16(units).filter_map(Result::ok).collect();
    }
    if let Some(hex) = name.strip_prefix(b"u")
        && (4..=6).contains(&hex.len())
        && hex.iter().all(u8::is_ascii_hexdigit)
        && let Some(c) = std::str::from_utf8(hex)
            .ok()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
    {
        return c.to_string();
    }
    // The Adobe Glyph List, through a one-entry /Differences font.
    let mut enc = Dictionary::new();
    enc.set(
        "Differences",
        Object::Array(vec![Object::Integer(65), Object::Name(name.to_vec())]),
    );
    let mut fake = Dictionary::new();
    fake.set("Type", Object::Name(b"Font".to_vec()));
    fake.set("Encoding", Object::Dictionary(enc));
    let doc = Document::new();
    match fake.get_font_encoding(&doc) {
        Ok(enc @ Encoding::Differences(_)) => enc.bytes_to_string(&[65]).unwrap_or_default(),
        _ => String::new(),
    }
}

/// The font's `/ToUnicode` CMap, inflated through the budget and parsed by
/// lopdf. (Over the budget, the font has no CMap and the walk stops at its
/// next operator, since the budget refuses every charge once spent.)
fn to_unicode(doc: &Document, dict: &Dictionary, budget: &mut Budget) -> Option<Encoding<'static>> {
    let reference = dict.get(b"ToUnicode").ok()?;
    let stream = deref(doc, reference)?.as_stream().ok()?;
    let plain = budget.stream(reference.as_reference().ok(), stream).ok()?;
    let mut only = Dictionary::new();
    only.set("Type", Object::Name(b"Font".to_vec()));
    only.set(
        "ToUnicode",
        Object::Stream(lopdf::Stream::new(Dictionary::new(), plain.to_vec())),
    );
    // The encoding borrows the temporary dictionary only for its lifetime
    // parameter; a CMap is owned, so move it out.
    match only.get_font_encoding(doc) {
        Ok(Encoding::UnicodeMapEncoding(cmap)) => Some(Encoding::UnicodeMapEncoding(cmap)),
        _ => None,
    }
}

fn parse_cid_widths(doc: &Document, w: &[Object]) -> Vec<(u32, u32, f64)> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < w.len() && out.len() < 65_536 {
        let Some(first) = w.get(i).and_then(|o| deref(doc, o)).and_then(num) else {
            break;
        };
        let first = first.clamp(0.0, f64::from(u32::MAX)) as u32;
        match w.get(i.saturating_add(1)).and_then(|o| deref(doc, o)) {
            Some(Object::Array(list)) => {
                for (k, o) in list.iter().enumerate().take(65_536) {
                    if let Some(width) = deref(doc, o).and_then(num) {
                        let c = first.saturating_add(k as u32);
                        out.push((c, c, width));
                    }
                }
                i = i.saturating_add(2);
            }
            Some(o) => {
                let last = num(o).unwrap_or(0.0).clamp(0.0, f64::from(u32::MAX)) as u32;
                let width = w
                    .get(i.saturating_add(2))
                    .and_then(|o| deref(doc, o))
                    .and_then(num)
                    .unwrap_or(1000.0);
                out.push((first, last, width));
                i = i.saturating_add(3);
            }
            None => break,
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Content stream walk

type Matrix = [f64; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `a` then `b`, in PDF's row-vector convention.
fn mul(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

#[derive(Clone)]
struct GState {
    ctm: Matrix,
    font: Option<Rc<Font>>,
    size: f64,
    char_spacing: f64,
    word_spacing: f64,
    scale: f64,
    leading: f64,
    rise: f64,
}

impl Default for GState {
    fn default() -> Self {
        Self {
            ctm: IDENTITY,
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        }
    }
}

#[derive(Default)]
struct State {
    gs: GState,
    stack: Vec<GState>,
    tm: Matrix,
    tlm: Matrix,
}

/// One glyph on the page, in a frame rotated so that its text runs along +x.
#[derive(Debug, Clone)]
struct Glyph {
    x0: f64,
    x1: f64,
    y: f64,
    size: f64,
    rot: u8,
    text: String,
    space_before: bool,
}

struct Walker<'a, 'c> {
    doc: &'a Document,
    opts: &'c Options,
    fonts: &'c mut FontCache,
    budget: &'c mut Budget,
    glyphs: Vec<Glyph>,
    ops: usize,
    truncated: bool,
    /// Why the document's budget ran out, which stops the walk.
    exhausted: Option<String>,
    broken: bool,
    pending_space: bool,
    forms: HashSet<ObjectId>,
}

impl<'a> Walker<'a, '_> {
    fn run(
        &mut self,
        content: &[u8],
        resources: Option<&'a Dictionary>,
        st: &mut State,
        depth: usize,
    ) {
        if let Err(e) = self.budget.run(content.len()) {
            return self.refused(e);
        }
        for op in Content::decode_iter(content) {
            if self.truncated {
                return;
            }
            if let Err(e) = self.budget.op() {
                return self.refused(e);
            }
            self.ops = self.ops.saturating_add(1);
            if self.ops > self.opts.max_ops_per_page || self.glyphs.len() > MAX_GLYPHS_PER_PAGE {
                self.truncated = true;
                return;
            }
            let op = match op {
                Ok(op) => op,
                Err(_) => {
                    self.broken = true;
                    return;
                }
            };
            self.operation(&op.operator, &op.operands, resources, st, depth);
        }
    }

    /// Stops the walk when the document's budget is spent.
    fn refused(&mut self, e: Refused) {
        if let Refused::Exhausted(msg) = e {
            self.exhausted.get_or_insert(msg);
            self.truncated = true;
        }
    }

    fn operation(
        &mut self,
        operator: &str,
        operands: &[Object],
        resources: Option<&'a Dictionary>,
        st: &mut State,
        depth: usize,
    ) {
        let n = |i: usize| operands.get(i).and_then(num);
        match operator {
            // Deeper saves are ignored (their Q then pops an outer state).
            "q" if st.stack.len() < MAX_GSTATE_DEPTH => st.stack.push(st.gs.clone()),
            "Q" => {
                if let Some(gs) = st.stack.pop() {
                    st.gs = gs;
                }
            }
            "cm" => {
                if let Some(m) = matrix(operands) {
                    st.gs.ctm = mul(&m, &st.gs.ctm);
                }
            }
            "BT" => {
                st.tm = IDENTITY;
                st.tlm = IDENTITY;
            }
            "Tf" => {
                if let Some(size) = n(1) {
                    st.gs.size = size;
                }
                if let Some(name) = operands.first().and_then(|o| o.as_name().ok()) {
                    st.gs.font = self.font(resources, name);
                }
            }
            "Tc" => st.gs.char_spacing = n(0).unwrap_or(0.0),
            "Tw" => st.gs.word_spacing = n(0).unwrap_or(0.0),
            "Tz" => st.gs.scale = n(0).unwrap_or(100.0) / 100.0,
            "TL" => st.gs.leading = n(0).unwrap_or(0.0),
            "Ts" => st.gs.rise = n(0).unwrap_or(0.0),
            "Td" => {
                if let (Some(tx), Some(ty)) = (n(0), n(1)) {
                    move_line(st, tx, ty);
                }
            }
            "TD" => {
                if let (Some(tx), Some(ty)) = (n(0), n(1)) {
                    st.gs.leading = -ty;
                    move_line(st, tx, ty);
                }
            }
            "Tm" => {
                if let Some(m) = matrix(operands) {
                    st.tm = m;
                    st.tlm = m;
                }
            }
            "T*" => {
                let l = st.gs.leading;
                move_line(st, 0.0, -l);
            }
            "Tj" => {
                if let Some(s) = operands.first().and_then(|o| o.as_str().ok()) {
                    self.show(st, s);
                }
            }
            "'" => {
                let l = st.gs.leading;
                move_line(st, 0.0, -l);
                if let Some(s) = operands.first().and_then(|o| o.as_str().ok()) {
                    self.show(st, s);
                }
            }
            "\"" => {
                st.gs.word_spacing = n(0).unwrap_or(st.gs.word_spacing);
                st.gs.char_spacing = n(1).unwrap_or(st.gs.char_spacing);
                let l = st.gs.leading;
                move_line(st, 0.0, -l);
                if let Some(s) = operands.get(2).and_then(|o| o.as_str().ok()) {
                    self.show(st, s);
                }
            }
            "TJ" => {
                let Some(items) = operands.first().and_then(|o| o.as_array().ok()) else {
                    return;
                };
                for item in items {
                    match item {
                        Object::String(s, _) => self.show(st, s),
                        other => {
                            if let Some(adj) = num(other) {
                                let tx = -adj / 1000.0 * st.gs.size * st.gs.scale;
                                st.tm = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], &st.tm);
                                if adj < TJ_SPACE {
                                    self.pending_space = true;
                                }
                            }
                        }
                    }
                }
            }
            "Do" => {
                if let Some(name) = operands.first().and_then(|o| o.as_name().ok()) {
                    self.form(resources, name, st, depth);
                }
            }
            _ => {}
        }
    }

    fn font(&mut self, resources: Option<&'a Dictionary>, name: &[u8]) -> Option<Rc<Font>> {
        let doc = self.doc;
        let fonts = dict_get(doc, resources?, b"Font")?.as_dict().ok()?;
        let dict = dict_get(doc, fonts, name)?.as_dict().ok()?;
        Some(self.fonts.get(doc, dict, self.budget))
    }

    fn form(
        &mut self,
        resources: Option<&'a Dictionary>,
        name: &[u8],
        st: &mut State,
        depth: usize,
    ) {
        let doc = self.doc;
        let Some(xobjects) = resources
            .and_then(|r| dict_get(doc, r, b"XObject"))
            .and_then(|o| o.as_dict().ok())
        else {
            return;
        };
        let Ok(reference) = xobjects.get(name) else {
            return;
        };
        self.run_form(reference, resources, IDENTITY, st, depth);
    }

    /// Runs a Form XObject (given by reference or directly) with `extra`
    /// applied after its own `/Matrix`, guarding depth and cycles.
    fn run_form(
        &mut self,
        reference: &'a Object,
        resources: Option<&'a Dictionary>,
        extra: Matrix,
        st: &mut State,
        depth: usize,
    ) {
        let doc = self.doc;
        if depth >= MAX_FORM_DEPTH {
            return;
        }
        let id = reference.as_reference().ok();
        let Some(stream) = deref(doc, reference).and_then(|o| o.as_stream().ok()) else {
            return;
        };
        if dict_get(doc, &stream.dict, b"Subtype").and_then(|o| o.as_name().ok()) != Some(b"Form") {
            return;
        }
        if let Some(id) = id
            && !self.forms.insert(id)
        {
            return; // a form drawing itself
        }
        if let Err(e) = self.budget.form() {
            self.refused(e);
        } else if let Ok(content) = self.budget.stream(id, stream).map_err(|e| self.refused(e)) {
            let form_resources = dict_get(doc, &stream.dict, b"Resources")
                .and_then(|o| o.as_dict().ok())
                .or(resources);
            let saved_gs = st.gs.clone();
            let saved_stack = st.stack.len();
            let (saved_tm, saved_tlm) = (st.tm, st.tlm);
            let m = form_matrix(doc, &stream.dict);
            st.gs.ctm = mul(&mul(&m, &extra), &st.gs.ctm);
            self.run(&content, form_resources, st, depth.saturating_add(1));
            st.gs = saved_gs;
            st.stack.truncate(saved_stack);
            st.tm = saved_tm;
            st.tlm = saved_tlm;
        }
        if let Some(id) = id {
            self.forms.remove(&id);
        }
    }

    /// Draws the normal appearance of the page's visible annotations (filled
    /// form fields, stamps, free text), as viewers and pdftotext do.
    fn annotations(&mut self, page: &'a Dictionary, st: &mut State) {
        let doc = self.doc;
        let need_appearances = doc
            .catalog()
            .ok()
            .and_then(|c| dict_get(doc, c, b"AcroForm"))
            .and_then(|o| o.as_dict().ok())
            .and_then(|f| dict_get(doc, f, b"NeedAppearances"))
            .and_then(|o| o.as_bool().ok())
            .unwrap_or(false);
        let Some(annots) = dict_get(doc, page, b"Annots").and_then(|o| o.as_array().ok()) else {
            return;
        };
        for annot in annots.iter().take(10_000) {
            if self.truncated {
                return;
            }
            let Some(annot) = deref(doc, annot).and_then(|o| o.as_dict().ok()) else {
                continue;
            };
            let flags = dict_get(doc, annot, b"F").and_then(num).unwrap_or(0.0) as i64;
            // Hidden (bit 2) or NoView (bit 6).
            if flags & 0b10_0010 != 0 {
                continue;
            }
            if dict_get(doc, annot, b"Subtype").and_then(|o| o.as_name().ok()) == Some(b"Popup") {
                continue;
            }
            if need_appearances && let Some(lines) = field_text(doc, annot) {
                // The viewer is asked to redraw text and choice fields from
                // their values, and so does pdftotext: do the same.
                if let Some(area) = dict_get(doc, annot, b"Rect")
                    .and_then(|o| o.as_array().ok())
                    .and_then(|a| rect(a))
                {
                    self.synthesize(&lines, area, field_font_size(doc, annot, area), st.gs.ctm);
                }
                continue;
            }
            let Some(normal) = dict_get(doc, annot, b"AP")
                .and_then(|o| o.as_dict().ok())
                .and_then(|ap| ap.get(b"N").ok())
            else {
                continue;
            };
            let appearance = match deref(doc, normal) {
                Some(Object::Dictionary(states)) => {
                    let Some(state) = dict_get(doc, annot, b"AS").and_then(|o| o.as_name().ok())
                    else {
                        continue;
                    };
                    match states.get(state) {
                        Ok(o) => o,
                        Err(_) => continue,
                    }
                }
                Some(Object::Stream(_)) => normal,
                _ => continue,
            };
            let Some(stream) = deref(doc, appearance).and_then(|o| o.as_stream().ok()) else {
                continue;
            };
            let Some(area) = dict_get(doc, annot, b"Rect")
                .and_then(|o| o.as_array().ok())
                .and_then(|a| rect(a))
            else {
                continue;
            };
            let bbox = dict_get(doc, &stream.dict, b"BBox")
                .and_then(|o| o.as_array().ok())
                .and_then(|a| rect(a))
                .unwrap_or(area);
            let m = form_matrix(doc, &stream.dict);
            // Fit the transformed BBox to the annotation's Rect (ISO 32000 12.5.5).
            let corners = [
                (bbox[0], bbox[1]),
                (bbox[2], bbox[1]),
                (bbox[0], bbox[3]),
                (bbox[2], bbox[3]),
            ];
            let mut t = [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ];
            for (x, y) in corners {
                let (tx, ty) = (x * m[0] + y * m[2] + m[4], x * m[1] + y * m[3] + m[5]);
                t = [t[0].min(tx), t[1].min(ty), t[2].max(tx), t[3].max(ty)];
            }
            let sx = if t[2] - t[0] > 1e-6 {
                (area[2] - area[0]) / (t[2] - t[0])
            } else {
                1.0
            };
            let sy = if t[3] - t[1] > 1e-6 {
                (area[3] - area[1]) / (t[3] - t[1])
            } else {
                1.0
            };
            let fit = [sx, 0.0, 0.0, sy, area[0] - sx * t[0], area[1] - sy * t[1]];
            let mut fresh = State::default();
            fresh.gs.ctm = st.gs.ctm;
            self.pending_space = true;
            self.run_form(appearance, None, fit, &mut fresh, 0);
        }
    }

    /// Lays out field text inside `area`, one line per entry, top down.
    fn synthesize(&mut self, lines: &[String], area: [f64; 4], size: f64, ctm: Matrix) {
        for (i, line) in lines.iter().enumerate().take(1000) {
            let y = area[3] - (i as f64 + 1.0) * size * 1.15;
            let mut x = area[0] + 2.0;
            self.pending_space = true;
            for c in line.nfkc() {
                let advance = estimate_width(Metrics::Helvetica, c) * size;
                if c.is_whitespace() {
                    self.pending_space = true;
                } else if self.glyphs.len() <= MAX_GLYPHS_PER_PAGE {
                    let (dx, dy) = (
                        x * ctm[0] + y * ctm[2] + ctm[4],
                        x * ctm[1] + y * ctm[3] + ctm[5],
                    );
                    self.glyphs.push(Glyph {
                        x0: dx,
                        x1: dx + advance,
                        y: dy,
                        size,
                        rot: 0,
                        text: c.to_string(),
                        space_before: std::mem::take(&mut self.pending_space),
                    });
                }
                x += advance;
            }
        }
    }

    /// Shows a string: one glyph per code, advancing the text matrix.
    fn show(&mut self, st: &mut State, bytes: &[u8]) {
        let Some(font) = st.gs.font.clone() else {
            return;
        };
        let gs = &st.gs;
        let step = if font.two_byte { 2 } else { 1 };
        let mut i = 0usize;
        while i < bytes.len() {
            let (code, len) = if step == 2 {
                let hi = u32::from(bytes.get(i).copied().unwrap_or(0));
                let lo = bytes.get(i.saturating_add(1)).copied();
                match lo {
                    Some(lo) => ((hi << 8) | u32::from(lo), 2u8),
                    None => (hi, 1u8),
                }
            } else {
                (u32::from(bytes.get(i).copied().unwrap_or(0)), 1u8)
            };
            i = i.saturating_add(usize::from(len));
            let (text, width) = font.decode(code, len);
            let trm = mul(
                &[gs.size * gs.scale, 0.0, 0.0, gs.size, 0.0, gs.rise],
                &mul(&st.tm, &gs.ctm),
            );
            let word_space = if len == 1 && code == 32 {
                gs.word_spacing
            } else {
                0.0
            };
            let advance = (width * gs.size + gs.char_spacing + word_space) * gs.scale;
            let m = mul(&st.tm, &gs.ctm);
            let (dx, dy) = (advance * m[0], advance * m[1]);
            st.tm = mul(&[1.0, 0.0, 0.0, 1.0, advance, 0.0], &st.tm);

            let is_space = text.chars().all(char::is_whitespace);
            if is_space {
                self.pending_space = true;
                continue;
            }
            let (ox, oy) = (trm[4], trm[5]);
            let size = (trm[2] * trm[2] + trm[3] * trm[3]).sqrt();
            let angle = trm[1].atan2(trm[0]);
            if !(ox.is_finite() && oy.is_finite() && size.is_finite() && angle.is_finite()) {
                continue;
            }
            let quarter = (angle / std::f64::consts::FRAC_PI_2).round();
            let rot = (quarter.rem_euclid(4.0)) as u8;
            let (x, y) = rotate(rot, ox, oy);
            let len = (dx * dx + dy * dy).sqrt();
            self.glyphs.push(Glyph {
                x0: x,
                x1: x + len,
                y,
                size: if size > 0.01 { size } else { 1.0 },
                rot,
                text,
                space_before: std::mem::take(&mut self.pending_space),
            });
        }
    }
}

fn rotate(rot: u8, x: f64, y: f64) -> (f64, f64) {
    match rot {
        1 => (y, -x),
        2 => (-x, -y),
        3 => (-y, x),
        _ => (x, y),
    }
}

fn move_line(st: &mut State, tx: f64, ty: f64) {
    st.tlm = mul(&[1.0, 0.0, 0.0, 1.0, tx, ty], &st.tlm);
    st.tm = st.tlm;
}

/// A field attribute, inherited from parent fields when absent.
fn field_attr<'a>(doc: &'a Document, field: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    let mut node = field;
    for _ in 0..16 {
        if let Some(value) = dict_get(doc, node, key) {
            return Some(value);
        }
        node = dict_get(doc, node, b"Parent")?.as_dict().ok()?;
    }
    None
}

/// The text a viewer draws for a text or choice field: the value, or the
/// options of a list box.
fn field_text(doc: &Document, field: &Dictionary) -> Option<Vec<String>> {
    let text = |o: &Object| deref(doc, o).and_then(|o| lopdf::decode_text_string(o).ok());
    let kind = field_attr(doc, field, b"FT")?.as_name().ok()?;
    let flags = field_attr(doc, field, b"Ff").and_then(num).unwrap_or(0.0) as i64;
    let value: Vec<String> = match field_attr(doc, field, b"V") {
        Some(Object::Array(values)) => values.iter().filter_map(text).collect(),
        Some(o) => text(o).into_iter().collect(),
        None => Vec::new(),
    };
    match kind {
        b"Tx" => Some(
            value
                .iter()
                .flat_map(|v| {
                    v.split(['\r', '\n'])
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .collect(),
        ),
        b"Ch" if flags & (1 << 17) != 0 => Some(value),
        b"Ch" => {
            let options = field_attr(doc, field, b"Opt").and_then(|o| o.as_array().ok())?;
            Some(
                options
                    .iter()
                    .filter_map(|o| match deref(doc, o) {
                        Some(Object::Array(pair)) => pair.get(1).or(pair.first()).and_then(text),
                        Some(o) => text(o),
                        None => None,
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// The font size in the field's `/DA` (`/Helv 12 Tf`), or one that fits.
fn field_font_size(doc: &Document, field: &Dictionary, area: [f64; 4]) -> f64 {
    let fit = ((area[3] - area[1]) * 0.7).clamp(1.0, 12.0);
    let Some(da) = field_attr(doc, field, b"DA").and_then(|o| o.as_str().ok()) else {
        return fit;
    };
    let da = String::from_utf8_lossy(da);
    let tokens: Vec<&str> = da.split_whitespace().collect();
    tokens
        .iter()
        .position(|t| *t == "Tf")
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| tokens.get(i))
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(fit)
}

/// A form's `/Matrix`, identity when absent or unreadable.
fn form_matrix(doc: &Document, dict: &Dictionary) -> Matrix {
    dict_get(doc, dict, b"Matrix")
        .and_then(|o| o.as_array().ok())
        .and_then(|a| matrix(a))
        .unwrap_or(IDENTITY)
}

/// A normalised rectangle `[x0, y0, x1, y1]` with x0 <= x1 and y0 <= y1.
fn rect(a: &[Object]) -> Option<[f64; 4]> {
    let m = matrix_n::<4>(a)?;
    Some([
        m[0].min(m[2]),
        m[1].min(m[3]),
        m[0].max(m[2]),
        m[1].max(m[3]),
    ])
}

fn matrix_n<const N: usize>(operands: &[Object]) -> Option<[f64; N]> {
    let mut m = [0.0; N];
    for (slot, o) in m.iter_mut().zip(operands.iter()) {
        *slot = num(o)?;
    }
    (operands.len() >= N).then_some(m)
}

fn matrix(operands: &[Object]) -> Option<Matrix> {
    matrix_n::<6>(operands)
}

// ---------------------------------------------------------------------------
// Layout

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

fn layout_page(glyphs: Vec<Glyph>) -> String {
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

#[cfg(test)]
mod budget_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{Stream, dictionary};

    /// Builds a PDF with one Helvetica page per content stream, the second
    /// font carrying a ToUnicode CMap that maps code 0x01 to "ﬁ".
    pub(crate) fn build_pdf(pages: &[&str]) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => "Helvetica",
            "Encoding" => "WinAnsiEncoding",
        });
        let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
            /CMapName /Test def 1 begincodespacerange <00> <FF> endcodespacerange\n\
            2 beginbfchar <01> <FB01> <20> <0020> endbfchar\n\
            1 beginbfrange <41> <5A> <0041> endbfrange\n\
            endcmap CMapName currentdict /CMap defineresource pop end end"
            .to_vec();
        let cmap_id = doc.add_object(Stream::new(dictionary! {}, cmap));
        let lig_font_id = doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => "Helvetica",
            "ToUnicode" => cmap_id,
        });
        let cid_cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
            /CMapName /Test2 def 1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
            2 beginbfchar <0001> <0048> <0002> <0069> endbfchar\n\
            1 beginbfrange <0010> <0012> <00E0> endbfrange\n\
            endcmap CMapName currentdict /CMap defineresource pop end end"
            .to_vec();
        let cid_cmap_id = doc.add_object(Stream::new(dictionary! {}, cid_cmap));
        let cid_font_id = doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type0",
            "BaseFont" => "Test-Identity",
            "Encoding" => "Identity-H",
            "DescendantFonts" => vec![Object::Dictionary(dictionary! {
                "Type" => "Font",
                "Subtype" => "CIDFontType2",
                "BaseFont" => "Test-Identity",
                "DW" => 1000,
                "W" => vec![1.into(), vec![Object::Integer(700), Object::Integer(250)].into()],
            })],
            "ToUnicode" => cid_cmap_id,
        });
        let resources_id = doc.add_object(dictionary! {
            "Font" => dictionary! { "F1" => font_id, "F2" => lig_font_id, "F3" => cid_font_id },
        });
        let mut kids = Vec::new();
        for content in pages {
            let mut stream = Stream::new(dictionary! {}, content.as_bytes().to_vec());
            stream.compress().ok();
            let content_id = doc.add_object(stream);
            let page_id = doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "Contents" => content_id,
            });
            kids.push(page_id.into());
        }
        let count = kids.len() as i64;
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => kids,
                "Count" => count,
                "Resources" => resources_id,
                "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            }),
        );
        let info_id = doc.add_object(dictionary! {
            "Title" => Object::String(b"\xFE\xFF\x00T\x00e\x00s\x00t\x00 \x00\xe9".to_vec(), lopdf::StringFormat::Literal),
            "Author" => Object::string_literal("Jane Roe"),
        });
        let catalog_id = doc.add_object(dictionary! {
            "Type" => "Catalog",
            "Pages" => pages_id,
            "Lang" => Object::string_literal("en-US"),
        });
        doc.trailer.set("Root", catalog_id);
        doc.trailer.set("Info", info_id);
        let mut out = Vec::new();
        doc.save_to(&mut out).expect("save");
        out
    }

    fn run(bytes: &[u8]) -> Result<Extracted, ExtractError> {
        crate::extract(bytes, "application/pdf", &Options::default())
    }

    #[test]
    fn two_pages_with_spans_metadata_and_ligature() {
        let pdf = build_pdf(&[
            "BT /F1 12 Tf 72 720 Td (Hello World) Tj 0 -14 Td (second line) Tj ET",
            "BT /F2 12 Tf 72 720 Td <4F01434500> Tj ET BT /F1 12 Tf 72 690 Td [(exam-)] TJ 0 -14 Td (ple) Tj ET",
        ]);
        let out = run(&pdf).unwrap();
        assert_eq!(out.markdown, "Hello World\nsecond line\n\nOfiCE\n\nexample");
        assert_eq!(out.pages.len(), 2);
        let p1 = out.pages[0];
        let p2 = out.pages[1];
        assert_eq!((p1.page, p2.page), (1, 2));
        assert_eq!(&out.markdown[p1.start..p1.end], "Hello World\nsecond line");
        assert_eq!(&out.markdown[p2.start..p2.end], "OfiCE\n\nexample");
        assert_eq!(out.title.as_deref(), Some("Test é"));
        assert_eq!(out.author.as_deref(), Some("Jane Roe"));
        assert_eq!(out.language.as_deref(), Some("en-US"));
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }

    #[test]
    fn two_byte_cid_font_with_to_unicode() {
        let pdf = build_pdf(&["BT /F3 12 Tf 72 720 Td <0001000200100011> Tj ET"]);
        let out = run(&pdf).unwrap();
        assert_eq!(out.markdown, "Hiàá");
    }

    #[test]
    fn tj_spacing_and_positioning() {
        let pdf = build_pdf(&[
            "BT /F1 10 Tf 14 TL 72 720 Td [(Word)-250(space)-20(kern)] TJ T* (next) Tj (line) ' ET",
        ]);
        let out = run(&pdf).unwrap();
        assert_eq!(out.markdown, "Word spacekern\nnext\nline");
    }

    #[test]
    fn two_columns_are_not_interleaved() {
        let mut content = String::from("BT /F1 10 Tf ");
        for i in 0..10 {
            let y = 700 - i * 12;
            content.push_str(&format!(
                "1 0 0 1 72 {y} Tm (left column line number {i} here) Tj \
                 1 0 0 1 320 {y} Tm (right column line number {i} here) Tj "
            ));
        }
        content.push_str("ET");
        let pdf = build_pdf(&[&content]);
        let out = run(&pdf).unwrap();
        let left_last = out.markdown.find("left column line number 9").unwrap();
        let right_first = out.markdown.find("right column line number 0").unwrap();
        assert!(left_last < right_first, "{}", out.markdown);
    }

    #[test]
    fn form_xobject_recursion_is_bounded() {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let form_id = doc.new_object_id();
        let form = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Form",
                "Resources" => dictionary! {
                    "Font" => dictionary! { "F1" => font_id },
                    "XObject" => dictionary! { "X" => form_id },
                },
            },
            b"BT /F1 10 Tf 72 700 Td (inside) Tj ET /X Do".to_vec(),
        );
        doc.objects.insert(form_id, Object::Stream(form));
        let content_id = doc.add_object(Stream::new(dictionary! {}, b"/X Do /X Do".to_vec()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "Resources" => dictionary! { "XObject" => dictionary! { "X" => form_id } },
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(
                dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
            ),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        let out = run(&bytes).unwrap();
        assert_eq!(out.markdown, "inside");
    }

    fn encrypted(user_password: &str) -> Vec<u8> {
        let plain = build_pdf(&["BT /F1 12 Tf 72 720 Td (Secret words) Tj ET"]);
        let mut doc = Document::load_mem(&plain).unwrap();
        let id = Object::String(
            b"0123456789abcdef".to_vec(),
            lopdf::StringFormat::Hexadecimal,
        );
        doc.trailer.set("ID", Object::Array(vec![id.clone(), id]));
        let version = lopdf::EncryptionVersion::V2 {
            document: &doc,
            owner_password: "owner-secret",
            user_password,
            key_length: 128,
            permissions: lopdf::Permissions::all(),
        };
        let state = lopdf::EncryptionState::try_from(version).unwrap();
        doc.encrypt(&state).unwrap();
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    #[test]
    fn encrypted_with_empty_user_password_opens() {
        let out = run(&encrypted("")).unwrap();
        assert_eq!(out.markdown, "Secret words");
    }

    #[test]
    fn encrypted_needs_the_password() {
        let pdf = encrypted("hunter2");
        assert_eq!(run(&pdf).unwrap_err(), ExtractError::Encrypted);
        let wrong = Options {
            password: Some("nope".into()),
            ..Options::default()
        };
        assert_eq!(
            crate::extract(&pdf, "application/pdf", &wrong).unwrap_err(),
            ExtractError::Encrypted
        );
        let right = Options {
            password: Some("hunter2".into()),
            ..Options::default()
        };
        let out = crate::extract(&pdf, "application/pdf", &right).unwrap();
        assert_eq!(out.markdown, "Secret words");
    }

    #[test]
    fn decompression_bomb_is_too_large() {
        let big = format!("BT /F1 12 Tf 72 720 Td ({}) Tj ET", "A".repeat(200_000));
        let pdf = build_pdf(&[&big]);
        let opts = Options {
            max_decompressed_bytes: 10_000,
            ..Options::default()
        };
        let err = crate::extract(&pdf, "application/pdf", &opts).unwrap_err();
        assert!(matches!(err, ExtractError::TooLarge(_)), "{err:?}");
    }

    #[test]
    fn garbage_is_malformed() {
        let err = run(b"this is not a pdf at all").unwrap_err();
        assert!(matches!(err, ExtractError::Malformed(_)), "{err:?}");
        let noise: Vec<u8> = (0..10_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut with_header = b"%PDF-1.4\n".to_vec();
        with_header.extend_from_slice(&noise);
        assert!(run(&with_header).is_err());
    }

    #[test]
    fn mutated_pdfs_do_not_panic() {
        let pdf = build_pdf(&[
            "BT /F1 12 Tf 72 720 Td [(Hello)-300(World)] TJ 0 -14 Td (second line) Tj ET",
            "BT /F2 12 Tf 72 720 Td <4F01434500> Tj /F3 10 Tf <00010002> Tj ET",
        ]);
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..400 {
            let mut bytes = pdf.clone();
            for _ in 0..(next() % 8 + 1) {
                let at = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = next() as u8,
                    1 => bytes.truncate(at.max(1)),
                    _ => bytes.insert(at, b"()<>[]/ 0123456789RobjTjTf"[(next() % 26) as usize]),
                }
            }
            if let Ok(out) = run(&bytes) {
                for span in &out.pages {
                    assert!(span.start <= span.end && span.end <= out.markdown.len());
                }
            }
        }
    }

    #[test]
    fn truncated_pdf_does_not_panic() {
        let pdf = build_pdf(&[
            "BT /F1 12 Tf 72 720 Td (Hello World) Tj ET",
            "BT /F1 12 Tf 72 720 Td (Page two) Tj ET",
        ]);
        for cut in [
            10,
            pdf.len() / 4,
            pdf.len() / 2,
            pdf.len() * 3 / 4,
            pdf.len() - 10,
        ] {
            let result = run(&pdf[..cut]);
            if let Ok(out) = &result {
                for span in &out.pages {
                    assert!(span.start <= span.end && span.end <= out.markdown.len());
                }
            }
        }
    }

    #[test]
    fn scanned_page_warns() {
        let pdf = build_pdf(&[
            "q 100 0 0 100 0 0 cm Q",
            "BT /F1 12 Tf 72 720 Td (text) Tj ET",
        ]);
        let out = run(&pdf).unwrap();
        assert_eq!(out.markdown, "text");
        assert_eq!(
            out.pages[0],
            PageSpan {
                page: 1,
                start: 0,
                end: 0
            }
        );
        assert!(
            out.warnings.iter().any(|w| w == "page 1 has no text layer"),
            "{:?}",
            out.warnings
        );
    }

    #[test]
    fn operator_limit_truncates() {
        let mut content = String::from("BT /F1 12 Tf 72 720 Td (first) Tj ");
        for _ in 0..100 {
            content.push_str("0 0 Td ");
        }
        content.push_str("(last) Tj ET");
        let pdf = build_pdf(&[&content]);
        let opts = Options {
            max_ops_per_page: 50,
            ..Options::default()
        };
        let out = crate::extract(&pdf, "application/pdf", &opts).unwrap();
        assert_eq!(out.markdown, "first");
        assert!(out.warnings.iter().any(|w| w.contains("operators")));
    }

    #[test]
    fn page_limit() {
        let pdf = build_pdf(&["BT ET", "BT ET", "BT ET"]);
        let opts = Options {
            max_pages: 2,
            ..Options::default()
        };
        let err = crate::extract(&pdf, "application/pdf", &opts).unwrap_err();
        assert!(matches!(err, ExtractError::TooLarge(_)));
    }

    #[test]
    fn glyph_names() {
        assert_eq!(glyph_name_uncached(b"A", 0), "A");
        assert_eq!(glyph_name_uncached(b"fi", 0), "\u{fb01}");
        assert_eq!(glyph_name_uncached(b"uni00E9", 0), "é");
        assert_eq!(glyph_name_uncached(b"u1F600", 0), "😀");
        assert_eq!(glyph_name_uncached(b"f_f_i", 0), "ffi");
        assert_eq!(glyph_name_uncached(b"a.sc", 0), "a");
        assert_eq!(glyph_name_uncached(b"g123", 0), "");
    }
}
