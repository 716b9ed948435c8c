//! `POST /api/search`: validate a search request, run it in one or both
//! modes, fuse, filter and dress the hits with document titles and snippets.

use std::collections::{HashMap, HashSet};

use lode_api::ApiError;
use lode_store::{Sql, StoreError, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::store::StoredChunk;
use crate::{Hit, Index, fulltext, rrf};

/// Most results one search may return.
pub const MAX_K: u32 = 100;
/// Candidates taken from each mode before fusing (as in the Cranfield test).
pub const FUSION_DEPTH: usize = 100;
/// RRF's k, from Cormack et al. (2009).
pub const RRF_K: f64 = 60.0;
/// Longest query (a pasted paragraph; one query of a standard collection
/// is 2,023 characters). Full text uses every term; the embedding reads the
/// first 256 tokens, as sentence-transformers does.
pub const MAX_QUERY_CHARS: usize = 8000;
const MAX_DOCUMENT_IDS: usize = 100;
const MAX_METADATA_FILTERS: usize = 8;
/// Words of context a snippet shows.
const SNIPPET_WORDS: usize = 32;

/// How to rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Cosine similarity of embeddings: finds meaning without shared words.
    Vector,
    /// BM25 over stemmed words: finds exact names, codes and rare terms.
    Fulltext,
    /// Reciprocal Rank Fusion of both: the best of the two, the default.
    Hybrid,
}

/// The JSON body of a search, as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// What to look for.
    pub query: String,
    /// Results wanted, 1–100 (default 10).
    pub k: Option<u32>,
    /// `vector`, `fulltext` or `hybrid` (default).
    pub mode: Option<Mode>,
    /// Drop hits whose score (of the chosen mode) is below this.
    pub min_score: Option<f64>,
    /// Search only these documents.
    pub document_ids: Option<Vec<String>>,
    /// Search only documents whose metadata has these values.
    pub metadata: Option<Map<String, Json>>,
}

/// A search that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The query text, trimmed.
    pub text: String,
    /// Results wanted.
    pub k: usize,
    /// Ranking mode.
    pub mode: Mode,
    /// Score floor.
    pub min_score: Option<f64>,
    /// Document id filter (empty: all).
    pub document_ids: Vec<String>,
    /// Metadata equality filters, values as SQLite compares them.
    pub metadata: Vec<(String, Value)>,
}

impl SearchRequest {
    /// Validate; `route_mode` is the mode fixed by an alias route
    /// (`/api/search/vector`), which a different `mode` in the body contradicts.
    pub fn validate(self, route_mode: Option<Mode>) -> Result<Query, ApiError> {
        let text = self.query.trim().to_string();
        if text.is_empty() || text.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::invalid(format!(
                "query must be 1-{MAX_QUERY_CHARS} characters"
            )));
        }
        let k = self.k.unwrap_or(10);
        if !(1..=MAX_K).contains(&k) {
            return Err(ApiError::invalid(format!("k must be 1-{MAX_K}")));
        }
        let mode = match (route_mode, self.mode) {
            (Some(r), Some(b)) if r != b => {
                return Err(ApiError::invalid(format!(
                    "this route searches in {r:?} mode; drop \"mode\" or use /api/search"
                )));
            }
            (Some(r), _) => r,
            (None, b) => b.unwrap_or(Mode::Hybrid),
        };
        if self.min_score.is_some_and(|s| !s.is_finite()) {
            return Err(ApiError::invalid("min_score must be a finite number"));
        }
        let document_ids = self.document_ids.unwrap_or_default();
        if document_ids.len() > MAX_DOCUMENT_IDS {
            return Err(ApiError::invalid(format!(
                "at most {MAX_DOCUMENT_IDS} document_ids"
            )));
        }
        let filters = self.metadata.unwrap_or_default();
        if filters.len() > MAX_METADATA_FILTERS {
            return Err(ApiError::invalid(format!(
                "at most {MAX_METADATA_FILTERS} metadata filters"
            )));
        }
        let mut metadata = Vec::with_capacity(filters.len());
        for (key, value) in filters {
            if key.is_empty()
                || key.len() > 64
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(ApiError::invalid(format!(
                    "metadata key {key:?} must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'"
                )));
            }
            let value = match value {
                Json::String(s) => Value::Text(s),
                Json::Bool(b) => Value::Integer(b as i64),
                Json::Number(n) => match n.as_i64() {
                    Some(i) => Value::Integer(i),
                    None => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
                },
                _ => {
                    return Err(ApiError::invalid(format!(
                        "metadata filter {key:?} must be a string, number or boolean"
                    )));
                }
            };
            metadata.push((key, value));
        }
        Ok(Query {
            text,
            k: k as usize,
            mode,
            min_score: self.min_score,
            document_ids,
            metadata,
        })
    }
}

impl Query {
    /// Whether the query needs an embedding.
    pub fn needs_vector(&self) -> bool {
        self.mode != Mode::Fulltext
    }
}

