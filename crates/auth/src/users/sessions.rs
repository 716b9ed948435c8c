//! Sessions: logging in for a token, changing one's password, signing out
//! everywhere, and checking a session token on each request. Separate
//! because it is what a user does for themself, and the only part that
//! touches tokens and session generations.

use lode_api::ApiError;
use lode_store::audit::{Action, Audit};
use lode_store::{Sql, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{COLUMNS, UserInfo, Users, user_info};
use crate::jwt::{self, Claims, Secret};
use crate::password;
use crate::principal::{Credential, Principal, Role};

/// The body of `POST /api/auth/login`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The account's email.
    pub email: String,
    /// Its password.
    pub password: String,
}

/// The body of `POST /api/auth/password`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The password in use, proving the token's holder knows it.
    pub current_password: String,
    /// The new one, at least [`password::MIN_LEN`] characters.
    pub new_password: String,
}

/// The answer to a successful login (OAuth 2.0 token response field names).
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// The HS256 session token, sent as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// The account.
    pub user: UserInfo,
}

impl<S: Sql> Users<'_, S> {
    /// Check a password and issue a session token valid for `ttl_secs`.
    /// A wrong password and an unknown email get the same 401 after the
    /// same Argon2 work.
    pub async fn login(
        &self,
        req: Login,
        secret: &Secret<'_>,
        ttl_secs: i64,
        now_ms: i64,
    ) -> Result<Session, ApiError> {
        let email = req.email.trim().to_lowercase();
        let rows = self
            .sql
            .query(
                &format!(
                    "SELECT {COLUMNS}, password_hash, token_generation FROM users WHERE email = ?"
                ),
                vec![email.into()],
            )
            .await?;
        let found = rows.first();
        let stored = match found {
            Some(row) => row.text(5)?,
            None => password::DECOY_HASH.to_string(),
        };
        let matches = password::verify(&req.password, &stored);
        let (Some(row), true) = (found, matches) else {
            return Err(ApiError::unauthorized("invalid email or password"));
        };
        let generation = row.int(6)?;
        Ok(issue(user_info(row)?, generation, secret, ttl_secs, now_ms))
    }

    /// The holder of a session token changes its password, proving it knows
    /// the current one. Every other session of the user ends; the answer is
    /// a fresh session, so the caller stays logged in.
    pub async fn change_password(
        &self,
        who: &Principal,
        req: ChangePassword,
        secret: &Secret<'_>,
        ttl_secs: i64,
        now_ms: i64,
    ) -> Result<Session, ApiError> {
        let id = session_user(who)?;
        let rows = self
            .sql
            .query(
                &format!(
                    "SELECT {COLUMNS}, password_hash, token_generation FROM users \
                     WHERE id = ? AND tenant = ?"
                ),
                vec![id.into(), who.tenant.as_str().into()],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| ApiError::unauthorized("invalid or expired session token"))?;
        if !password::verify(&req.current_password, &row.text(5)?) {
            return Err(ApiError::forbidden(
                "current_password is not this account's password",
            ));
        }
        if req.new_password == req.current_password {
            return Err(ApiError::invalid(
                "new_password must differ from current_password",
            ));
        }
        password::check_strength(&req.new_password)?;
        let generation = row.int(6)?;
        let moved = self
            .sql
            .execute(
                "UPDATE users SET password_hash = ?, token_generation = token_generation + 1 \
                 WHERE id = ? AND token_generation = ?",
                vec![
                    password::hash(&req.new_password)?.into(),
                    id.into(),
                    generation.into(),
                ],
            )
            .await?;
        if moved == 0 {
            return Err(ApiError::conflict(
                "the account's sessions changed meanwhile: log in again",
            ));
        }
        Audit::new(self.sql, &who.tenant)
            .record(id, Action::UserPasswordChanged, id, json!({}), now_ms)
            .await?;
        Ok(issue(
            user_info(row)?,
            generation + 1,
            secret,
            ttl_secs,
            now_ms,
        ))
    }

    /// Sign out everywhere: every session token of the calling user stops
    /// working, this one included.
    pub async fn end_sessions(&self, who: &Principal, now_ms: i64) -> Result<(), ApiError> {
        let id = session_user(who)?;
        self.bump_generation(id, &who.tenant).await?;
        Audit::new(self.sql, &who.tenant)
            .record(id, Action::UserSessionsEnded, id, json!({}), now_ms)
            .await?;
        Ok(())
    }

    async fn bump_generation(&self, id: &str, tenant: &Tenant) -> Result<(), ApiError> {
        self.sql
            .execute(
                "UPDATE users SET token_generation = token_generation + 1 \
                 WHERE id = ? AND tenant = ?",
                vec![id.into(), tenant.as_str().into()],
            )
            .await?;
        Ok(())
    }
}

/// A session for `user` in session generation `generation`, valid `ttl_secs`.
fn issue(
    user: UserInfo,
    generation: i64,
    secret: &Secret<'_>,
    ttl_secs: i64,
    now_ms: i64,
) -> Session {
    let now = now_ms / 1000;
    let claims = Claims {
        iss: jwt::ISSUER.to_string(),
        sub: user.id.clone(),
        tenant: user.tenant.clone(),
        role: user.role,
        scopes: user.scopes,
        iat: now,
        exp: now + ttl_secs,
        generation,
    };
    Session {
        access_token: jwt::sign(&claims, secret),
        token_type: "Bearer",
        expires_in: ttl_secs,
        user,
    }
}

/// The user behind a session token; 403 for API keys, which have no
/// password or sessions of their own.
fn session_user(who: &Principal) -> Result<&str, ApiError> {
    match &who.credential {
        Credential::User(id) => Ok(id),
        _ => Err(ApiError::forbidden(
            "only a user's session token has a password and sessions; API keys are revoked instead",
        )),
    }
}

/// The principal of a session token: valid signature and lifetime, a user
/// that still exists in the token's tenant, and the user's current session
/// generation; its scopes are the token's narrowed to the user's current role.
pub(crate) async fn authenticate_token<S: Sql>(
    sql: &S,
    token: &str,
    jwt_secret: &str,
    now_ms: i64,
) -> Result<Principal, ApiError> {
    let refused = || ApiError::unauthorized("invalid or expired session token");
    let secret = Secret::new(jwt_secret).map_err(|_| refused())?;
    let claims = jwt::verify(token, &secret, now_ms / 1000).map_err(|_| refused())?;
    let rows = sql
        .query(
            "SELECT role, token_generation FROM users WHERE id = ? AND tenant = ?",
            vec![claims.sub.clone().into(), claims.tenant.clone().into()],
        )
        .await?;
    let row = rows.first().ok_or_else(refused)?;
    if row.int(1)? != claims.generation {
        return Err(refused());
    }
    let role = Role::parse(&row.text(0)?).ok_or_else(ApiError::internal)?;
    Ok(Principal {
        tenant: Tenant::parse(&claims.tenant)?,
        role,
        scopes: claims.scopes.intersect(role.scopes()),
        credential: Credential::User(claims.sub),
    })
}
