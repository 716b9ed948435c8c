//! Retrieval-augmented answers: the prompt that grounds an answer in
//! numbered sources, the prompt that turns a follow-up question into a
//! standalone search query, and the check of the answer's `[n]` citations
//! against the sources it was actually given; [`retrieval`] finds the
//! sources, [`answer`] runs the whole exchange over the host's
//! capabilities, and [`openai`] maps OpenAI's API shapes to it.
//!
//! With tools on, the model may also call [`SEARCH_TOOL`] to look further
//! than the first retrieval: the passages it finds are numbered after the
//! ones it already has ([`append_sources`]), so its citations of them are
//! verified the same way.
//!
//! Verification is the point: a model may cite `[9]` when it saw eight
//! sources, or cite nothing. [`verify`] removes citations that point at no
//! source (and reports them), maps the rest to chunk, document, pages and the
//! sentence of the source that best supports the citing sentence, and says
//! whether anything in the answer is grounded at all.

pub mod answer;
pub mod openai;
pub mod retrieval;

use std::collections::BTreeSet;

use lode_llm::chat::{Message, Role, Tool};
use serde::Serialize;
use serde_json::json;

/// One retrieved chunk, numbered as the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// 1-based number in the prompt (`[1]`, `[2]`…).
    pub n: usize,
    /// The chunk.
    pub chunk_id: i64,
    /// Its document.
    pub document_id: String,
    /// The document's title.
    pub title: String,
    /// First and last page, for paged documents.
    pub pages: Option<(i64, i64)>,
    /// Headings above the chunk.
    pub heading_path: Vec<String>,
    /// The chunk's text.
    pub text: String,
    /// Its retrieval score.
    pub score: f64,
}

/// What Lode tells the model about answering.
pub const SYSTEM_PROMPT: &str = "You answer questions using only the numbered sources below. \
Cite every statement with the number of the source that supports it, in square brackets, like [1] or [2][3]. \
Use only the numbers of the sources given. If the sources do not contain the answer, say that you cannot answer \
from the documents, and do not guess.";

/// The reply Lode gives instead of asking the model, when retrieval found nothing.
pub const NO_CONTEXT_ANSWER: &str =
    "I cannot answer that from your documents: no passage in them matches the question.";

/// The messages for a grounded answer: instructions with the numbered
/// sources, the earlier turns, then the question.
pub fn answer_prompt(question: &str, sources: &[Source], history: &[Message]) -> Vec<Message> {
    answer_prompt_with(question, sources, history, false)
}

/// [`answer_prompt`] for a model that may call [`SEARCH_TOOL`].
pub fn answer_prompt_with(
    question: &str,
    sources: &[Source],
    history: &[Message],
    search_tool: bool,
) -> Vec<Message> {
    let mut system = String::from(SYSTEM_PROMPT);
    if search_tool {
        system.push_str(SEARCH_HINT);
    }
    system.push_str("\n\nSources:\n");
    system.push_str(&format_sources(sources));
    let mut messages = vec![Message::text(Role::System, system)];
    messages.extend(
        history
            .iter()
            .filter(|m| matches!(m.role, Role::User | Role::Assistant))
            .cloned(),
    );
    messages.push(Message::text(Role::User, question));
    messages
}

/// The sources as the model reads them: number, title, pages, headings, text.
pub fn format_sources(sources: &[Source]) -> String {
    let mut out = String::new();
    for s in sources {
        out.push_str(&format!("\n[{}] {}", s.n, s.title));
        if let Some((a, b)) = s.pages {
            out.push_str(&if a == b {
                format!(", page {a}")
            } else {
                format!(", pages {a}-{b}")
            });
        }
        if !s.heading_path.is_empty() {
            out.push_str(&format!(" — {}", s.heading_path.join(" › ")));
        }
        out.push('\n');
        out.push_str(s.text.trim());
        out.push('\n');
    }
    out
}

/// The tool a chat model may call to search the tenant's documents again.
pub const SEARCH_TOOL: &str = "search_documents";

/// Told to a model that has [`SEARCH_TOOL`].
const SEARCH_HINT: &str = " If the sources do not contain what you need, call the search_documents \
tool with a better search query; the passages it returns are numbered after the ones you have, and \
you cite them the same way.";

