//! Password hashing with Argon2id (RFC 9106), the memory-hard function OWASP
//! recommends, so a leaked `users` table costs an attacker ~19 MiB and two
//! passes per guess. Hashes are PHC strings (`$argon2id$v=19$m=…`), which
//! carry their own parameters: raising the cost later leaves old hashes
//! verifiable.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use lode_api::ApiError;
use lode_store::ids::random_bytes;

/// Shortest password accepted (NIST SP 800-63B asks for at least 8).
pub const MIN_LEN: usize = 10;
/// Longest password accepted, in bytes: long enough for any passphrase,
/// short enough that hashing cannot be used to burn CPU.
pub const MAX_LEN: usize = 256;

/// OWASP's first Argon2id configuration: m = 19 MiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// 422 unless `password` has an acceptable length.
pub fn check_strength(password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(ApiError::invalid(format!(
            "password must be at least {MIN_LEN} characters"
        )));
    }
    if password.len() > MAX_LEN {
        return Err(ApiError::invalid(format!(
            "password must be at most {MAX_LEN} bytes"
        )));
    }
    Ok(())
}

/// The PHC string of `password` under a fresh 16-byte salt.
pub fn hash(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(|_| ApiError::internal())?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ApiError::internal())
}

/// Whether `password` matches the stored PHC string. A malformed stored
/// hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    PasswordHash::new(stored)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A valid hash of no one's password: login checks an unknown email against
/// it, so the answer takes as long as for a known one and does not reveal
/// which emails have accounts.
pub const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bG9kZS1kZWNveS1zYWx0$Vt8bFsQ6hSd8yoN6qkGY5uNxmS6d0XWmmtVYnRu8iWw";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterz", &a));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn the_decoy_is_a_well_formed_hash_that_matches_nothing_obvious() {
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
        assert!(!verify("", DECOY_HASH));
        assert!(!verify("password123", DECOY_HASH));
    }

    #[test]
    fn strength_bounds() {
        assert!(check_strength("short").is_err());
        assert!(check_strength("ten chars!").is_ok());
        assert!(check_strength(&"x".repeat(MAX_LEN + 1)).is_err());
    }
}
