//! The words of a free-text query (`crate::analyze` turns them into terms).

/// Lucene's English stop words (the 33 of `EnglishAnalyzer`), dropped from
/// queries so that `of`/`the` do not dominate an OR query.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// The distinct lower-cased words of `query`, stop words dropped.
pub fn terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        if STOP_WORDS.contains(&word.as_str()) || terms.contains(&word) {
            continue;
        }
        terms.push(word);
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_words_without_stop_words() {
        assert_eq!(
            terms("What is the boundary-layer? Boundary NEAR(x)"),
            ["what", "boundary", "layer", "near", "x"]
        );
        assert!(terms("the of and ?!").is_empty());
        assert!(terms("\" OR * :").is_empty());
    }
}
