//! One document's allowance of work, shared by its pages, Form XObjects and
//! annotation appearances.
//!
//! Per-stream limits are not enough: a 35 KB file can draw one 32 MiB form a
//! thousand times (`/X0 Do` repeated), let two thousand pages share one
//! content stream, or give thousands of annotations one appearance. So every
//! stream is inflated at most once (cached by object id while the cache is
//! small), and each time content runs its decompressed size is charged again,
//! with its operators and the forms it invokes. Running out is a refusal of
//! the whole document ([`crate::ExtractError::TooLarge`]), never a hang.

use std::collections::HashMap;
use std::rc::Rc;

use lopdf::{DecompressError, ObjectId, Stream};

use crate::Options;

/// Decompressed streams kept for reuse; beyond this, a stream is inflated
/// again on each use (and charged again).
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Why a stream's content could not be had.
#[derive(Debug)]
pub(super) enum Refused {
    /// The document's budget is spent: refuse the document.
    Exhausted(String),
    /// This one stream is over the per-stream limit: skip it.
    StreamTooLarge(usize),
    /// The stream is damaged: skip it.
    Damaged(String),
}

/// Work done so far on one document, against [`Options`]' limits.
pub(super) struct Budget {
    stream_limit: usize,
    inflate_limit: usize,
    content_limit: usize,
    ops_limit: usize,
    forms_limit: usize,
    /// Bytes decompressed (each inflation counted).
    pub(super) inflated: usize,
    /// Content bytes run (a form's each time it runs).
    pub(super) content: usize,
    /// Operators interpreted.
    pub(super) ops: usize,
    /// Forms and appearances run.
    pub(super) forms: usize,
    cache: HashMap<ObjectId, Rc<[u8]>>,
    cached: usize,
    /// Set once the budget is spent; every later charge is refused.
    spent: Option<String>,
}

impl Budget {
    pub(super) fn new(opts: &Options) -> Budget {
        Budget {
            stream_limit: opts.max_decompressed_bytes,
            inflate_limit: opts.max_document_decompressed_bytes,
            content_limit: opts.max_document_content_bytes,
            ops_limit: opts.max_document_ops,
            forms_limit: opts.max_document_forms,
            inflated: 0,
            content: 0,
            ops: 0,
            forms: 0,
            cache: HashMap::new(),
            cached: 0,
            spent: None,
        }
    }

    /// The decompressed content of `stream` (object `id`, when it has one),
    /// from the cache or inflated against what is left of the budget.
    pub(super) fn stream(
        &mut self,
        id: Option<ObjectId>,
        stream: &Stream,
    ) -> Result<Rc<[u8]>, Refused> {
        self.check()?;
        if let Some(hit) = id.and_then(|id| self.cache.get(&id)) {
            return Ok(hit.clone());
        }
        let left = self.inflate_limit.saturating_sub(self.inflated);
        let limit = self.stream_limit.min(left);
        let bytes: Rc<[u8]> = match stream.get_plain_content_with_limit(limit) {
            Ok(bytes) => bytes.into(),
            Err(lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                return Err(if limit < self.stream_limit {
                    self.exhausted("decompressed bytes", self.inflate_limit)
                } else {
                    Refused::StreamTooLarge(self.stream_limit)
                });
            }
            Err(e) => return Err(Refused::Damaged(e.to_string())),
        };
        self.inflated += bytes.len();
        if let Some(id) = id
            && self.cached + bytes.len() <= CACHE_BYTES
        {
            self.cached += bytes.len();
            self.cache.insert(id, bytes.clone());
        }
        Ok(bytes)
    }

    /// Charges running `bytes` of content.
    pub(super) fn run(&mut self, bytes: usize) -> Result<(), Refused> {
        self.content = self.charge(self.content, bytes, self.content_limit, "content bytes run")?;
        Ok(())
    }

    /// Charges one operator.
    pub(super) fn op(&mut self) -> Result<(), Refused> {
        self.ops = self.charge(self.ops, 1, self.ops_limit, "operators")?;
        Ok(())
    }

    /// Charges one form or appearance run.
    pub(super) fn form(&mut self) -> Result<(), Refused> {
        self.forms = self.charge(self.forms, 1, self.forms_limit, "forms drawn")?;
        Ok(())
    }

    /// `used + more`, or a refusal (charging nothing) past `limit`.
    fn charge(
        &mut self,
        used: usize,
        more: usize,
        limit: usize,
        what: &str,
    ) -> Result<usize, Refused> {
        self.check()?;
        match used.checked_add(more) {
            Some(total) if total <= limit => Ok(total),
            _ => Err(self.exhausted(what, limit)),
        }
    }

    /// Why the budget ran out, once it has.
    pub(super) fn spent(&self) -> Option<&str> {
        self.spent.as_deref()
    }

    fn check(&self) -> Result<(), Refused> {
        match &self.spent {
            Some(msg) => Err(Refused::Exhausted(msg.clone())),
            None => Ok(()),
        }
    }

    fn exhausted(&mut self, what: &str, limit: usize) -> Refused {
        let msg =
            format!("the PDF needs more than {limit} {what}, this server's limit per document");
        self.spent = Some(msg.clone());
        Refused::Exhausted(msg)
    }
}
