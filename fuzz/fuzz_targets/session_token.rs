//! Session tokens (`lode_auth::jwt::verify`) arrive from anyone in the
//! Authorization header: any bytes must be refused or accepted without a
//! panic, and a token that verifies must hold unexpired claims.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lode_auth::jwt::{Secret, sign, verify};

const KEY: &str = "fuzzing-secret-of-at-least-32-bytes!!";

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let secret = Secret::new(KEY).unwrap();
    if let Ok(claims) = verify(token, &secret, 1_000) {
        // What verifies is unexpired, and signing it again round-trips.
        assert!(claims.exp > 1_000);
        assert_eq!(verify(&sign(&claims, &secret), &secret, 1_000), Ok(claims));
    }
});
