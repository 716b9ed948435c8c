//! Annotations drawn on top of a page: their normal appearance streams, and
//! text and choice fields redrawn from their values when the form asks for
//! it. Separate from the operator walk because it reads the page's
//! `/Annots` and the AcroForm, not its content stream.

use lopdf::{Dictionary, Document, Object};
use unicode_normalization::UnicodeNormalization;

use super::font::{Metrics, estimate_width};
use super::walk::{Glyph, MAX_GLYPHS_PER_PAGE, Matrix, State, Walker, form_matrix, rect};
use super::{deref, dict_get, num};

impl<'a> Walker<'a, '_> {
    /// Draws the normal appearance of the page's visible annotations (filled
    /// form fields, stamps, free text), as viewers and pdftotext do.
    pub(super) fn annotations(&mut self, page: &'a Dictionary, st: &mut State) {
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
