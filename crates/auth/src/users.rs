//! People who log in: accounts with an email and an Argon2id-hashed
//! password, each in one tenant with a [`Role`]. `POST /api/auth/login`
//! trades the password for a short-lived HS256 session token ([`crate::jwt`])
//! that the API accepts wherever it accepts an API key.
//!
//! Every use of a token re-reads the user: a deleted user's tokens stop
//! working at once, and a demoted user's tokens lose the scopes the new role
//! lacks, without a revocation list. Each token also carries the user's
//! session generation: a password change or reset, or signing out
//! everywhere, moves the generation on and so ends every older session.

use lode_api::ApiError;
use lode_store::audit::{Action, Audit};
use lode_store::ids::{new_id, random_bytes, rfc3339};
use lode_store::{Row, Sql, StoreError, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::jwt::{self, Claims, Secret};
use crate::password;
use crate::principal::{Credential, Principal, Role};
use crate::scopes::{Scope, Scopes};

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

/// The body of `POST /api/auth/login`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The account's email.
    pub email: String,
    /// Its password.
    pub password: String,
}

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

/// The body of `POST /api/auth/password`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The password in use, proving the token's holder knows it.
    pub current_password: String,
    /// The new one, at least [`password::MIN_LEN`] characters.
    pub new_password: String,
}

/// An account as shown: never the password or its hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserInfo {
    /// `usr_…` id.
    pub id: String,
    /// The user's tenant.
    pub tenant: String,
    /// The login name (lower case).
    pub email: String,
    /// The user's role.
    pub role: Role,
    /// What the role allows.
    pub scopes: Scopes,
    /// When the account was created (RFC 3339).
    pub created_at: String,
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

/// Accounts as seen by one store.
pub struct Users<'a, S: Sql> {
    sql: &'a S,
}

const COLUMNS: &str = "id, tenant, email, role, created_at";

