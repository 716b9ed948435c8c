//! LLM tools as data. Each [`Tool`] has a name, JSON Schemas for its input
//! and output, the prompt that asks a model for that output as JSON, and the
//! check of what the model answered (a classifier's label must be one of
//! the caller's labels, a sentiment one of four…). [`run`] calls the model
//! (through `lode_llm::client`, over the host's capabilities) and stores
//! results on documents.
//!
//! Texts longer than a model's context are summarised map-reduce style:
//! [`plan_map`] cuts them into parts that fit, each part is summarised, and
//! the summaries are summarised again ([`reduce_input`]) until one remains.

pub mod run;

use lode_llm::chat::{Message, Role};
use serde_json::{Map, Value as Json, json};

/// Why a tool cannot run or its answer cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// No tool has this name.
    #[error("no tool named {0:?}; GET /api/tools lists them")]
    Unknown(String),
    /// The caller's input does not match the tool's schema.
    #[error("{0}")]
    Input(String),
    /// The model's answer is not the JSON the tool asked for.
    #[error("the model's answer is unusable: {0}")]
    Output(String),
}

/// One tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// A summary of the text.
    Summarize,
    /// People, organisations, places, dates… named in the text.
    ExtractEntities,
    /// One (or several) of the caller's labels.
    Classify,
    /// Key words and phrases.
    Keywords,
    /// Positive, negative, neutral or mixed, with a score.
    Sentiment,
    /// The text in another language.
    Translate,
    /// The answer to a question, from the text alone.
    Answer,
}

/// Every tool, in the order `GET /api/tools` lists them.
pub const ALL: [Tool; 7] = [
    Tool::Summarize,
    Tool::ExtractEntities,
    Tool::Classify,
    Tool::Keywords,
    Tool::Sentiment,
    Tool::Translate,
    Tool::Answer,
];

const SENTIMENTS: [&str; 4] = ["positive", "negative", "neutral", "mixed"];

