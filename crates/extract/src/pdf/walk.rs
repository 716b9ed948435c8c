//! The content-stream interpreter: runs a page's operators (graphics and
//! text state, text showing, Form XObjects) and records positioned glyphs.
//! Separate from layout, which only sees the glyphs it produces.

use std::collections::HashSet;
use std::rc::Rc;

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object, ObjectId};

use super::budget::{Budget, Refused};
use super::font::{Font, FontCache};
use super::{deref, dict_get, num};
use crate::Options;

/// How deep Form XObjects may nest inside each other.
const MAX_FORM_DEPTH: usize = 8;
/// How many `q` may be outstanding; deeper saves are ignored.
const MAX_GSTATE_DEPTH: usize = 256;
/// Most glyphs kept per page, a memory bound on top of the operator bound.
pub(super) const MAX_GLYPHS_PER_PAGE: usize = 2_000_000;
/// A TJ adjustment below this (thousandths of an em) is a word space.
const TJ_SPACE: f64 = -200.0;

pub(super) type Matrix = [f64; 6];
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
pub(super) struct GState {
    pub(super) ctm: Matrix,
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
pub(super) struct State {
    pub(super) gs: GState,
    stack: Vec<GState>,
    tm: Matrix,
    tlm: Matrix,
}

/// One glyph on the page, in a frame rotated so that its text runs along +x.
#[derive(Debug, Clone)]
pub(super) struct Glyph {
    pub(super) x0: f64,
    pub(super) x1: f64,
    pub(super) y: f64,
    pub(super) size: f64,
    pub(super) rot: u8,
    pub(super) text: String,
    pub(super) space_before: bool,
}

pub(super) struct Walker<'a, 'c> {
    pub(super) doc: &'a Document,
    pub(super) opts: &'c Options,
    pub(super) fonts: &'c mut FontCache,
    pub(super) budget: &'c mut Budget,
    pub(super) glyphs: Vec<Glyph>,
    pub(super) ops: usize,
    pub(super) truncated: bool,
    /// Why the document's budget ran out, which stops the walk.
    pub(super) exhausted: Option<String>,
    pub(super) broken: bool,
    pub(super) pending_space: bool,
    pub(super) forms: HashSet<ObjectId>,
}

impl<'a> Walker<'a, '_> {
    pub(super) fn run(
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
    pub(super) fn run_form(
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

/// A form's `/Matrix`, identity when absent or unreadable.
pub(super) fn form_matrix(doc: &Document, dict: &Dictionary) -> Matrix {
    dict_get(doc, dict, b"Matrix")
        .and_then(|o| o.as_array().ok())
        .and_then(|a| matrix(a))
        .unwrap_or(IDENTITY)
}

/// A normalised rectangle `[x0, y0, x1, y1]` with x0 <= x1 and y0 <= y1.
pub(super) fn rect(a: &[Object]) -> Option<[f64; 4]> {
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
