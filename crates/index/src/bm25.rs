//! BM25 from one tenant's own statistics, so that what another tenant
//! stores never moves a tenant's scores. The formula and parameters are
//! FTS5's `bm25()` (k1 = 1.2, b = 0.75, idf `ln((N − df + 0.5)/(df + 0.5))`,
//! at least 1e-6), which Lode used before statistics were per tenant.

/// k1: how quickly repeats of a term stop adding to the score.
pub const K1: f64 = 1.2;
/// b: how much a long chunk is penalised.
pub const B: f64 = 0.75;

/// A tenant's collection statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Collection {
    /// Chunks indexed.
    pub chunks: u64,
    /// Terms in all of them.
    pub terms: u64,
}

impl Collection {
    fn average_length(&self) -> f64 {
        if self.chunks == 0 {
            1.0
        } else {
            (self.terms as f64 / self.chunks as f64).max(1.0)
        }
    }

    /// A term's inverse document frequency, `df` chunks holding it.
    pub fn idf(&self, df: u64) -> f64 {
        let n = self.chunks as f64;
        let df = df as f64;
        let idf = ((n - df + 0.5) / (df + 0.5)).ln();
        if idf > 0.0 { idf } else { 1e-6 }
    }

    /// The score of a chunk of `length` terms that holds each query term
    /// `tf` times; `terms` gives each query term's (idf, weight, tf).
    pub fn score(&self, length: usize, terms: impl Iterator<Item = (f64, u32, u32)>) -> f64 {
        let norm = K1 * (1.0 - B + B * length as f64 / self.average_length());
        terms
            .filter(|&(_, _, tf)| tf > 0)
            .map(|(idf, weight, tf)| {
                let tf = f64::from(tf);
                f64::from(weight) * idf * tf * (K1 + 1.0) / (tf + norm)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rarer_terms_and_shorter_chunks_score_higher() {
        let c = Collection {
            chunks: 100,
            terms: 10_000,
        };
        assert!(c.idf(1) > c.idf(10));
        assert_eq!(c.idf(90), 1e-6, "a term in most chunks adds almost nothing");
        let rare = c.score(100, [(c.idf(1), 1, 1)].into_iter());
        let common = c.score(100, [(c.idf(10), 1, 1)].into_iter());
        assert!(rare > common);
        let short = c.score(50, [(c.idf(10), 1, 1)].into_iter());
        assert!(short > common);
        // Saturation: the tenth repeat adds less than the second.
        let tf = |n| c.score(100, [(1.0, 1, n)].into_iter());
        assert!(tf(10) - tf(9) < tf(2) - tf(1));
        // A word asked twice weighs twice; absent terms add nothing.
        assert_eq!(c.score(100, [(1.0, 2, 1)].into_iter()), 2.0 * tf(1));
        assert_eq!(c.score(100, [(1.0, 1, 0)].into_iter()), 0.0);
        // FTS5's value for one term: idf · tf·(k1+1) / (tf + k1·(1−b+b·D/avgdl)).
        let expected = c.idf(5) * 2.0 * 2.2 / (2.0 + 1.2 * (0.25 + 0.75 * 150.0 / 100.0));
        assert!((c.score(150, [(c.idf(5), 1, 2)].into_iter()) - expected).abs() < 1e-12);
    }
}
