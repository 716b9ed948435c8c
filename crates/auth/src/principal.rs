//! Who is calling, and what they may do.

use lode_api::ApiError;
use lode_store::{Sql, Tenant};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::scopes::{Scope, Scopes};

/// A key's role: a named set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads documents, searches and asks questions.
    Viewer,
    /// Also writes documents and runs LLM tools.
    Editor,
    /// Everything, including the tenant's keys and settings.
    Admin,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// Parse a stored role name.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// A comma-separated list of role names (a Spin variable such as
    /// `urgent_roles`); an unknown name is an error, so a typo in an
    /// operator's setting is seen instead of silently granting nothing.
    pub fn parse_list(text: &str) -> Result<Vec<Role>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| Role::parse(n).ok_or_else(|| format!("unknown role {n:?}")))
            .collect()
    }

    /// The scopes this role names.
    pub fn scopes(self) -> Scopes {
        use Scope::*;
        match self {
            Role::Viewer => Scopes::of(&[DocumentsRead, Search, Chat]),
            Role::Editor => Scopes::of(&[DocumentsRead, DocumentsWrite, Search, Chat, Tools]),
            Role::Admin => Scopes::ALL,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The tenant whose data this caller works on.
    pub tenant: Tenant,
    /// The key's role.
    pub role: Role,
    /// What the caller may do: the role's scopes, or fewer if the key was narrowed.
    pub scopes: Scopes,
    /// What the caller presented.
    pub credential: Credential,
}

/// How a caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The operator's bootstrap key (`admin_api_key`), never stored.
    Bootstrap,
    /// A stored API key (`key_…`).
    Key(String),
    /// A user's session token; the user's id (`usr_…`).
    User(String),
}

/// The tenant the bootstrap admin key acts in for tenant data.
pub const BOOTSTRAP_TENANT: &str = "default";

/// What a caller may learn about itself (`GET /api/auth/me`): enough for a
/// client to show what it can do, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Whoami {
    /// The tenant whose data it works on.
    pub tenant: String,
    /// Its role.
    pub role: Role,
    /// What it may do.
    pub scopes: Scopes,
    /// `bootstrap`, `key` or `user`.
    pub credential: &'static str,
    /// The key's or user's id; `None` for the bootstrap key.
    pub id: Option<String>,
}

impl Principal {
    /// The caller's own description, for `GET /api/auth/me`.
    pub fn whoami(&self) -> Whoami {
        let (credential, id) = match &self.credential {
            Credential::Bootstrap => ("bootstrap", None),
            Credential::Key(id) => ("key", Some(id.clone())),
            Credential::User(id) => ("user", Some(id.clone())),
        };
        Whoami {
            tenant: self.tenant.as_str().to_string(),
            role: self.role,
            scopes: self.scopes,
            credential,
            id,
        }
    }

    /// True for the bootstrap admin key, which may manage keys of every tenant.
    pub fn is_bootstrap(&self) -> bool {
        self.credential == Credential::Bootstrap
    }

    /// Who this is in the audit log and in rate-limit buckets: the key id,
    /// the user id, or `bootstrap`.
    pub fn actor(&self) -> String {
        match &self.credential {
            Credential::Bootstrap => "bootstrap".to_string(),
            Credential::Key(id) | Credential::User(id) => id.clone(),
        }
    }

    /// 403 unless this caller holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this key lacks the {scope} scope"
            )))
        }
    }
}

/// sha256 of a key, hex: what the store keeps instead of the key.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Compare two equal-length digests without an early exit, so response timing
/// does not reveal how many leading characters of a guess were right.
fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Extract the token of a `Bearer` Authorization header.
pub(crate) fn bearer(header: Option<&str>) -> Result<&str, ApiError> {
    let header =
        header.ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <api key>"))?;
    let (scheme, token) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("Authorization must be 'Bearer <api key>'"))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::unauthorized(
            "Authorization must be 'Bearer <api key>'",
        ));
    }
    Ok(token)
}

/// The deployment's secrets that authentication checks against (Spin
/// variables `admin_api_key` and `jwt_secret`); empty means not configured.
#[derive(Clone, Copy)]
pub struct AuthSecrets<'a> {
    /// The bootstrap admin key.
    pub admin_key: &'a str,
    /// The HS256 key of user session tokens.
    pub jwt_secret: &'a str,
}

/// Resolve the caller of a request from its Authorization header: the
/// bootstrap key, a stored API key, or a user's session token (JWT).
///
/// Unknown and revoked keys get the same 401, so a caller cannot tell them
/// apart; so do bad, expired and deleted users' tokens.
pub async fn authenticate<S: Sql>(
    sql: &S,
    authorization: Option<&str>,
    secrets: AuthSecrets<'_>,
    now_ms: i64,
) -> Result<Principal, ApiError> {
    let token = bearer(authorization)?;
    if crate::jwt::looks_like_jwt(token) {
        return crate::users::authenticate_token(sql, token, secrets.jwt_secret, now_ms).await;
    }
    let digest = hash_key(token);
    if !secrets.admin_key.is_empty() && same_digest(&digest, &hash_key(secrets.admin_key)) {
        return Ok(Principal {
            tenant: Tenant::parse(BOOTSTRAP_TENANT)?,
            role: Role::Admin,
            scopes: Scopes::ALL,
            credential: Credential::Bootstrap,
        });
    }
    crate::keys::find_active(sql, &digest)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid or revoked API key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_nested_scope_sets() {
        use Scope::*;
        assert!(Role::Viewer.scopes().is_subset(Role::Editor.scopes()));
        assert!(Role::Editor.scopes().is_subset(Role::Admin.scopes()));
        for (role, scope, has) in [
            (Role::Viewer, DocumentsRead, true),
            (Role::Viewer, Chat, true),
            (Role::Viewer, DocumentsWrite, false),
            (Role::Viewer, Tools, false),
            (Role::Editor, Tools, true),
            (Role::Editor, Admin, false),
            (Role::Admin, Admin, true),
        ] {
            assert_eq!(role.scopes().contains(scope), has, "{role:?} {scope}");
        }
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer(Some("bearer  abc ")).unwrap(), "abc");
        for bad in [
            None,
            Some(""),
            Some("Basic abc"),
            Some("Bearer"),
            Some("Bearer   "),
        ] {
            assert_eq!(bearer(bad).unwrap_err().status(), 401, "{bad:?}");
        }
    }

    #[test]
    fn digest_compare() {
        assert!(same_digest(&hash_key("a"), &hash_key("a")));
        assert!(!same_digest(&hash_key("a"), &hash_key("b")));
        assert!(!same_digest("ab", "abc"));
    }
}