impl Tool {
    /// The name in URLs.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Summarize => "summarize",
            Tool::ExtractEntities => "extract-entities",
            Tool::Classify => "classify",
            Tool::Keywords => "keywords",
            Tool::Sentiment => "sentiment",
            Tool::Translate => "translate",
            Tool::Answer => "answer",
        }
    }

    /// The tool named `name`.
    pub fn parse(name: &str) -> Result<Tool, ToolError> {
        ALL.into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| ToolError::Unknown(name.to_string()))
    }

    /// What it does.
    pub fn description(self) -> &'static str {
        match self {
            Tool::Summarize => {
                "Summarise the text; long documents are summarised part by part, then as a whole."
            }
            Tool::ExtractEntities => "List the named entities in the text, with their types.",
            Tool::Classify => "Choose which of the given labels fit the text.",
            Tool::Keywords => "List the text's key words and phrases.",
            Tool::Sentiment => "Judge the text's overall sentiment.",
            Tool::Translate => "Translate the text into the target language.",
            Tool::Answer => "Answer a question from the text alone.",
        }
    }

    /// JSON Schema of the input (besides the text, which a document supplies).
    pub fn input_schema(self) -> Json {
        let (properties, required): (Json, Vec<&str>) = match self {
            Tool::Summarize => (
                json!({"max_words": {"type": "integer", "minimum": 10, "maximum": 1000, "default": 150}}),
                vec![],
            ),
            Tool::ExtractEntities => (
                json!({"types": {"type": "array", "items": {"type": "string"}, "maxItems": 20,
                        "default": ["person", "organization", "location", "date", "product", "other"]}}),
                vec![],
            ),
            Tool::Classify => (
                json!({"labels": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 50},
                       "multi_label": {"type": "boolean", "default": false}}),
                vec!["labels"],
            ),
            Tool::Keywords => (
                json!({"max": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}}),
                vec![],
            ),
            Tool::Sentiment => (json!({}), vec![]),
            Tool::Translate => (
                json!({"target_language": {"type": "string", "minLength": 2, "maxLength": 40}}),
                vec!["target_language"],
            ),
            Tool::Answer => (
                json!({"question": {"type": "string", "minLength": 1, "maxLength": 2000}}),
                vec!["question"],
            ),
        };
        json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
    }

    /// JSON Schema of the result.
    pub fn output_schema(self) -> Json {
        let properties = match self {
            Tool::Summarize => json!({"summary": {"type": "string"}}),
            Tool::ExtractEntities => {
                json!({"entities": {"type": "array", "items": {"type": "object",
                "properties": {"text": {"type": "string"}, "type": {"type": "string"}}, "required": ["text", "type"]}}})
            }
            Tool::Classify => json!({"labels": {"type": "array", "items": {"type": "string"}}}),
            Tool::Keywords => json!({"keywords": {"type": "array", "items": {"type": "string"}}}),
            Tool::Sentiment => {
                json!({"sentiment": {"enum": SENTIMENTS}, "score": {"type": "number", "minimum": -1, "maximum": 1}})
            }
            Tool::Translate => {
                json!({"translation": {"type": "string"}, "target_language": {"type": "string"}})
            }
            Tool::Answer => json!({"answer": {"type": "string"}, "found": {"type": "boolean"}}),
        };
        let required: Vec<&String> = properties
            .as_object()
            .map(|p| p.keys().collect())
            .unwrap_or_default();
        json!({"type": "object", "properties": properties, "required": required})
    }

    /// The listing entry of `GET /api/tools`.
    pub fn describe(self) -> Json {
        json!({"name": self.name(), "description": self.description(),
               "input_schema": self.input_schema(), "output_schema": self.output_schema()})
    }

    /// Check the caller's input against the schema and fill in defaults.
    pub fn check_input(self, input: &Json) -> Result<Map<String, Json>, ToolError> {
        let bad = |m: String| Err(ToolError::Input(m));
        let Json::Object(given) = input else {
            return bad("input must be a JSON object".into());
        };
        let schema = self.input_schema();
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for key in given.keys() {
            if !properties.contains_key(key) {
                return bad(format!("{} takes no input {key:?}", self.name()));
            }
        }
        let mut out = Map::new();
        for (key, spec) in &properties {
            let value = match given.get(key) {
                Some(v) => v.clone(),
                None if schema["required"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!(key))) =>
                {
                    return bad(format!("{} needs {key:?}", self.name()));
                }
                None => spec["default"].clone(),
            };
            check_value(key, &value, spec).map_err(ToolError::Input)?;
            out.insert(key.clone(), value);
        }
        Ok(out)
    }

    /// The messages asking a model to apply the tool to `text`.
    pub fn prompt(self, text: &str, input: &Map<String, Json>) -> Vec<Message> {
        let task = match self {
            Tool::Summarize => format!(
                "Summarise the text in at most {} words. Reply with JSON: {{\"summary\": \"...\"}}",
                input["max_words"]
            ),
            Tool::ExtractEntities => format!(
                "List the named entities in the text whose type is one of {}. Reply with JSON: \
                 {{\"entities\": [{{\"text\": \"...\", \"type\": \"...\"}}]}}",
                input["types"]
            ),
            Tool::Classify => format!(
                "Choose {} of these labels that fit the text: {}. Use the labels exactly as written. \
                 Reply with JSON: {{\"labels\": [\"...\"]}}",
                if input["multi_label"] == true {
                    "all"
                } else {
                    "the one"
                },
                input["labels"]
            ),
            Tool::Keywords => format!(
                "List at most {} key words or phrases of the text, most important first. \
                 Reply with JSON: {{\"keywords\": [\"...\"]}}",
                input["max"]
            ),
            Tool::Sentiment => {
                "Judge the overall sentiment of the text as positive, negative, neutral or mixed, \
                 with a score from -1 (negative) to 1 (positive). Reply with JSON: \
                 {\"sentiment\": \"...\", \"score\": 0.0}"
                    .to_string()
            }
            Tool::Translate => format!(
                "Translate the text into {}. Keep its formatting. Reply with JSON: {{\"translation\": \"...\"}}",
                input["target_language"]
            ),
            Tool::Answer => format!(
                "Answer this question using only the text: {}. If the text does not contain the answer, \
                 say so and set found to false. Reply with JSON: {{\"answer\": \"...\", \"found\": true}}",
                input["question"]
            ),
        };
        vec![
            Message::text(
                Role::System,
                "You are a precise text-processing tool. Follow the task exactly and reply with one JSON object only, no prose.",
            ),
            Message::text(
                Role::User,
                format!("Task: {task}\n\nText:\n\"\"\"\n{text}\n\"\"\""),
            ),
        ]
    }

    /// The model's reply as the tool's result, checked.
    pub fn parse_output(self, reply: &str, input: &Map<String, Json>) -> Result<Json, ToolError> {
        let bad = |m: &str| ToolError::Output(m.to_string());
        let value = json_object(reply).ok_or_else(|| bad("no JSON object in the reply"))?;
        let strings = |key: &str| -> Result<Vec<String>, ToolError> {
            value[key]
                .as_array()
                .ok_or_else(|| bad(&format!("{key} is not a list")))?
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(&format!("{key} holds a non-string")))
                })
                .collect()
        };
        let text = |key: &str| -> Result<String, ToolError> {
            value[key]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(&format!("{key} is not a string")))
        };
        Ok(match self {
            Tool::Summarize => json!({"summary": text("summary")?}),
            Tool::ExtractEntities => {
                let entities = value["entities"]
                    .as_array()
                    .ok_or_else(|| bad("entities is not a list"))?;
                let clean: Vec<Json> = entities
                    .iter()
                    .filter_map(|e| Some(json!({"text": e["text"].as_str()?, "type": e["type"].as_str()?.to_lowercase()})))
                    .collect();
                json!({"entities": clean})
            }
            Tool::Classify => {
                let allowed: Vec<String> = input["labels"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|l| l.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let chosen = strings("labels")?;
                // Match case-insensitively, answer with the caller's spelling.
                let mut labels = Vec::new();
                for c in &chosen {
                    match allowed.iter().find(|a| a.eq_ignore_ascii_case(c.trim())) {
                        Some(a) if !labels.contains(a) => labels.push(a.clone()),
                        Some(_) => {}
                        None => {
                            return Err(bad(&format!(
                                "label {c:?} is not one of the given labels"
                            )));
                        }
                    }
                }
                if labels.is_empty() || (input["multi_label"] != true && labels.len() > 1) {
                    return Err(bad("the model did not choose exactly the labels asked for"));
                }
                json!({"labels": labels})
            }
            Tool::Keywords => {
                let max = input["max"].as_u64().unwrap_or(10) as usize;
                let mut keywords = strings("keywords")?;
                keywords.truncate(max);
                json!({"keywords": keywords})
            }
            Tool::Sentiment => {
                let s = text("sentiment")?.to_lowercase();
                if !SENTIMENTS.contains(&s.as_str()) {
                    return Err(bad("sentiment is not positive, negative, neutral or mixed"));
                }
                let score = value["score"]
                    .as_f64()
                    .ok_or_else(|| bad("score is not a number"))?;
                json!({"sentiment": s, "score": score.clamp(-1.0, 1.0)})
            }
            Tool::Translate => {
                json!({"translation": text("translation")?, "target_language": input["target_language"]})
            }
            Tool::Answer => {
                json!({"answer": text("answer")?, "found": value["found"].as_bool().unwrap_or(true)})
            }
        })
    }
}

