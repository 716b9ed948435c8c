//! trec_eval metrics over ranked runs.

use std::collections::HashMap;

use serde::Serialize;

/// Mean scores over all queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    /// nDCG@10, linear graded gain, log2 discount, ideal from all judged documents.
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    /// Share of relevant documents in the top 100.
    #[serde(rename = "recall@100")]
    pub recall_100: f64,
    /// Average precision cut at 100 (divided by all relevant documents).
    #[serde(rename = "map@100")]
    pub map_100: f64,
}

/// Score one query's ranking (best first) against its judgments (doc → gain).
pub fn score_query(ranking: &[String], judgments: &HashMap<String, i64>) -> Scores {
    let gain = |d: &str| judgments.get(d).copied().unwrap_or(0).max(0) as f64;
    let dcg: f64 = ranking
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, d)| gain(d) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<f64> = judgments
        .values()
        .map(|&g| g.max(0) as f64)
        .filter(|&g| g > 0.0)
        .collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, g)| g / ((i + 2) as f64).log2())
        .sum();
    let relevant = ideal.len() as f64;
    let mut hits = 0.0;
    let mut precision_sum = 0.0;
    for (i, d) in ranking.iter().take(100).enumerate() {
        if gain(d) > 0.0 {
            hits += 1.0;
            precision_sum += hits / (i + 1) as f64;
        }
    }
    Scores {
        ndcg_10: if idcg > 0.0 { dcg / idcg } else { 0.0 },
        recall_100: if relevant > 0.0 { hits / relevant } else { 0.0 },
        map_100: if relevant > 0.0 {
            precision_sum / relevant
        } else {
            0.0
        },
    }
}

/// Mean scores over every judged query; `runs` maps query id → ranking.
pub fn evaluate(
    runs: &HashMap<String, Vec<String>>,
    qrels: &HashMap<String, HashMap<String, i64>>,
) -> Scores {
    let empty = Vec::new();
    let n = qrels.len().max(1) as f64;
    let mut total = Scores::default();
    for (q, judgments) in qrels {
        let s = score_query(runs.get(q).unwrap_or(&empty), judgments);
        total.ndcg_10 += s.ndcg_10;
        total.recall_100 += s.recall_100;
        total.map_100 += s.map_100;
    }
    Scores {
        ndcg_10: total.ndcg_10 / n,
        recall_100: total.recall_100 / n,
        map_100: total.map_100 / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn hand_computed_example() {
        let judgments: HashMap<String, i64> = [("a", 3), ("b", 1), ("c", 0), ("z", 2)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let s = score_query(&ids(&["b", "c", "a"]), &judgments);
        let dcg = 1.0 / 2f64.log2() + 3.0 / 4f64.log2();
        let idcg = 3.0 / 2f64.log2() + 2.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((s.ndcg_10 - dcg / idcg).abs() < 1e-12);
        assert!((s.recall_100 - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.map_100 - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn perfect_and_empty_runs() {
        let judgments: HashMap<String, i64> = [("a", 2), ("b", 1)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let perfect = score_query(&ids(&["a", "b"]), &judgments);
        assert_eq!(
            (perfect.ndcg_10, perfect.recall_100, perfect.map_100),
            (1.0, 1.0, 1.0)
        );
        assert_eq!(score_query(&[], &judgments), Scores::default());
    }
}