/// Longest query the model may search for.
const MAX_SEARCH_CHARS: usize = 500;

/// [`SEARCH_TOOL`]'s definition, as the provider clients send it.
pub fn search_tool() -> Tool {
    Tool {
        name: SEARCH_TOOL.to_string(),
        description: "Search the user's documents (hybrid full-text and semantic search) and \
            return the most relevant passages, numbered for citation."
            .to_string(),
        parameters: json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to search for, as a standalone query."}
            },
            "required": ["query"],
            "additionalProperties": false
        }),
    }
}

/// Why a model's tool call cannot be run (told back to the model).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolCallError {
    /// A tool Lode did not offer.
    #[error("there is no tool named {0:?}; the only tool is search_documents")]
    Unknown(String),
    /// Arguments that are not `{"query": "…"}` with a usable query.
    #[error("search_documents takes {{\"query\": \"…\"}} with 1-{MAX_SEARCH_CHARS} characters")]
    BadArguments,
}

/// The query of a [`SEARCH_TOOL`] call named `name` with JSON `arguments`.
pub fn search_query(name: &str, arguments: &str) -> Result<String, ToolCallError> {
    if name != SEARCH_TOOL {
        return Err(ToolCallError::Unknown(name.to_string()));
    }
    let args: serde_json::Value =
        serde_json::from_str(arguments).map_err(|_| ToolCallError::BadArguments)?;
    let query = args["query"].as_str().unwrap_or_default().trim();
    if query.is_empty() || query.chars().count() > MAX_SEARCH_CHARS {
        return Err(ToolCallError::BadArguments);
    }
    Ok(query.to_string())
}

/// Add `found` to `sources`, skipping chunks already there and numbering
/// the rest after the last; returns the added ones (the tool's answer).
pub fn append_sources(sources: &mut Vec<Source>, found: Vec<Source>) -> Vec<Source> {
    let mut added = Vec::new();
    for mut s in found {
        if sources.iter().any(|have| have.chunk_id == s.chunk_id) {
            continue;
        }
        s.n = sources.len() + 1;
        sources.push(s.clone());
        added.push(s);
    }
    added
}

/// What a [`SEARCH_TOOL`] call returns to the model.
pub fn search_result(added: &[Source]) -> String {
    if added.is_empty() {
        return "No new passages were found. Answer from the sources you have, or say that the \
                documents do not contain the answer."
            .to_string();
    }
    format!("New sources:\n{}", format_sources(added))
}

/// The messages that ask the model to rewrite a follow-up `question` into a
/// standalone search query, given the earlier turns (for "and what about
/// its drag?" after a question about a wing).
pub fn rewrite_prompt(question: &str, history: &[Message]) -> Vec<Message> {
    let mut transcript = String::new();
    for m in history
        .iter()
        .filter(|m| matches!(m.role, Role::User | Role::Assistant))
    {
        let who = if m.role == Role::User {
            "User"
        } else {
            "Assistant"
        };
        transcript.push_str(&format!("{who}: {}\n", m.content.trim()));
    }
    vec![
        Message::text(
            Role::System,
            "Rewrite the user's last question as one standalone search query that can be understood \
             without the conversation. Resolve pronouns and references. Reply with the query only.",
        ),
        Message::text(
            Role::User,
            format!("Conversation:\n{transcript}\nLast question: {question}\n\nStandalone query:"),
        ),
    ]
}

/// The rewritten query from the model's reply: its first non-empty line,
/// without quotes or a `Query:` label; `None` if nothing usable came back.
pub fn parse_rewrite(reply: &str) -> Option<String> {
    let unquote = |s: &str| {
        s.trim()
            .trim_matches(|c| c == '"' || c == '\'' || c == '`')
            .trim()
            .to_string()
    };
    let line = unquote(reply.lines().map(str::trim).find(|l| !l.is_empty())?);
    let line = unquote(
        line.strip_prefix("Standalone query:")
            .or_else(|| line.strip_prefix("Query:"))
            .unwrap_or(&line),
    );
    (!line.is_empty()).then(|| line.chars().take(1000).collect())
}

