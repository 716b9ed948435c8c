//! Account management by an admin: listing a tenant's users, changing a
//! role, resetting a forgotten password and deleting an account, each
//! confined to what the admin's tenant and scopes allow. Separate because
//! these act on other people's accounts.

use lode_api::ApiError;
use lode_store::audit::{Action, Audit};
use lode_store::{Sql, Tenant};
use serde::Deserialize;
use serde_json::json;

use super::{COLUMNS, UserInfo, Users, user_info};
use crate::password;
use crate::principal::{Principal, Role};

/// The body of `PATCH /api/users/{id}`: a new role, a new password (a
/// reset, for a user who forgot theirs), or both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// The new role.
    #[serde(default)]
    pub role: Option<Role>,
    /// The new password; the user's sessions end.
    #[serde(default)]
    pub password: Option<String>,
}

impl<S: Sql> Users<'_, S> {
    /// The accounts `caller` may see: its tenant's, or all for the bootstrap key.
    pub async fn list(&self, caller: &Principal) -> Result<Vec<UserInfo>, ApiError> {
        let rows = self
            .sql
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM users WHERE (?1 IS NULL OR tenant = ?1) \
                     ORDER BY created_at, id"
                ),
                vec![tenant_filter(caller).into()],
            )
            .await?;
        Ok(rows.iter().map(user_info).collect::<Result<_, _>>()?)
    }

    /// An admin changes a user's role, or sets a new password for a user
    /// who forgot theirs (ending the user's sessions), or both; `None` if
    /// `caller` sees no such user.
    pub async fn update(
        &self,
        caller: &Principal,
        id: &str,
        req: UpdateUser,
        now_ms: i64,
    ) -> Result<Option<UserInfo>, ApiError> {
        if req.role.is_none() && req.password.is_none() {
            return Err(ApiError::invalid("give a role, a password, or both"));
        }
        if let Some(new) = &req.password {
            password::check_strength(new)?;
        }
        let Some(mut user) = self.find(caller, id).await? else {
            return Ok(None);
        };
        if let Some(role) = req.role {
            user = self.set_role(caller, user, role, now_ms).await?;
        }
        if let Some(new) = &req.password {
            if !user.scopes.is_subset(caller.scopes) {
                return Err(ApiError::forbidden(
                    "a user with scopes the resetting key lacks keeps their password",
                ));
            }
            self.sql
                .execute(
                    "UPDATE users SET password_hash = ?, token_generation = token_generation + 1 \
                     WHERE id = ?",
                    vec![password::hash(new)?.into(), id.into()],
                )
                .await?;
            let tenant = Tenant::parse(&user.tenant)?;
            Audit::new(self.sql, &tenant)
                .record(
                    &caller.actor(),
                    Action::UserPasswordReset,
                    id,
                    json!({}),
                    now_ms,
                )
                .await?;
        }
        Ok(Some(user))
    }

    async fn set_role(
        &self,
        caller: &Principal,
        before: UserInfo,
        role: Role,
        now_ms: i64,
    ) -> Result<UserInfo, ApiError> {
        let id = before.id.as_str();
        if !role.scopes().is_subset(caller.scopes) {
            return Err(ApiError::forbidden(
                "a user cannot be given scopes that the changing key lacks",
            ));
        }
        self.sql
            .execute(
                "UPDATE users SET role = ? WHERE id = ?",
                vec![role.as_str().into(), id.into()],
            )
            .await?;
        let tenant = Tenant::parse(&before.tenant)?;
        let detail = json!({"from": before.role, "to": role});
        Audit::new(self.sql, &tenant)
            .record(&caller.actor(), Action::UserRoleChanged, id, detail, now_ms)
            .await?;
        Ok(UserInfo {
            role,
            scopes: role.scopes(),
            ..before
        })
    }

    /// Delete an account: its tokens stop working at once. False if
    /// `caller` sees no such user.
    pub async fn delete(
        &self,
        caller: &Principal,
        id: &str,
        now_ms: i64,
    ) -> Result<bool, ApiError> {
        let Some(user) = self.find(caller, id).await? else {
            return Ok(false);
        };
        self.sql
            .execute("DELETE FROM users WHERE id = ?", vec![id.into()])
            .await?;
        let tenant = Tenant::parse(&user.tenant)?;
        Audit::new(self.sql, &tenant)
            .record(&caller.actor(), Action::UserDeleted, id, json!({}), now_ms)
            .await?;
        Ok(true)
    }

    async fn find(&self, caller: &Principal, id: &str) -> Result<Option<UserInfo>, ApiError> {
        let rows = self
            .sql
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM users WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)"
                ),
                vec![id.into(), tenant_filter(caller).into()],
            )
            .await?;
        Ok(rows.first().map(user_info).transpose()?)
    }
}

/// Users of other tenants read as absent (404), so ids cannot be probed.
fn tenant_filter(caller: &Principal) -> Option<String> {
    (!caller.is_bootstrap()).then(|| caller.tenant.as_str().to_string())
}
