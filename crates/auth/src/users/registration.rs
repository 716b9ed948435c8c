//! Creating accounts: who may sign up (the `auth_registration` variable),
//! what an admin may create, and the email shape. Separate because it is
//! the one operation open to callers without an account.

use lode_api::ApiError;
use lode_store::audit::{Action, Audit};
use lode_store::ids::{new_id, random_bytes, rfc3339};
use lode_store::{Sql, Tenant};
use serde::Deserialize;
use serde_json::json;

use super::{UserInfo, Users};
use crate::password;
use crate::principal::{Principal, Role};
use crate::scopes::Scope;

/// Who may call `POST /api/auth/register` (the `auth_registration` variable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Only an admin key creates accounts, in its own tenant (the default).
    AdminOnly,
    /// Anyone may sign up; each sign-up gets a new tenant and is its admin.
    /// Admins may still create accounts in their tenant.
    Open,
}

impl Registration {
    /// Parse the variable: `admin` or `open`.
    pub fn parse(text: &str) -> Option<Registration> {
        match text.trim() {
            "admin" => Some(Registration::AdminOnly),
            "open" => Some(Registration::Open),
            _ => None,
        }
    }
}

/// The body of `POST /api/auth/register`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// The login name; compared without case.
    pub email: String,
    /// At least [`password::MIN_LEN`] characters.
    pub password: String,
    /// Only an admin may choose: `viewer` (default), `editor` or `admin`.
    #[serde(default)]
    pub role: Option<Role>,
    /// Only the bootstrap key may choose; a tenant admin's users join its tenant.
    #[serde(default)]
    pub tenant: Option<String>,
}

impl<S: Sql> Users<'_, S> {
    /// Create an account. `caller` is the admin creating it, or `None` for an
    /// open sign-up, which gets a tenant of its own.
    pub async fn register(
        &self,
        caller: Option<&Principal>,
        req: Register,
        now_ms: i64,
    ) -> Result<UserInfo, ApiError> {
        let email = normalize_email(&req.email)?;
        password::check_strength(&req.password)?;
        let (tenant, role, actor, how) = match caller {
            Some(admin) => {
                admin.require(Scope::Admin)?;
                let tenant = match &req.tenant {
                    Some(t) => Tenant::parse(t)?,
                    None => admin.tenant.clone(),
                };
                if !admin.is_bootstrap() && tenant != admin.tenant {
                    return Err(ApiError::forbidden(
                        "a tenant admin may only create users in its own tenant",
                    ));
                }
                let role = req.role.unwrap_or(Role::Viewer);
                if !role.scopes().is_subset(admin.scopes) {
                    return Err(ApiError::forbidden(
                        "a user cannot be given scopes that the creating key lacks",
                    ));
                }
                (tenant, role, admin.actor(), "admin")
            }
            None => {
                if req.role.is_some() || req.tenant.is_some() {
                    return Err(ApiError::invalid(
                        "a sign-up gets a tenant of its own as its admin: role and tenant are chosen by admins only",
                    ));
                }
                let tenant = Tenant::parse(&format!("t-{}", hex::encode(random_bytes::<6>())))?;
                (tenant, Role::Admin, "self".to_string(), "sign-up")
            }
        };
        let hash = password::hash(&req.password)?;
        let id = new_id("usr");
        let inserted = self
            .sql
            .execute(
                "INSERT INTO users (id, tenant, email, password_hash, role, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
                vec![
                    id.clone().into(),
                    tenant.as_str().into(),
                    email.clone().into(),
                    hash.into(),
                    role.as_str().into(),
                    now_ms.into(),
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(ApiError::conflict(
                "an account with this email already exists",
            ));
        }
        let actor = if how == "sign-up" { id.clone() } else { actor };
        let detail = json!({"email": email, "role": role, "via": how});
        Audit::new(self.sql, &tenant)
            .record(&actor, Action::UserCreated, &id, detail, now_ms)
            .await?;
        Ok(UserInfo {
            id,
            tenant: tenant.to_string(),
            email,
            role,
            scopes: role.scopes(),
            created_at: rfc3339(now_ms),
        })
    }
}

/// Trimmed, lower-cased, and shaped like an address (`local@domain`,
/// at most 254 bytes as RFC 5321 allows); 422 otherwise.
fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let well_formed = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if well_formed {
        Ok(email)
    } else {
        Err(ApiError::invalid(
            "email must be an address such as ada@example.com",
        ))
    }
}
