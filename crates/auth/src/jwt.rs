//! Session tokens: compact JWS with HS256 (RFC 7519, RFC 7515), signed with
//! the `jwt_secret` Spin variable.
//!
//! Only HS256 is ever produced or accepted: the header's `alg` must be
//! exactly `HS256`, so neither `none` nor an algorithm swap can pass. This is
//! written on `hmac` + `sha2` rather than a general JWT crate because Lode
//! needs one algorithm, and those crates pull RSA and elliptic-curve code
//! into every component.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use lode_api::ApiError;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::principal::Role;
use crate::scopes::Scopes;

/// The issuer Lode writes and requires.
pub const ISSUER: &str = "lode";
/// Shortest secret accepted: 256 bits, the size of the HMAC-SHA256 key.
pub const MIN_SECRET_LEN: usize = 32;
/// Clock skew tolerated on `iat` between instances.
const SKEW_SECS: i64 = 60;

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Always [`ISSUER`].
    pub iss: String,
    /// The user's id (`usr_…`).
    pub sub: String,
    /// The user's tenant.
    pub tenant: String,
    /// The user's role when the token was issued.
    pub role: Role,
    /// The scopes the token grants (never more than the role's).
    pub scopes: Scopes,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// The user's session generation when the token was issued: changing
    /// the password or signing out everywhere moves the user's on, which
    /// refuses every older token (0 for tokens issued before generations).
    #[serde(default, rename = "gen")]
    pub generation: i64,
}

/// The signing key, checked to be long enough.
pub struct Secret<'a>(&'a [u8]);

impl<'a> Secret<'a> {
    /// 503 when the secret is unset or shorter than [`MIN_SECRET_LEN`]:
    /// user login is then unavailable, never weakly signed.
    pub fn new(secret: &'a str) -> Result<Self, ApiError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(ApiError::unavailable(format!(
                "user login is not configured: set the jwt_secret variable (at least {MIN_SECRET_LEN} bytes)"
            )));
        }
        Ok(Secret(secret.as_bytes()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(self.0).expect("HMAC takes keys of any length")
    }
}

/// Sign `claims` into a compact token.
pub fn sign(claims: &Claims, secret: &Secret) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = secret.mac();
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Why a token was refused (all become the same 401 for the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Not three base64url parts, or not JSON.
    Malformed,
    /// `alg` is not HS256.
    Algorithm,
    /// The signature does not match.
    Signature,
    /// `exp` has passed.
    Expired,
    /// `iss` is not Lode, or `iat` is in the future.
    Claims,
}

/// Check a token's signature, algorithm, issuer and lifetime at `now_secs`.
pub fn verify(token: &str, secret: &Secret, now_secs: i64) -> Result<Claims, Invalid> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Invalid::Malformed);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| Invalid::Malformed);
    let header: serde_json::Value =
        serde_json::from_slice(&decode(header)?).map_err(|_| Invalid::Malformed)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(Invalid::Algorithm);
    }
    // The signature is checked before the payload is parsed, in constant time.
    let mut mac = secret.mac();
    mac.update(&token.as_bytes()[..token.len() - signature.len() - 1]);
    mac.verify_slice(&decode(signature)?)
        .map_err(|_| Invalid::Signature)?;
    let claims: Claims =
        serde_json::from_slice(&decode(payload)?).map_err(|_| Invalid::Malformed)?;
    if claims.iss != ISSUER || claims.iat > now_secs + SKEW_SECS {
        return Err(Invalid::Claims);
    }
    if claims.exp <= now_secs {
        return Err(Invalid::Expired);
    }
    Ok(claims)
}

/// Whether a bearer token is shaped like a JWT rather than an API key (keys
/// are `lode_` + base64url, with no dots).
pub fn looks_like_jwt(token: &str) -> bool {
    token.matches('.').count() == 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scopes::Scope;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn claims(now: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "usr_1".into(),
            tenant: "acme".into(),
            role: Role::Editor,
            scopes: Scopes::of(&[Scope::DocumentsRead, Scope::Search]),
            iat: now,
            exp: now + 900,
            generation: 3,
        }
    }

    #[test]
    fn round_trip_and_lifetime() {
        let secret = Secret::new(KEY).unwrap();
        let token = sign(&claims(1000), &secret);
        assert!(looks_like_jwt(&token));
        assert_eq!(verify(&token, &secret, 1000).unwrap(), claims(1000));
        assert_eq!(verify(&token, &secret, 1899).unwrap().sub, "usr_1");
        assert_eq!(verify(&token, &secret, 1900), Err(Invalid::Expired));
        assert_eq!(
            verify(&token, &secret, 900),
            Err(Invalid::Claims),
            "iat from the future"
        );
    }

    #[test]
    fn tampering_and_other_keys_are_refused() {
        let secret = Secret::new(KEY).unwrap();
        let token = sign(&claims(1000), &secret);
        let other = Secret::new("another secret of thirty-two bytes!").unwrap();
        assert_eq!(verify(&token, &other, 1000), Err(Invalid::Signature));
        // Swap the payload for one granting admin: the signature no longer matches.
        let mut forged = claims(1000);
        forged.scopes = Scopes::ALL;
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert_eq!(verify(&tampered, &secret, 1000), Err(Invalid::Signature));
        // alg "none" with an empty signature.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert_eq!(verify(&none, &secret, 1000), Err(Invalid::Algorithm));
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.e30"] {
            assert!(verify(junk, &secret, 1000).is_err(), "{junk}");
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(Secret::new("").err().unwrap().status(), 503);
        assert_eq!(Secret::new("too short").err().unwrap().status(), 503);
    }
}
