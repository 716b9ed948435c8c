//! Fonts: how a PDF font splits strings into codes, what each code means as
//! text and how far it advances. Separate from the content walk because it
//! is pure lookup (encodings, CMaps, glyph names, widths), cached per document.

use std::collections::HashMap;
use std::rc::Rc;

use lopdf::{Dictionary, Document, Encoding, Object};
use unicode_normalization::UnicodeNormalization;

use super::budget::Budget;
use super::{deref, dict_get, num};

/// What we need from a font: how to split strings into codes, what each
/// code means as text and how far it advances.
pub(super) struct Font {
    pub(super) two_byte: bool,
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
pub(super) enum Metrics {
    Helvetica,
    Times,
    Courier,
}

#[derive(Default)]
pub(super) struct FontCache {
    /// Keyed by the address of the font dictionary in the loaded document,
    /// which is stable while the document lives.
    fonts: HashMap<usize, Rc<Font>>,
    base_tables: HashMap<Vec<u8>, Rc<Vec<String>>>,
    glyph_names: HashMap<Vec<u8>, String>,
}

impl Font {
    /// Unicode text and width (in text space, before font size) of a code.
    pub(super) fn decode(&self, code: u32, len: u8) -> (String, f64) {
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

pub(super) fn estimate_width(metrics: Metrics, c: char) -> f64 {
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
    pub(super) fn get(
        &mut self,
        doc: &Document,
        dict: &Dictionary,
        budget: &mut Budget,
    ) -> Rc<Font> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
