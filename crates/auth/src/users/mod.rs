//! People who log in: accounts with an email and an Argon2id-hashed
//! password, each in one tenant with a [`Role`]. `POST /api/auth/login`
//! trades the password for a short-lived HS256 session token ([`crate::jwt`])
//! that the API accepts wherever it accepts an API key.
//!
//! Every use of a token re-reads the user: a deleted user's tokens stop
//! working at once, and a demoted user's tokens lose the scopes the new role
//! lacks, without a revocation list. Each token also carries the user's
//! session generation: a password change or reset, or signing out
//! everywhere, moves the generation on and so ends every older session.
//!
//! This module holds what every operation shares (the [`Users`] store, the
//! [`UserInfo`] shown for an account); the operations themselves are split
//! by who performs them: `registration` (creating accounts), `sessions`
//! (logging in, passwords, session tokens) and `admin` (an admin listing,
//! changing and deleting accounts).

use lode_store::ids::rfc3339;
use lode_store::{Row, Sql, StoreError};
use serde::Serialize;

use crate::principal::Role;
use crate::scopes::Scopes;

mod admin;
mod registration;
mod sessions;

pub use admin::UpdateUser;
pub use registration::{Register, Registration};
pub(crate) use sessions::authenticate_token;
pub use sessions::{ChangePassword, Login, Session};

/// An account as shown: never the password or its hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserInfo {
    /// `usr_…` id.
    pub id: String,
    /// The user's tenant.
    pub tenant: String,
    /// The login name (lower case).
    pub email: String,
    /// The user's role.
    pub role: Role,
    /// What the role allows.
    pub scopes: Scopes,
    /// When the account was created (RFC 3339).
    pub created_at: String,
}

/// Accounts as seen by one store.
pub struct Users<'a, S: Sql> {
    sql: &'a S,
}

const COLUMNS: &str = "id, tenant, email, role, created_at";

impl<'a, S: Sql> Users<'a, S> {
    /// The accounts in `sql`.
    pub fn new(sql: &'a S) -> Self {
        Self { sql }
    }
}

fn user_info(row: &Row) -> Result<UserInfo, StoreError> {
    let role = row.text(3)?;
    let role = Role::parse(&role).ok_or_else(|| StoreError::Decode(format!("role {role:?}")))?;
    Ok(UserInfo {
        id: row.text(0)?,
        tenant: row.text(1)?,
        email: row.text(2)?,
        role,
        scopes: role.scopes(),
        created_at: rfc3339(row.int(4)?),
    })
}

#[cfg(test)]
mod tests;
