//! Lode's data layer: tenant-scoped repositories over a minimal async SQL trait.
//!
//! Components implement [`Sql`] over Spin's `spin:sqlite` host store; native
//! tests implement it over rusqlite (feature `rusqlite`). The repositories never
//! see which one they run on, so what is tested natively is what runs in Spin.

pub mod audit;
pub mod conversations;
pub mod documents;
pub mod ids;
pub mod migrate;
pub mod quota;
#[cfg(feature = "rusqlite")]
pub mod rusqlite_sql;
pub mod settings;
pub mod sql;
pub mod tenant;
pub mod tool_results;
pub mod usage;

pub use audit::Audit;
pub use conversations::{Conversation, Conversations, Turn};
pub use documents::{Document, DocumentInput, Documents, ListQuery, Page, VersionInfo};
pub use migrate::migrate;
pub use quota::{Allowances, Holdings, Quota};
pub use settings::{Ceiling, Chunking, Quotas, Settings, StoredSettings, TenantSettings};
pub use sql::{Row, Sql, StoreError, Value};
pub use tenant::Tenant;
pub use tool_results::ToolResults;
pub use usage::{Call, Usage, UsageReport};
