//! Turning a free-text query into an FTS5 MATCH expression.

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

/// Each distinct word of `query`, quoted and OR-ed: `"boundary" OR "layer"`.
///
/// Quoting makes every word a literal term, so user input can never be read
/// as FTS5 syntax (`NEAR`, `*`, column filters). `None` when nothing is left.
pub fn match_expression(query: &str) -> Option<String> {
    let terms = terms(query);
    (!terms.is_empty()).then(|| {
        terms
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(" OR ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_stop_words() {
        assert_eq!(
            match_expression("What is the boundary-layer? Boundary NEAR(x)").as_deref(),
            Some("\"what\" OR \"boundary\" OR \"layer\" OR \"near\" OR \"x\"")
        );
        assert_eq!(match_expression("the of and ?!"), None);
        assert_eq!(match_expression("\" OR * :").as_deref(), None);
    }
}
