//! Reciprocal Rank Fusion.

use std::collections::HashMap;

use crate::Hit;

/// A chunk in the fused ranking, with what each mode said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    /// The chunk's row id.
    pub chunk_id: i64,
    /// Σ 1 / (k + rank) over the lists that contain the chunk.
    pub score: f64,
    /// 1-based rank and score in the vector list, if present.
    pub vector: Option<(usize, f64)>,
    /// 1-based rank and score in the full-text list, if present.
    pub fulltext: Option<(usize, f64)>,
}

/// Fuse two rankings with RRF (`k` = 60 in the literature); ties by chunk id.
pub fn rrf(vector: &[Hit], fulltext: &[Hit], k: f64) -> Vec<Fused> {
    let mut by_id: HashMap<i64, Fused> = HashMap::new();
    let mut add = |hits: &[Hit], is_vector: bool| {
        for (i, h) in hits.iter().enumerate() {
            let f = by_id.entry(h.chunk_id).or_insert(Fused {
                chunk_id: h.chunk_id,
                score: 0.0,
                vector: None,
                fulltext: None,
            });
            f.score += 1.0 / (k + (i + 1) as f64);
            let slot = if is_vector {
                &mut f.vector
            } else {
                &mut f.fulltext
            };
            *slot = Some((i + 1, h.score));
        }
    };
    add(vector, true);
    add(fulltext, false);
    let mut fused: Vec<Fused> = by_id.into_values().collect();
    fused.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.chunk_id.cmp(&b.chunk_id))
    });
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(ids: &[i64]) -> Vec<Hit> {
        ids.iter()
            .map(|&chunk_id| Hit {
                chunk_id,
                score: 1.0,
            })
            .collect()
    }

    #[test]
    fn fuses_and_breaks_ties() {
        let f = rrf(&hits(&[1, 2, 3]), &hits(&[3, 1, 4]), 60.0);
        let order: Vec<i64> = f.iter().map(|x| x.chunk_id).collect();
        // 1: 1/61 + 1/62; 3: 1/63 + 1/61; 2: 1/62; 4: 1/63.
        assert_eq!(order, vec![1, 3, 2, 4]);
        assert_eq!(f[0].vector, Some((1, 1.0)));
        assert_eq!(f[0].fulltext, Some((2, 1.0)));
        assert_eq!(f[2].fulltext, None);
    }
}
