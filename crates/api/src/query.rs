//! Query-string parsing shared by list endpoints.

use crate::ApiError;

/// Decoded `key=value` pairs of a query string, in order.
pub fn pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Page size from `limit`: default when absent, 400 when not a number, 422 when out of bounds.
pub fn limit(value: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    let Some(text) = value else {
        return Ok(default);
    };
    let n: u32 = text.parse().map_err(|_| {
        ApiError::bad_request(format!("limit must be a whole number, got {text:?}"))
    })?;
    if n == 0 || n > max {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {max}"
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(
            pairs("a=1&metadata.author=J%C3%BCrgen+K"),
            vec![
                ("a".into(), "1".into()),
                ("metadata.author".into(), "Jürgen K".into())
            ]
        );
    }

    #[test]
    fn limits() {
        assert_eq!(limit(None, 20, 100), Ok(20));
        assert_eq!(limit(Some("5"), 20, 100), Ok(5));
        assert_eq!(limit(Some("x"), 20, 100).unwrap_err().status(), 400);
        assert_eq!(limit(Some("0"), 20, 100).unwrap_err().status(), 422);
        assert_eq!(limit(Some("101"), 20, 100).unwrap_err().status(), 422);
    }
}
