//! Test collections: documents, queries and graded relevance judgments.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// A document to index.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The collection's id for it.
    pub id: String,
    /// Title + " " + body, per the protocol.
    pub text: String,
}

/// A query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The id that the judgments use.
    pub id: String,
    /// The query text.
    pub text: String,
}

/// A whole collection.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Documents in file order.
    pub documents: Vec<Document>,
    /// Queries in file order.
    pub queries: Vec<Query>,
    /// query id → document id → gain (0 = judged not relevant).
    pub qrels: HashMap<String, HashMap<String, i64>>,
}

impl Dataset {
    /// Load a directory: Cranfield SMART files (`cran.all.1400`…) or the BEIR layout.
    pub fn load(dir: &Path) -> Result<Dataset> {
        if dir.join("cran.all.1400").exists() {
            cranfield(dir)
        } else if dir.join("corpus.jsonl").exists() {
            beir(dir)
        } else {
            bail!(
                "{} holds neither cran.all.1400 nor corpus.jsonl",
                dir.display()
            )
        }
    }
}

fn read(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.replace("\r\n", "\n"))
}

/// SMART records: `.I n` starts a record; `.X` lines start fields.
fn smart_records(text: &str) -> Vec<(String, BTreeMap<char, String>)> {
    let mut records = Vec::new();
    let mut current: Option<(String, BTreeMap<char, String>)> = None;
    let mut field = None;
    for line in text.lines() {
        if let Some(id) = line.strip_prefix(".I") {
            records.extend(current.take());
            current = Some((id.trim().to_string(), BTreeMap::new()));
            field = None;
            continue;
        }
        let Some((_, fields)) = current.as_mut() else {
            continue;
        };
        let marker = line.strip_prefix('.').and_then(|m| {
            let mut chars = m.chars();
            let c = chars.next()?;
            (chars.next().is_none() && "TABW".contains(c)).then_some(c)
        });
        match marker {
            // Pitfall 4: after `.W`, any further field marker is body text.
            Some(c) if field != Some('W') => field = Some(c),
            _ => {
                if let Some(f) = field {
                    let entry = fields.entry(f).or_default();
                    if !entry.is_empty() {
                        entry.push(' ');
                    }
                    entry.push_str(line.trim());
                }
            }
        }
    }
    records.extend(current);
    records
}

fn cranfield(dir: &Path) -> Result<Dataset> {
    let docs = smart_records(&read(&dir.join("cran.all.1400"))?);
    let documents = docs
        .into_iter()
        .map(|(id, f)| {
            let title = f.get(&'T').cloned().unwrap_or_default();
            let body = f.get(&'W').cloned().unwrap_or_default();
            Document {
                id,
                text: format!("{title} {body}").trim().to_string(),
            }
        })
        .collect();
    // Pitfall 1: cranqrel numbers queries 1..225 in file order, not by `.I`.
    let queries = smart_records(&read(&dir.join("cran.qry"))?)
        .into_iter()
        .enumerate()
        .map(|(i, (_, f))| Query {
            id: (i + 1).to_string(),
            text: f.get(&'W').cloned().unwrap_or_default(),
        })
        .collect();
    let mut qrels: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for line in read(&dir.join("cranqrel"))?.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [q, d, code] = parts[..] else { continue };
        let code: i64 = code
            .parse()
            .with_context(|| format!("cranqrel line {line:?}"))?;
        // Graded gain = 5 - code (1 → 4 … 4 → 1); -1 (and anything else) → 0.
        let gain = if (1..=4).contains(&code) { 5 - code } else { 0 };
        qrels
            .entry(q.to_string())
            .or_default()
            .insert(d.to_string(), gain);
    }
    Ok(Dataset {
        documents,
        queries,
        qrels,
    })
}

fn beir(dir: &Path) -> Result<Dataset> {
    let mut documents = Vec::new();
    for line in read(&dir.join("corpus.jsonl"))?
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        documents.push(Document {
            id: field("_id"),
            text: format!("{} {}", field("title"), field("text"))
                .trim()
                .to_string(),
        });
    }
    let mut queries = Vec::new();
    for line in read(&dir.join("queries.jsonl"))?
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        queries.push(Query {
            id: field("_id"),
            text: field("text"),
        });
    }
    let mut qrels: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for (i, line) in read(&dir.join("qrels/test.tsv"))?.lines().enumerate() {
        let parts: Vec<&str> = line.split('\t').collect();
        if i == 0 || parts.len() < 3 {
            continue; // header
        }
        let gain: i64 = parts[2]
            .trim()
            .parse()
            .with_context(|| format!("qrels line {line:?}"))?;
        qrels
            .entry(parts[0].to_string())
            .or_default()
            .insert(parts[1].to_string(), gain.max(0));
    }
    // Only judged queries are evaluated, as in BEIR.
    queries.retain(|q| qrels.contains_key(&q.id));
    Ok(Dataset {
        documents,
        queries,
        qrels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cranfield_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cranfield")
    }

    #[test]
    fn cranfield_pitfalls_are_handled() {
        let dir = cranfield_dir();
        if !dir.exists() {
            eprintln!("skipping: {} not present", dir.display());
            return;
        }
        let d = Dataset::load(&dir).unwrap();
        assert_eq!(d.documents.len(), 1400);
        assert_eq!(d.queries.len(), 225);
        assert_eq!(d.queries[2].id, "3", "queries are numbered in file order");
        let doc = |id: &str| d.documents.iter().find(|x| x.id == id).unwrap();
        assert!(doc("471").text.is_empty() && doc("995").text.is_empty());
        assert!(!doc("1").text.contains('\r'));
        assert!(
            doc("1")
                .text
                .starts_with("experimental investigation of the aerodynamics")
        );
        assert!(d.qrels["125"]["995"] > 0, "995 is judged relevant for 125");
        assert!(
            d.qrels
                .values()
                .flat_map(|m| m.values())
                .all(|g| (0..=4).contains(g))
        );
    }

    #[test]
    fn smart_fields_after_w_are_body() {
        let recs = smart_records(".I 1\n.T\nTitle\n.W\nbody one\n.A\nstray\n.I 2\n.W\nx\n");
        assert_eq!(recs[0].1[&'W'], "body one .A stray");
        assert_eq!(recs[1].0, "2");
    }
}