/// Rank and score of a hit in one mode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModeRank {
    /// 1-based position in that mode's list.
    pub rank: usize,
    /// That mode's score.
    pub score: f64,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// The chunk's id.
    pub chunk_id: i64,
    /// The document it belongs to.
    pub document_id: String,
    /// That document's title.
    pub title: String,
    /// The chunk's text.
    pub text: String,
    /// A short extract around the query's words, which are wrapped in `<mark>`.
    pub snippet: String,
    /// Headings above the chunk.
    pub heading_path: Vec<String>,
    /// First and last page, for paged documents.
    pub pages: Option<(i64, i64)>,
    /// Position of the chunk in its document.
    pub ordinal: i64,
    /// The score of the requested mode (cosine, -bm25 or RRF).
    pub score: f64,
    /// Where the vector search placed it, if it did.
    pub vector: Option<ModeRank>,
    /// Where the full-text search placed it, if it did.
    pub fulltext: Option<ModeRank>,
}

impl<S: Sql> Index<'_, S> {
    /// Run `query`; `query_vector` must be given unless the mode is full text.
    pub async fn search(
        &self,
        query: &Query,
        query_vector: Option<&[f32]>,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let Some(documents) = self.filter_documents(query).await? else {
            return Ok(vec![]); // the filters match no document
        };
        let documents = &documents;
        let vector_hits = |depth| async move {
            match query_vector {
                Some(v) => self.search_vector(v, depth, documents).await,
                None => Err(StoreError::Decode(
                    "a vector search needs a query vector".into(),
                )),
            }
        };
        let ranked: Vec<(i64, f64, Option<ModeRank>, Option<ModeRank>)> = match query.mode {
            Mode::Vector => ranks(vector_hits(query.k).await?, true),
            Mode::Fulltext => ranks(
                self.search_fulltext(&query.text, query.k, documents)
                    .await?,
                false,
            ),
            Mode::Hybrid => {
                let v = vector_hits(FUSION_DEPTH).await?;
                let f = self
                    .search_fulltext(&query.text, FUSION_DEPTH, documents)
                    .await?;
                rrf(&v, &f, RRF_K)
                    .into_iter()
                    .map(|h| {
                        let mr = |m: Option<(usize, f64)>| {
                            m.map(|(rank, score)| ModeRank { rank, score })
                        };
                        (h.chunk_id, h.score, mr(h.vector), mr(h.fulltext))
                    })
                    .collect()
            }
        };
        let ranked: Vec<_> = ranked
            .into_iter()
            .filter(|r| query.min_score.is_none_or(|min| r.1 >= min))
            .take(query.k)
            .collect();
        let ids: Vec<i64> = ranked.iter().map(|r| r.0).collect();
        let chunks = self.chunks(&ids).await?;
        let titles = self.titles(chunks.values()).await?;
        let terms = fulltext::terms(&query.text);
        Ok(ranked
            .into_iter()
            .filter_map(|(id, score, vector, fulltext)| {
                let c = chunks.get(&id)?;
                Some(SearchHit {
                    chunk_id: id,
                    document_id: c.document_id.clone(),
                    title: titles.get(&c.document_id).cloned().unwrap_or_default(),
                    snippet: snippet(&c.text, &terms),
                    text: c.text.clone(),
                    heading_path: c.heading_path.clone(),
                    pages: c.pages,
                    ordinal: c.ordinal,
                    score,
                    vector,
                    fulltext,
                })
            })
            .collect())
    }

    /// The document ids the filters allow: `Some(vec![])` for no filter,
    /// `None` when the filters match nothing.
    async fn filter_documents(&self, query: &Query) -> Result<Option<Vec<String>>, StoreError> {
        if query.metadata.is_empty() {
            return Ok(Some(query.document_ids.clone()));
        }
        let mut sql =
            String::from("SELECT id FROM documents WHERE tenant = ? AND deleted_at IS NULL");
        let mut params: Vec<Value> = vec![self.tenant.as_str().into()];
        for (key, value) in &query.metadata {
            sql.push_str(" AND json_extract(metadata, ?) = ?");
            params.push(format!("$.\"{key}\"").into());
            params.push(value.clone());
        }
        let rows = self.sql.query(&sql, params).await?;
        let mut ids: Vec<String> = rows.iter().map(|r| r.text(0)).collect::<Result<_, _>>()?;
        if !query.document_ids.is_empty() {
            let wanted: HashSet<&String> = query.document_ids.iter().collect();
            ids.retain(|id| wanted.contains(id));
        }
        Ok((!ids.is_empty()).then_some(ids))
    }

    /// Current titles of the documents these chunks belong to.
    async fn titles(
        &self,
        chunks: impl Iterator<Item = &StoredChunk>,
    ) -> Result<HashMap<String, String>, StoreError> {
        let ids: HashSet<&str> = chunks.map(|c| c.document_id.as_str()).collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let mut params: Vec<Value> = vec![self.tenant.as_str().into()];
        params.extend(ids.iter().map(|&i| Value::Text(i.to_string())));
        let rows = self
            .sql
            .query(
                &format!("SELECT id, title FROM documents WHERE tenant = ? AND id IN ({marks})"),
                params,
            )
            .await?;
        rows.iter().map(|r| Ok((r.text(0)?, r.text(1)?))).collect()
    }
}

