//! The audit log: who changed access or deleted data, per tenant, readable
//! by the tenant's admins (`GET /api/admin/audit`). Rows are only ever
//! inserted; nothing in Lode updates or deletes them.

use lode_api::ApiError;
use serde::Serialize;
use serde_json::Value as Json;

use crate::ids::rfc3339;
use crate::{Sql, Tenant};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// An API key was created (detail: name, role, scopes).
    KeyCreated,
    /// An API key was revoked.
    KeyRevoked,
    /// The tenant's settings were replaced (detail: the new settings).
    SettingsChanged,
    /// A document was deleted.
    DocumentDeleted,
    /// A conversation was deleted.
    ConversationDeleted,
    /// A user account was created (detail: email, role, how).
    UserCreated,
    /// A user's role was changed (detail: from, to).
    UserRoleChanged,
    /// A user account was deleted.
    UserDeleted,
    /// A user changed their own password; their other sessions ended.
    UserPasswordChanged,
    /// An admin set a user's password; the user's sessions ended.
    UserPasswordReset,
    /// A user ended all of their sessions (sign out everywhere).
    UserSessionsEnded,
}

impl Action {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::KeyCreated => "key.created",
            Action::KeyRevoked => "key.revoked",
            Action::SettingsChanged => "settings.changed",
            Action::DocumentDeleted => "document.deleted",
            Action::ConversationDeleted => "conversation.deleted",
            Action::UserCreated => "user.created",
            Action::UserRoleChanged => "user.role_changed",
            Action::UserDeleted => "user.deleted",
            Action::UserPasswordChanged => "user.password_changed",
            Action::UserPasswordReset => "user.password_reset",
            Action::UserSessionsEnded => "user.sessions_ended",
        }
    }
}

/// One entry as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Increasing; `?before=` pages back from it.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// The key that did it (`key_…`), or `bootstrap`.
    pub actor: String,
    /// What it did (`key.created`…).
    pub action: String,
    /// What it did it to (a key, document or conversation id; the tenant for settings).
    pub target: String,
    /// Facts about the change (never a secret).
    pub detail: Json,
}

/// The audit log of one tenant.
pub struct Audit<'a, S: Sql> {
    sql: &'a S,
    tenant: &'a Tenant,
}

impl<'a, S: Sql> Audit<'a, S> {
    /// The log of `tenant`.
    pub fn new(sql: &'a S, tenant: &'a Tenant) -> Self {
        Self { sql, tenant }
    }

    /// Append an entry.
    pub async fn record(
        &self,
        actor: &str,
        action: Action,
        target: &str,
        detail: Json,
        now: i64,
    ) -> Result<(), ApiError> {
        self.sql
            .execute(
                "INSERT INTO audit_log (tenant, at, actor, action, target, detail) \
                 VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    self.tenant.as_str().into(),
                    now.into(),
                    actor.into(),
                    action.as_str().into(),
                    target.into(),
                    detail.to_string().into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// The newest `limit` entries, older than entry `before` if given.
    pub async fn list(&self, limit: u32, before: Option<i64>) -> Result<Vec<Entry>, ApiError> {
        let rows = self
            .sql
            .query(
                "SELECT id, at, actor, action, target, detail FROM audit_log \
                 WHERE tenant = ? AND id < ? ORDER BY id DESC LIMIT ?",
                vec![
                    self.tenant.as_str().into(),
                    before.unwrap_or(i64::MAX).into(),
                    i64::from(limit).into(),
                ],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(Entry {
                id: r.int(0)?,
                at: rfc3339(r.int(1)?),
                actor: r.text(2)?,
                action: r.text(3)?,
                target: r.text(4)?,
                detail: serde_json::from_str(&r.text(5)?).unwrap_or(Json::Null),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate;
    use crate::rusqlite_sql::RusqliteSql;
    use serde_json::json;

    #[test]
    fn entries_are_per_tenant_newest_first_and_paged() {
        let db = RusqliteSql::memory();
        let acme = Tenant::parse("acme").unwrap();
        let globex = Tenant::parse("globex").unwrap();
        RusqliteSql::block_on(async {
            migrate(&db).await.unwrap();
            let log = Audit::new(&db, &acme);
            log.record(
                "bootstrap",
                Action::KeyCreated,
                "key_1",
                json!({"role": "viewer"}),
                1_000,
            )
            .await
            .unwrap();
            log.record("key_1", Action::DocumentDeleted, "doc_1", json!({}), 2_000)
                .await
                .unwrap();
            Audit::new(&db, &globex)
                .record("key_9", Action::KeyRevoked, "key_8", json!({}), 3_000)
                .await
                .unwrap();
            let all = log.list(10, None).await.unwrap();
            let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(actions, ["document.deleted", "key.created"]);
            assert_eq!(all[1].detail, json!({"role": "viewer"}));
            let older = log.list(10, Some(all[0].id)).await.unwrap();
            assert_eq!(older.len(), 1);
            assert_eq!(older[0].actor, "bootstrap");
        });
    }
}
