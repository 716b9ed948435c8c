//! Tenant names: the key every row is scoped by.

use lode_api::ApiError;

/// A validated tenant name (`[a-z0-9][a-z0-9_-]{0,62}`).
///
/// Repositories take a `Tenant`, never a bare string, so a query cannot be
/// written without naming whose rows it touches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(String);

impl Tenant {
    /// Validate a tenant name; anything else is a 422.
    pub fn parse(name: &str) -> Result<Tenant, ApiError> {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && (b == b'_' || b == b'-'))
            });
        if ok {
            Ok(Tenant(name.to_string()))
        } else {
            Err(ApiError::invalid(
                "tenant must be 1-63 characters of a-z, 0-9, '_' or '-', starting with a letter or digit",
            ))
        }
    }

    /// The tenant name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["acme", "a", "t-1_b", "0x"] {
            assert!(Tenant::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "-a", "a b", "ä", &"a".repeat(64)] {
            assert_eq!(Tenant::parse(bad).unwrap_err().status(), 422, "{bad}");
        }
    }
}