/// A citation that points at a source the model was given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Citation {
    /// The number used in the answer.
    pub n: usize,
    /// The chunk.
    pub chunk_id: i64,
    /// Its document.
    pub document_id: String,
    /// The document's title.
    pub title: String,
    /// Pages of the chunk.
    pub pages: Option<(i64, i64)>,
    /// The sentence of the source that best supports the citing sentence.
    pub quote: String,
}

/// An answer after its citations were checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verified {
    /// The answer with citations of missing sources removed.
    pub answer: String,
    /// Valid citations, in order of first use.
    pub citations: Vec<Citation>,
    /// Numbers cited that match no source (removed from `answer`).
    pub invalid: Vec<usize>,
    /// At least one valid citation supports the answer.
    pub grounded: bool,
}

/// Check `answer`'s `[n]` citations against `sources`.
pub fn verify(answer: &str, sources: &[Source]) -> Verified {
    let mut out = String::with_capacity(answer.len());
    let mut invalid = BTreeSet::new();
    let mut used: Vec<(usize, String)> = Vec::new(); // (n, citing sentence)
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        let is_citation = !digits.is_empty() && after[digits.len()..].starts_with(']');
        if !is_citation {
            out.push('[');
            rest = after;
            continue;
        }
        let n: usize = digits.parse().unwrap_or(0);
        rest = &after[digits.len() + 1..];
        if sources.iter().any(|s| s.n == n) {
            out.push_str(&format!("[{n}]"));
            let sentence = citing_sentence(&out);
            if !used.iter().any(|(m, _)| *m == n) {
                used.push((n, sentence));
            }
        } else {
            invalid.insert(n);
            // Drop the space the removed marker leaves before punctuation
            // or another space.
            if out.ends_with(' ') && rest.starts_with(['.', ',', ';', ':', '!', '?', ' ']) {
                out.pop();
            }
        }
    }
    out.push_str(rest);
    let citations: Vec<Citation> = used
        .into_iter()
        .filter_map(|(n, sentence)| {
            let s = sources.iter().find(|s| s.n == n)?;
            Some(Citation {
                n,
                chunk_id: s.chunk_id,
                document_id: s.document_id.clone(),
                title: s.title.clone(),
                pages: s.pages,
                quote: best_sentence(&s.text, &sentence),
            })
        })
        .collect();
    Verified {
        grounded: !citations.is_empty(),
        answer: out,
        citations,
        invalid: invalid.into_iter().collect(),
    }
}

