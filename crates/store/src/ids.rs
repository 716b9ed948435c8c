//! Identifiers, timestamps and content hashes.

use sha2::{Digest, Sha256};

/// A new random id such as `doc_3f9a…` (128 random bits, hex): unguessable, so
/// ids leak nothing about other tenants' data.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", hex::encode(random_bytes::<16>()))
}

/// `N` bytes from the OS (WASI `random` inside a component).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the host provides randomness");
    buf
}

/// A random number in `0..=1`, the jitter that spreads retries apart
/// (`lode_retry::Backoff::delay`).
pub fn jitter() -> f64 {
    f64::from(u32::from_le_bytes(random_bytes::<4>())) / f64::from(u32::MAX)
}

/// Milliseconds since the Unix epoch (WASI wall clock inside a component).
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_millis() as i64
}

/// RFC 3339 text for a millisecond timestamp, as the API shows times.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_distinct() {
        let a = new_id("doc");
        assert!(a.starts_with("doc_") && a.len() == 36);
        assert_ne!(a, new_id("doc"));
    }

    #[test]
    fn formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.5Z");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
