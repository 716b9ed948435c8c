//! Opaque pagination cursors.
//!
//! A cursor is the sort key of the last row a client saw (`created_at`, `id`),
//! encoded so clients treat it as opaque and cannot confuse it with an id.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::ApiError;

/// The position after which the next page starts (keyset pagination: stable under inserts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Sort key of the last row returned (milliseconds since the epoch).
    pub created_at: i64,
    /// Tie-breaker for rows created in the same millisecond.
    pub id: String,
}

impl Cursor {
    /// Encode as an opaque URL-safe string.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.created_at, self.id))
    }

    /// Decode a cursor from a query parameter; anything malformed is a 400.
    pub fn decode(text: &str) -> Result<Cursor, ApiError> {
        let bad = || ApiError::bad_request("invalid cursor");
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (ts, id) = raw.split_once(':').ok_or_else(bad)?;
        let created_at = ts.parse().map_err(|_| bad())?;
        if id.is_empty() {
            return Err(bad());
        }
        Ok(Cursor {
            created_at,
            id: id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = Cursor {
            created_at: 1_700_000_000_123,
            id: "doc_1".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn garbage_is_400() {
        for bad in ["", "!!", "bm9jb2xvbg", "Oi0x"] {
            assert_eq!(Cursor::decode(bad).unwrap_err().status(), 400, "{bad}");
        }
    }
}