/// The sentence of `text` ending at its end (the one a citation marker closes).
fn citing_sentence(text: &str) -> String {
    let body = text.trim_end_matches(|c: char| c == ']' || c.is_ascii_digit() || c == '[');
    let start = body
        .char_indices()
        .rev()
        .skip_while(|(_, c)| matches!(c, '.' | '!' | '?') || c.is_whitespace())
        .find(|(_, c)| matches!(c, '.' | '!' | '?' | '\n'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    body[start..].trim().to_string()
}

/// The sentence of `source` sharing the most words with `claim`.
fn best_sentence(source: &str, claim: &str) -> String {
    let words = |t: &str| -> BTreeSet<String> {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2)
            .map(str::to_lowercase)
            .collect()
    };
    let claim_words = words(claim);
    sentences(source)
        .into_iter()
        .max_by_key(|s| words(s).intersection(&claim_words).count())
        .unwrap_or_default()
        .chars()
        .take(400)
        .collect()
}

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        current.push(c);
        if matches!(c, '.' | '!' | '?' | '\n') {
            let s = current.trim().to_string();
            if s.len() > 1 {
                out.push(s);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(n: usize) -> Vec<Source> {
        (1..=n)
            .map(|i| Source {
                n: i,
                chunk_id: 100 + i as i64,
                document_id: format!("doc_{i}"),
                title: format!("Doc {i}"),
                pages: Some((i as i64, i as i64)),
                heading_path: vec![],
                text: format!(
                    "Unrelated opening. Source {i} says gliders stay up in rising air number {i}. Closing."
                ),
                score: 1.0,
            })
            .collect()
    }

    #[test]
    fn searched_passages_are_numbered_after_the_sources_the_model_has() {
        let mut have = sources(3);
        let mut found = sources(5);
        // Two of the five are chunks the model already has.
        found[0].chunk_id = 102;
        found[1].chunk_id = 500;
        found[2].chunk_id = 103;
        let added = append_sources(&mut have, found);
        assert_eq!(
            added.iter().map(|s| (s.n, s.chunk_id)).collect::<Vec<_>>(),
            [(4, 500), (5, 104), (6, 105)]
        );
        assert_eq!(have.len(), 6);
        assert!(search_result(&added).starts_with("New sources:\n\n[4] Doc 2, page 2\n"));
        assert!(search_result(&[]).starts_with("No new passages"));
        // A citation of a searched passage is as valid as one of the first.
        assert!(verify("Rising air [5].", &have).invalid.is_empty());
    }

    #[test]
    fn only_well_formed_search_calls_are_run() {
        assert_eq!(
            search_query(SEARCH_TOOL, r#"{"query": " wing drag "}"#),
            Ok("wing drag".to_string())
        );
        assert_eq!(
            search_query("delete_everything", "{}"),
            Err(ToolCallError::Unknown("delete_everything".into()))
        );
        for bad in ["", "{}", r#"{"query": ""}"#, r#"{"query": 7}"#, "not json"] {
            assert_eq!(
                search_query(SEARCH_TOOL, bad),
                Err(ToolCallError::BadArguments),
                "{bad}"
            );
        }
        let long = format!(r#"{{"query": "{}"}}"#, "a".repeat(501));
        assert!(search_query(SEARCH_TOOL, &long).is_err());
        let with = answer_prompt_with("q", &sources(1), &[], true);
        assert!(with[0].content.contains("search_documents"));
        assert!(
            !answer_prompt("q", &sources(1), &[])[0]
                .content
                .contains("search_documents")
        );
    }

    #[test]
    fn a_citation_of_a_source_that_does_not_exist_is_removed_and_reported() {
        let v = verify(
            "Gliders climb in rising air [2]. Thermals help [9]. Ridge lift too [2][3].",
            &sources(8),
        );
        assert_eq!(
            v.answer,
            "Gliders climb in rising air [2]. Thermals help. Ridge lift too [2][3]."
        );
        assert_eq!(v.invalid, vec![9]);
        assert!(v.grounded);
        let ns: Vec<usize> = v.citations.iter().map(|c| c.n).collect();
        assert_eq!(ns, vec![2, 3]);
        assert_eq!(v.citations[0].chunk_id, 102);
        assert_eq!(v.citations[0].pages, Some((2, 2)));
        assert_eq!(
            v.citations[0].quote,
            "Source 2 says gliders stay up in rising air number 2."
        );
    }

    #[test]
    fn an_answer_without_valid_citations_is_not_grounded() {
        let v = verify("I think it is 42 [0] and [x] maybe [12].", &sources(3));
        assert!(!v.grounded);
        assert_eq!(v.invalid, vec![0, 12]);
        assert_eq!(v.answer, "I think it is 42 and [x] maybe.");
        assert!(
            verify("No citations here.", &sources(3))
                .citations
                .is_empty()
        );
    }

    #[test]
    fn the_prompt_numbers_sources_and_keeps_history_in_order() {
        let history = vec![
            Message::text(Role::User, "What is lift?"),
            Message::text(Role::Assistant, "A force [1]."),
        ];
        let m = answer_prompt("And drag?", &sources(2), &history);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].role, Role::System);
        assert!(m[0].content.contains("[1] Doc 1, page 1\n"));
        assert!(m[0].content.contains("[2] Doc 2, page 2\n"));
        assert_eq!(m[3].content, "And drag?");
    }

    #[test]
    fn a_rewrite_reply_is_cleaned() {
        assert_eq!(
            parse_rewrite("\n  \"Standalone query: drag of a wing\"\nmore").as_deref(),
            Some("drag of a wing")
        );
        assert_eq!(
            parse_rewrite("Query: drag of a wing").as_deref(),
            Some("drag of a wing")
        );
        assert_eq!(parse_rewrite("   \n"), None);
        let p = rewrite_prompt(
            "and its drag?",
            &[Message::text(Role::User, "what is a wing")],
        );
        assert!(p[1].content.contains("User: what is a wing"));
    }
}