impl<'a, S: Sql> Users<'a, S> {
    /// The accounts in `sql`.
    pub fn new(sql: &'a S) -> Self {
        Self { sql }
    }

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

/// Users of other tenants read as absent (404), so ids cannot be probed.
fn tenant_filter(caller: &Principal) -> Option<String> {
    (!caller.is_bootstrap()).then(|| caller.tenant.as_str().to_string())
}

fn user_info(row: &Row) -> Result<UserInfo, StoreError> {
    let role = row.text(3)?;
    let role = Role::parse(&role).ok_or_else(|| StoreError::Decode(format!("role {role:?}")))?;
    Ok(UserInfo {
        id: row.text(0)?,
        tenant: row.text(1)?,
        email: row.text(2)?,
        role,
        scopes: role.scopes(),
        created_at: rfc3339(row.int(4)?),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::{AuthSecrets, authenticate};
    use lode_store::migrate;
    use lode_store::rusqlite_sql::RusqliteSql;

    const JWT: &str = "a test secret of at least 32 bytes!!";
    const SECRETS: AuthSecrets = AuthSecrets {
        admin_key: "root",
        jwt_secret: JWT,
    };

    fn register(email: &str, role: Option<Role>) -> Register {
        Register {
            email: email.into(),
            password: "a long password".into(),
            role,
            tenant: None,
        }
    }

    fn role(role: Role) -> UpdateUser {
        UpdateUser {
            role: Some(role),
            password: None,
        }
    }

    async fn root(db: &RusqliteSql) -> Principal {
        migrate(db).await.unwrap();
        authenticate(db, Some("Bearer root"), SECRETS, 0)
            .await
            .unwrap()
    }

    #[test]
    fn register_login_and_use_a_token() {
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(async {
            let root = root(&db).await;
            let users = Users::new(&db);
            let mut req = register(" Ada@Example.com ", Some(Role::Editor));
            req.tenant = Some("acme".into());
            let ada = users.register(Some(&root), req, 1_000).await.unwrap();
            assert_eq!(
                (ada.email.as_str(), ada.tenant.as_str()),
                ("ada@example.com", "acme")
            );

            // The password is stored only as an Argon2id hash.
            let stored = db.query("SELECT * FROM users", vec![]).await.unwrap();
            let dump = format!("{stored:?}");
            assert!(!dump.contains("a long password") && dump.contains("$argon2id$"));

            let secret = Secret::new(JWT).unwrap();
            let login = |pw: &str, email: &str| Login {
                email: email.into(),
                password: pw.into(),
            };
            for (email, pw) in [
                ("ada@example.com", "wrong password"),
                ("bob@example.com", "a long password"),
            ] {
                let e = users
                    .login(login(pw, email), &secret, 900, 2_000)
                    .await
                    .unwrap_err();
                assert_eq!(
                    (e.status(), e.message.as_str()),
                    (401, "invalid email or password")
                );
            }
            let session = users
                .login(
                    login("a long password", "ADA@example.com"),
                    &secret,
                    900,
                    2_000,
                )
                .await
                .unwrap();
            assert_eq!(session.expires_in, 900);
            let bearer = format!("Bearer {}", session.access_token);
            let p = authenticate(&db, Some(&bearer), SECRETS, 3_000)
                .await
                .unwrap();
            assert_eq!(p.credential, Credential::User(ada.id.clone()));
            assert_eq!(
                (p.tenant.as_str(), p.scopes),
                ("acme", Role::Editor.scopes())
            );

            // Expired after 900 s.
            let e = authenticate(&db, Some(&bearer), SECRETS, 2_000 + 900_000)
                .await
                .unwrap_err();
            assert_eq!(e.status(), 401);
            // Demoted: the same token loses the editor's scopes at once.
            users
                .update(&root, &ada.id, role(Role::Viewer), 4_000)
                .await
                .unwrap()
                .unwrap();
            let p = authenticate(&db, Some(&bearer), SECRETS, 5_000)
                .await
                .unwrap();
            assert_eq!(p.scopes, Role::Viewer.scopes());
            // Deleted: the token stops working.
            assert!(users.delete(&root, &ada.id, 6_000).await.unwrap());
            let e = authenticate(&db, Some(&bearer), SECRETS, 7_000)
                .await
                .unwrap_err();
            assert_eq!(e.status(), 401);
            // Without a configured secret no token is accepted.
            let none = AuthSecrets {
                jwt_secret: "",
                ..SECRETS
            };
            assert_eq!(
                authenticate(&db, Some(&bearer), none, 3_000)
                    .await
                    .unwrap_err()
                    .status(),
                401
            );
        });
    }

    #[test]
    fn password_changes_resets_and_signing_out_end_older_sessions() {
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(async {
            let root = root(&db).await;
            let users = Users::new(&db);
            let mut req = register("ada@example.com", Some(Role::Editor));
            req.tenant = Some("acme".into());
            let ada = users.register(Some(&root), req, 1_000).await.unwrap();
            let secret = Secret::new(JWT).unwrap();
            let login = |pw: &str| Login {
                email: "ada@example.com".into(),
                password: pw.into(),
            };
            let bearer = |s: &Session| format!("Bearer {}", s.access_token);
            let who = async |s: &Session| authenticate(&db, Some(&bearer(s)), SECRETS, 3_000).await;
            let phone = users
                .login(login("a long password"), &secret, 900, 2_000)
                .await
                .unwrap();
            let laptop = users
                .login(login("a long password"), &secret, 900, 2_000)
                .await
                .unwrap();
            let me = who(&laptop).await.unwrap();
            let change = |current: &str, new: &str| ChangePassword {
                current_password: current.into(),
                new_password: new.into(),
            };

            // Wrong current password, the same one again, too short; and
            // API keys have no password to change.
            let status = async |who: &Principal, c: ChangePassword| {
                users
                    .change_password(who, c, &secret, 900, 2_500)
                    .await
                    .err()
                    .map(|e| e.status())
            };
            assert_eq!(
                status(&me, change("wrong one!!", "another long one")).await,
                Some(403)
            );
            assert_eq!(
                status(&me, change("a long password", "a long password")).await,
                Some(422)
            );
            assert_eq!(
                status(&me, change("a long password", "short")).await,
                Some(422)
            );
            assert_eq!(
                status(&root, change("a long password", "another long one")).await,
                Some(403)
            );
            assert!(who(&phone).await.is_ok(), "failed attempts change nothing");

            // A change: every older session ends, the answer is a new one.
            let fresh = users
                .change_password(
                    &me,
                    change("a long password", "another long one"),
                    &secret,
                    900,
                    2_500,
                )
                .await
                .unwrap();
            assert_eq!(who(&phone).await.unwrap_err().status(), 401);
            assert_eq!(who(&laptop).await.unwrap_err().status(), 401);
            assert_eq!(
                who(&fresh).await.unwrap().credential,
                Credential::User(ada.id.clone())
            );
            assert!(
                users
                    .login(login("a long password"), &secret, 900, 2_600)
                    .await
                    .is_err()
            );
            let again = users
                .login(login("another long one"), &secret, 900, 2_600)
                .await
                .unwrap();

            // Sign out everywhere: this token and every other.
            users
                .end_sessions(&who(&again).await.unwrap(), 2_700)
                .await
                .unwrap();
            assert_eq!(who(&again).await.unwrap_err().status(), 401);
            assert_eq!(who(&fresh).await.unwrap_err().status(), 401);

            // An admin resets a forgotten password (sessions end, the new
            // password works); an admin lacking the user's scopes cannot.
            let later = users
                .login(login("another long one"), &secret, 900, 2_800)
                .await
                .unwrap();
            let narrow = Principal {
                scopes: Scopes::of(&[Scope::Admin]),
                ..root.clone()
            };
            let reset = |pw: &str| UpdateUser {
                role: None,
                password: Some(pw.into()),
            };
            let e = users
                .update(&narrow, &ada.id, reset("reset by admin"), 2_900)
                .await;
            assert_eq!(e.unwrap_err().status(), 403);
            let e = users
                .update(
                    &root,
                    &ada.id,
                    UpdateUser {
                        role: None,
                        password: None,
                    },
                    2_900,
                )
                .await;
            assert_eq!(e.unwrap_err().status(), 422);
            users
                .update(&root, &ada.id, reset("reset by admin"), 2_900)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(who(&later).await.unwrap_err().status(), 401);
            assert!(
                users
                    .login(login("reset by admin"), &secret, 900, 3_000)
                    .await
                    .is_ok()
            );

            // The audit log has each, and no password.
            let log = Audit::new(&db, &Tenant::parse("acme").unwrap())
                .list(10, None)
                .await
                .unwrap();
            let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(
                actions,
                [
                    "user.password_reset",
                    "user.sessions_ended",
                    "user.password_changed",
                    "user.created"
                ]
            );
            let dump = format!("{log:?}");
            assert!(
                !dump.contains("long") && !dump.contains("reset by admin"),
                "{dump}"
            );
        });
    }

    #[test]
    fn registration_rules() {
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(async {
            let root = root(&db).await;
            let users = Users::new(&db);
            // Open sign-up: a tenant of its own, as its admin.
            let me = users
                .register(None, register("me@example.com", None), 1)
                .await
                .unwrap();
            assert_eq!(me.role, Role::Admin);
            assert!(me.tenant.starts_with("t-"));
            let e = users
                .register(None, register("x@example.com", Some(Role::Admin)), 1)
                .await;
            assert_eq!(e.unwrap_err().status(), 422, "sign-ups cannot pick a role");
            // Duplicates (case-insensitive), bad emails and short passwords.
            let e = users
                .register(Some(&root), register("ME@example.com", None), 1)
                .await;
            assert_eq!(e.unwrap_err().status(), 409);
            for bad in ["", "no-at", "a@b", "a b@example.com", "@example.com"] {
                let e = users.register(Some(&root), register(bad, None), 1).await;
                assert_eq!(e.unwrap_err().status(), 422, "{bad:?}");
            }
            let mut short = register("s@example.com", None);
            short.password = "short".into();
            assert_eq!(
                users
                    .register(Some(&root), short, 1)
                    .await
                    .unwrap_err()
                    .status(),
                422
            );
            // A tenant admin: only its own tenant; its users default to viewer.
            let admin = Principal {
                tenant: Tenant::parse(&me.tenant).unwrap(),
                role: Role::Admin,
                scopes: Scopes::ALL,
                credential: Credential::User(me.id.clone()),
            };
            let v = users
                .register(Some(&admin), register("v@example.com", None), 2)
                .await
                .unwrap();
            assert_eq!(
                (v.role, v.tenant.as_str()),
                (Role::Viewer, me.tenant.as_str())
            );
            let mut elsewhere = register("w@example.com", None);
            elsewhere.tenant = Some("acme".into());
            assert_eq!(
                users
                    .register(Some(&admin), elsewhere, 2)
                    .await
                    .unwrap_err()
                    .status(),
                403
            );
            // An admin narrowed to `admin` cannot create an editor.
            let narrow = Principal {
                scopes: Scopes::of(&[Scope::Admin]),
                ..admin.clone()
            };
            let e = users
                .register(
                    Some(&narrow),
                    register("e@example.com", Some(Role::Editor)),
                    2,
                )
                .await;
            assert_eq!(e.unwrap_err().status(), 403);
            // The tenant admin sees its two users, not root's others; another
            // tenant's user reads as absent.
            assert_eq!(users.list(&admin).await.unwrap().len(), 2);
            let acme = Principal {
                tenant: Tenant::parse("acme").unwrap(),
                ..admin.clone()
            };
            assert!(!users.delete(&acme, &v.id, 3).await.unwrap());
            assert!(
                users
                    .update(&acme, &v.id, role(Role::Editor), 3)
                    .await
                    .unwrap()
                    .is_none()
            );
            // Every change is in the audit log of the user's tenant, no password in it.
            let log = Audit::new(&db, &admin.tenant).list(10, None).await.unwrap();
            let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(actions, ["user.created", "user.created"]);
            assert!(!format!("{log:?}").contains("a long password"));
        });
    }
}
