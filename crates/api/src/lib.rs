//! Lode's HTTP API vocabulary, shared by every HTTP component.
//!
//! Nothing here knows about Spin: components translate a Spin request into the
//! plain values these functions take, so the rules (status codes, limits, routing)
//! are tested natively and behave the same in every component.

pub mod body;
pub mod cursor;
pub mod error;
pub mod headers;
pub mod net;
pub mod query;
pub mod route;

pub use body::{BodyLimit, parse_json};
pub use cursor::Cursor;
pub use error::{ApiError, ErrorCode};
pub use route::{Params, Pattern, match_route};
