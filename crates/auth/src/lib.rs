//! Authentication and authorisation for every `/api/*` route.
//!
//! A caller presents `Authorization: Bearer <key>`. Keys are random 32-byte
//! secrets shown once at creation; the store keeps only their sha256, so a
//! leaked database does not leak usable keys. Each key belongs to one tenant and
//! has a [`Role`], a named set of [`Scope`]s, and may be narrowed to fewer
//! scopes. Every route declares the scope it needs in [`routes::ROUTES`],
//! checked before any handler runs. The bootstrap admin key comes from the
//! Spin variable `admin_api_key` and is never stored. People may also have
//! accounts ([`users`]): a password (Argon2id) buys a short-lived HS256
//! session token ([`jwt`]) accepted wherever a key is.

pub mod jwt;
pub mod keys;
pub mod password;
pub mod principal;
pub mod routes;
pub mod scopes;
pub mod users;

pub use keys::{CreateKey, KeyInfo, Keys, NewKey};
pub use principal::{AuthSecrets, Credential, Principal, Role, Whoami, authenticate};
pub use scopes::{Scope, Scopes};
pub use users::{Registration, Users};
