//! Authentication and authorisation for every `/api/*` route.
//!
//! A caller presents `Authorization: Bearer <key>`. Keys are random 32-byte
//! secrets shown once at creation; the store keeps only their sha256, so a
//! leaked database does not leak usable keys. Each key belongs to one tenant and
//! has a [`Role`]. The bootstrap admin key comes from the Spin variable
//! `admin_api_key` and is never stored.

pub mod keys;
pub mod principal;

pub use keys::{CreateKey, KeyInfo, Keys, NewKey};
pub use principal::{Action, Principal, Role, authenticate};