fn ranks(hits: Vec<Hit>, vector: bool) -> Vec<(i64, f64, Option<ModeRank>, Option<ModeRank>)> {
    hits.into_iter()
        .enumerate()
        .map(|(i, h)| {
            let r = Some(ModeRank {
                rank: i + 1,
                score: h.score,
            });
            if vector {
                (h.chunk_id, h.score, r, None)
            } else {
                (h.chunk_id, h.score, None, r)
            }
        })
        .collect()
}

/// About [`SNIPPET_WORDS`] words of `text` around the densest run of query
/// terms, each term wrapped in `<mark>`: HTML whose only tag is `<mark>`,
/// the document's own text escaped (`&`, `<`, `>`, `"`, `'`), so a client can
/// render it as markup without the document's text ever becoming markup. A word matches a term when one is a
/// prefix of the other and they share at least four letters (or are equal),
/// a cheap stand-in for the index's Porter stemming ("flows" ~ "flow").
pub fn snippet(text: &str, terms: &[String]) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let matches = |w: &str| {
        let w: String = w
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        !w.is_empty()
            && terms.iter().any(|t| {
                w == *t
                    || (w.len().min(t.len()) >= 4
                        && (w.starts_with(t.as_str()) || t.starts_with(&w)))
            })
    };
    let hit: Vec<bool> = words.iter().map(|w| matches(w)).collect();
    let window = SNIPPET_WORDS.min(words.len());
    let mut best = (0, 0);
    let mut count = hit[..window].iter().filter(|&&h| h).count();
    best.1 = count;
    for start in 1..=words.len().saturating_sub(window) {
        count += hit[start + window - 1] as usize;
        count -= hit[start - 1] as usize;
        if count > best.1 {
            best = (start, count);
        }
    }
    // Centre the window on the matches it holds.
    let inside = (best.0..best.0 + window).filter(|&i| hit[i]);
    let (first, last) = inside.fold((None, 0), |(f, _), i| (f.or(Some(i)), i));
    let start = match first {
        Some(f) => ((f + last) / 2)
            .saturating_sub(window / 2)
            .min(words.len() - window),
        None => 0,
    };
    let end = start + window;
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    for (i, w) in words[start..end].iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if hit[start + i] {
            out.push_str("<mark>");
            escape_html(w, &mut out);
            out.push_str("</mark>");
        } else {
            escape_html(w, &mut out);
        }
    }
    if end < words.len() {
        out.push('…');
    }
    out
}

/// Append `text` to `out` with HTML's special characters as entities.
fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_escape_the_documents_markup() {
        let text =
            "a <img src=x onerror=\"alert(1)\"> tag & <mark>fake</mark> marks for 'quokka' fans";
        let s = snippet(text, &["quokka".to_string(), "img".to_string()]);
        assert_eq!(
            s,
            "a <mark>&lt;img</mark> src=x onerror=&quot;alert(1)&quot;&gt; tag &amp; \
             &lt;mark&gt;fake&lt;/mark&gt; marks for <mark>&#39;quokka&#39;</mark> fans"
        );
    }

    fn request(body: &str) -> SearchRequest {
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn validation_bounds_and_defaults() {
        let q = request(r#"{"query":" lift "}"#).validate(None).unwrap();
        assert_eq!((q.text.as_str(), q.k, q.mode), ("lift", 10, Mode::Hybrid));
        assert!(request(r#"{"query":"x","k":0}"#).validate(None).is_err());
        assert!(request(r#"{"query":"x","k":101}"#).validate(None).is_err());
        assert!(request(r#"{"query":"  "}"#).validate(None).is_err());
        assert!(serde_json::from_str::<SearchRequest>(r#"{"query":"x","mode":"fuzzy"}"#).is_err());
        assert!(serde_json::from_str::<SearchRequest>(r#"{"query":"x","top":3}"#).is_err());
        let alias = request(r#"{"query":"x"}"#)
            .validate(Some(Mode::Vector))
            .unwrap();
        assert_eq!(alias.mode, Mode::Vector);
        assert!(
            request(r#"{"query":"x","mode":"hybrid"}"#)
                .validate(Some(Mode::Fulltext))
                .is_err()
        );
        assert!(
            request(r#"{"query":"x","metadata":{"a b":"c"}}"#)
                .validate(None)
                .is_err()
        );
        assert!(
            request(r#"{"query":"x","metadata":{"a":[1]}}"#)
                .validate(None)
                .is_err()
        );
    }

    #[test]
    fn snippets_mark_terms_around_the_densest_window() {
        let text = (0..100)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
            + " the boundary layer flows over the boundary again";
        let s = snippet(&text, &fulltext::terms("boundary flow"));
        assert!(s.starts_with('…'), "{s}");
        assert!(
            s.contains("<mark>boundary</mark> layer <mark>flows</mark>"),
            "{s}"
        );
        assert!(s.ends_with("the <mark>boundary</mark> again"), "{s}");
        assert_eq!(snippet("short text", &[]), "short text");
        assert_eq!(snippet("", &fulltext::terms("x")), "");
    }
}
