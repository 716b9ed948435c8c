//! PDF to text: every page's content stream is walked into positioned
//! glyphs, which are grouped into lines and columns and written out in
//! reading order, one paragraph per block of lines.
//!
//! `lopdf` parses the file, decrypts it, bounds stream decompression and
//! decodes the encodings and ToUnicode CMaps; the layout is ours, because
//! `Document::extract_text` only concatenates strings in stream order.
//!
//! This module drives one document page by page; the stages live apart:
//! [`font`] decodes strings into text and widths, [`walk`] interprets
//! content streams into glyphs, [`annotations`] draws annotation appearances
//! and form fields, [`layout`] orders glyphs into text, and [`budget`]
//! bounds the work.

use std::collections::HashSet;

use lopdf::{DecompressError, Dictionary, Document, LoadOptions, Object, ObjectId};
use unicode_normalization::UnicodeNormalization;

use crate::{ExtractError, Extracted, Options, PageSpan};

mod annotations;
mod budget;
mod font;
mod layout;
mod walk;

use budget::{Budget, Refused};
use font::FontCache;
use layout::layout_page;
use walk::{State, Walker};

/// How many parents we follow up the page tree for inherited resources.
const MAX_PARENT_DEPTH: usize = 32;

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

#[cfg(test)]
mod budget_tests;

#[cfg(test)]
mod tests;
