//! `spin:variables`: configuration and secrets, never in code or the database.

/// Spin variables as a component sees them.
#[allow(async_fn_in_trait)]
pub trait Variables {
    /// The value of `name`; `None` when the component does not declare it
    /// or the host cannot resolve it.
    async fn variable(&self, name: &str) -> Option<String>;
}
