//! Lode's own text analysis for full-text search. The index holds these
//! terms (not SQLite's tokenization of the raw text), so that Lode can keep
//! statistics per tenant and score in Rust (`crate::store`), and a query's
//! terms are exactly the indexed ones.
//!
//! The analysis is the one FTS5's `porter unicode61` tokenizer applied
//! before: runs of letters and digits, lower-cased, Latin diacritics folded,
//! Porter-stemmed (M. F. Porter, 1980, the original algorithm, as FTS5 and
//! Lucene's `PorterStemFilter` use it).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longer tokens are kept as they are (FTS5's porter stems at most 64 bytes).
const MAX_STEMMED: usize = 64;

/// Every term of `text`, in order, repeats kept (the document side).
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(term)
        .collect()
}

/// One word as the index holds it.
pub fn term(word: &str) -> String {
    let folded: String = word
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    if folded.len() <= MAX_STEMMED && folded.bytes().all(|b| b.is_ascii_lowercase()) {
        porter_stemmer::stem(&folded)
    } else {
        folded
    }
}

/// The terms of a query with their weights: each distinct word that is not
/// a stop word (`crate::fulltext::terms`) counts once for the term it
/// stems to, so `flow flows` weighs `flow` twice, as the OR of the two words
/// did under FTS5.
pub fn query_terms(query: &str) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for word in crate::fulltext::terms(query) {
        let t = term(&word);
        match out.iter_mut().find(|(have, _)| *have == t) {
            Some((_, weight)) => *weight += 1,
            None => out.push((t, 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_lowercased_and_stemmed() {
        assert_eq!(
            terms("Boundary-layer flows, CAFÉ naïve 1.5 Mach-numbers"),
            [
                "boundari", "layer", "flow", "cafe", "naiv", "1", "5", "mach", "number"
            ]
        );
        assert_eq!(terms("中文 text"), ["中文", "text"]);
        assert_eq!(terms(" ?! "), Vec::<String>::new());
        let long = "a".repeat(70);
        assert_eq!(term(&long), long, "too long to stem");
    }

    #[test]
    fn query_terms_drop_stop_words_and_weigh_words_per_stem() {
        assert_eq!(
            query_terms("The flow and the flows of a Flow"),
            [("flow".to_string(), 2)]
        );
        assert!(query_terms("the of and").is_empty());
    }
}