/// The first JSON object in `reply` (models wrap JSON in prose or code fences).
pub fn json_object(reply: &str) -> Option<Json> {
    let start = reply.find('{')?;
    let end = reply.rfind('}')?;
    serde_json::from_str::<Json>(reply.get(start..=end)?)
        .ok()
        .filter(Json::is_object)
}

fn check_value(key: &str, value: &Json, spec: &Json) -> Result<(), String> {
    match spec["type"].as_str() {
        Some("integer") => {
            let n = value
                .as_i64()
                .ok_or(format!("{key} must be a whole number"))?;
            let (lo, hi) = (
                spec["minimum"].as_i64().unwrap_or(i64::MIN),
                spec["maximum"].as_i64().unwrap_or(i64::MAX),
            );
            if !(lo..=hi).contains(&n) {
                return Err(format!("{key} must be {lo}-{hi}"));
            }
        }
        Some("boolean") if !value.is_boolean() => {
            return Err(format!("{key} must be true or false"));
        }
        Some("string") => {
            let s = value.as_str().ok_or(format!("{key} must be a string"))?;
            let n = s.trim().chars().count() as u64;
            let (lo, hi) = (
                spec["minLength"].as_u64().unwrap_or(0),
                spec["maxLength"].as_u64().unwrap_or(u64::MAX),
            );
            if n < lo || n > hi {
                return Err(format!("{key} must be {lo}-{hi} characters"));
            }
        }
        Some("array") => {
            let items = value.as_array().ok_or(format!("{key} must be a list"))?;
            let (lo, hi) = (
                spec["minItems"].as_u64().unwrap_or(0),
                spec["maxItems"].as_u64().unwrap_or(u64::MAX),
            );
            if (items.len() as u64) < lo || items.len() as u64 > hi {
                return Err(format!("{key} must hold {lo}-{hi} items"));
            }
            if items.iter().any(|i| {
                i.as_str()
                    .is_none_or(|s| s.trim().is_empty() || s.len() > 200)
            }) {
                return Err(format!(
                    "{key} must hold non-empty strings of at most 200 bytes"
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Characters per token assumed when fitting text into a context window
/// (English averages about four; three leaves room for other scripts).
const CHARS_PER_TOKEN: usize = 3;

/// Cut `text` into parts that fit a model with `context_tokens`, leaving
/// room for the prompt and the answer; at paragraph, then sentence, then
/// character boundaries. One part when it fits whole.
pub fn plan_map(text: &str, context_tokens: u32) -> Vec<String> {
    let budget = (context_tokens as usize).saturating_sub(1500).max(500) * CHARS_PER_TOKEN;
    if text.len() <= budget {
        return vec![text.to_string()];
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    for piece in text
        .split_inclusive("\n\n")
        .flat_map(|p| split_to(p, budget))
    {
        if current.len() + piece.len() > budget && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        current.push_str(&piece);
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts
}

/// `piece` in slices of at most `budget` bytes, cut after sentence ends
/// when possible, never inside a UTF-8 character.
fn split_to(piece: &str, budget: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = piece;
    while rest.len() > budget {
        let mut cut = budget;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let sentence = rest[..cut]
            .rfind(". ")
            .map(|i| i + 2)
            .filter(|&i| i > budget / 2);
        let cut = sentence.unwrap_or(cut);
        out.push(rest[..cut].to_string());
        rest = &rest[cut..];
    }
    out.push(rest.to_string());
    out
}

/// The text the reduce step summarises: the part summaries, in order.
pub fn reduce_input(summaries: &[String]) -> String {
    summaries
        .iter()
        .enumerate()
        .map(|(i, s)| format!("Part {}: {}", i + 1, s.trim()))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked_and_defaulted() {
        let i = Tool::Summarize.check_input(&json!({})).unwrap();
        assert_eq!(i["max_words"], 150);
        assert!(
            Tool::Summarize
                .check_input(&json!({"max_words": 5}))
                .is_err()
        );
        assert!(Tool::Summarize.check_input(&json!({"words": 50})).is_err());
        assert!(Tool::Classify.check_input(&json!({})).is_err());
        assert!(
            Tool::Classify
                .check_input(&json!({"labels": ["a"]}))
                .is_err()
        );
        let c = Tool::Classify
            .check_input(&json!({"labels": ["sport", "politics"]}))
            .unwrap();
        assert_eq!(c["multi_label"], false);
        assert!(
            Tool::Translate
                .check_input(&json!({"target_language": ""}))
                .is_err()
        );
        assert!(Tool::Answer.check_input(&json!("question")).is_err());
        assert_eq!(
            Tool::parse("extract-entities").unwrap(),
            Tool::ExtractEntities
        );
        assert!(Tool::parse("nope").is_err());
    }

    #[test]
    fn answers_are_parsed_from_prose_and_fences_and_checked() {
        let labels = Tool::Classify
            .check_input(&json!({"labels": ["Sport", "Politics"]}))
            .unwrap();
        let out = Tool::Classify
            .parse_output("Sure!\n```json\n{\"labels\": [\"sport\"]}\n```", &labels)
            .unwrap();
        assert_eq!(out, json!({"labels": ["Sport"]}));
        assert!(
            Tool::Classify
                .parse_output("{\"labels\": [\"weather\"]}", &labels)
                .is_err()
        );
        assert!(
            Tool::Classify
                .parse_output("{\"labels\": [\"Sport\", \"Politics\"]}", &labels)
                .is_err()
        );
        assert!(
            Tool::Classify
                .parse_output("no json here", &labels)
                .is_err()
        );
        let none = Map::new();
        let s = Tool::Sentiment
            .parse_output("{\"sentiment\": \"Positive\", \"score\": 3}", &none)
            .unwrap();
        assert_eq!(s, json!({"sentiment": "positive", "score": 1.0}));
        assert!(
            Tool::Sentiment
                .parse_output("{\"sentiment\": \"happy\", \"score\": 1}", &none)
                .is_err()
        );
        let k = Tool::Keywords.check_input(&json!({"max": 2})).unwrap();
        let out = Tool::Keywords
            .parse_output("{\"keywords\": [\"a\", \"b\", \"c\"]}", &k)
            .unwrap();
        assert_eq!(out["keywords"], json!(["a", "b"]));
        let e = Tool::ExtractEntities
            .parse_output(
                "{\"entities\": [{\"text\": \"Oslo\", \"type\": \"LOCATION\"}, {\"bad\": 1}]}",
                &none,
            )
            .unwrap();
        assert_eq!(e["entities"], json!([{"text": "Oslo", "type": "location"}]));
    }

    #[test]
    fn long_texts_are_cut_into_parts_that_fit() {
        let paragraph = "The wing deflects air downwards. ".repeat(40);
        let text = vec![paragraph.as_str(); 30].join("\n\n");
        let parts = plan_map(&text, 2000);
        assert!(parts.len() > 1);
        assert!(
            parts.iter().all(|p| p.len() <= 500 * CHARS_PER_TOKEN),
            "{:?}",
            parts.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!(parts.concat(), text, "nothing lost or repeated");
        assert_eq!(plan_map("short", 8192), vec!["short"]);
        let one_long_line = "x".repeat(5000);
        assert!(
            plan_map(&one_long_line, 1000)
                .iter()
                .all(|p| p.len() <= 1500)
        );
        assert_eq!(
            reduce_input(&["a".into(), "b".into()]),
            "Part 1: a\n\nPart 2: b"
        );
    }

    #[test]
    fn every_tool_describes_itself_and_prompts_for_json() {
        for t in ALL {
            let d = t.describe();
            assert_eq!(d["name"], t.name());
            assert_eq!(d["input_schema"]["type"], "object");
            let input = match t {
                Tool::Classify => t.check_input(&json!({"labels": ["a", "b"]})),
                Tool::Translate => t.check_input(&json!({"target_language": "French"})),
                Tool::Answer => t.check_input(&json!({"question": "why?"})),
                _ => t.check_input(&json!({})),
            }
            .unwrap();
            let p = t.prompt("some text", &input);
            assert!(p[1].content.contains("Reply with JSON"), "{}", t.name());
            assert!(p[1].content.contains("some text"));
        }
    }
}
