//! Vector encoding and exact top-k search.

use crate::Hit;

/// f32 little-endian bytes: the on-disk form of a vector.
pub fn encode(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Inverse of [`encode`]; `None` when the length is not a multiple of 4.
pub fn decode(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// Dot product straight from the stored bytes (no allocation per row).
pub fn dot_bytes(query: &[f32], bytes: &[u8]) -> f32 {
    query
        .iter()
        .zip(bytes.chunks_exact(4))
        .map(|(q, b)| q * f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .sum()
}

/// Keep the `k` best hits: score descending, then chunk id ascending.
pub fn top_k(mut hits: Vec<Hit>, k: usize) -> Vec<Hit> {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.chunk_id.cmp(&b.chunk_id))
    });
    hits.truncate(k);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_dot() {
        let v = [0.5f32, -0.25, 1.0];
        let bytes = encode(&v);
        assert_eq!(bytes.len(), 12);
        assert_eq!(decode(&bytes).unwrap(), v);
        assert!(decode(&bytes[..5]).is_none());
        assert_eq!(dot_bytes(&[2.0, 4.0, 1.0], &bytes), 1.0);
    }

    #[test]
    fn ties_break_by_id() {
        let hits = vec![
            Hit {
                chunk_id: 3,
                score: 0.5,
            },
            Hit {
                chunk_id: 1,
                score: 0.5,
            },
            Hit {
                chunk_id: 2,
                score: 0.9,
            },
        ];
        let ids: Vec<i64> = top_k(hits, 2).iter().map(|h| h.chunk_id).collect();
        assert_eq!(ids, vec![2, 1]);
    }
}
