//! Spin's host capabilities beyond SQL, as the traits Lode's logic is
//! written against. `lode_store::Sql` is the same shape for `spin:sqlite`.
//!
//! Each trait is what Lode uses of one Spin interface, no more (one
//! capability per module, as Spin's `crates/factor-*` are split):
//! [`KeyValue`] (`spin:key-value`), [`Outbound`] (`wasi:http` outgoing
//! requests, with the timeouts of `wasi:http/types.request-options`),
//! [`Variables`] (`spin:variables`) and [`Publish`] (`spin:redis`
//! `publish`). `lode-common` implements them over `spin_sdk`; the
//! `native` feature implements them with real parts (an in-memory store,
//! a map of variables, `ureq` over real sockets, a real Redis), so the
//! same logic runs in a component and in a native test.

pub mod key_value;
#[cfg(feature = "native")]
pub mod native;
pub mod outbound;
pub mod publish;
pub mod variables;

pub use key_value::KeyValue;
pub use outbound::{Outbound, OutboundRequest, ResponseBody, SendError};
pub use publish::Publish;
pub use variables::Variables;

/// A host capability failed (the store, the connection): its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CapabilityError(pub String);
