//! Stored API keys: create (shown once), list, revoke, look up by hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lode_api::ApiError;
use lode_store::audit::{Action, Audit};
use lode_store::ids::{new_id, now_ms, random_bytes, rfc3339};
use lode_store::sql::transaction;
use lode_store::{Row, Sql, StoreError, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::principal::{Credential, Principal, Role, hash_key};
use crate::scopes::Scopes;

/// The body of `POST /api/keys`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// The tenant the key works in.
    pub tenant: String,
    /// A label for humans ("ci", "laptop").
    pub name: String,
    /// `viewer`, `editor` or `admin`.
    pub role: Role,
    /// Fewer scopes than the role names (never more); `None`: the role's.
    #[serde(default)]
    pub scopes: Option<Scopes>,
}

/// The answer to `POST /api/keys`: the only time the secret is shown.
#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    /// `key_…` id, used to list and revoke.
    pub id: String,
    /// The secret to send as `Authorization: Bearer <key>`.
    pub key: String,
    /// The key's tenant.
    pub tenant: String,
    /// The key's label.
    pub name: String,
    /// The key's role.
    pub role: Role,
    /// What the key may do.
    pub scopes: Scopes,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// A stored key as listed: never the secret, never the hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyInfo {
    /// `key_…` id.
    pub id: String,
    /// The key's tenant.
    pub tenant: String,
    /// The key's label.
    pub name: String,
    /// The key's role.
    pub role: Role,
    /// What the key may do.
    pub scopes: Scopes,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// Key management as seen by one caller.
///
/// A tenant admin manages its own tenant's keys; the bootstrap key manages any
/// tenant's. Keys outside the caller's reach read as absent (404), never 403,
/// so ids of other tenants cannot be probed.
pub struct Keys<'a, S: Sql> {
    sql: &'a S,
    caller: &'a Principal,
}

impl<'a, S: Sql> Keys<'a, S> {
    /// Key management for `caller` (who must already hold the `admin` scope).
    pub fn new(sql: &'a S, caller: &'a Principal) -> Self {
        Self { sql, caller }
    }

    fn tenant_filter(&self) -> Option<&Tenant> {
        (!self.caller.is_bootstrap()).then_some(&self.caller.tenant)
    }

    /// Create a key; the secret is 32 random bytes, stored only as its sha256.
    pub async fn create(&self, req: CreateKey) -> Result<NewKey, ApiError> {
        let tenant = Tenant::parse(&req.tenant)?;
        if self.tenant_filter().is_some_and(|own| own != &tenant) {
            return Err(ApiError::forbidden(
                "a tenant admin may only create keys for its own tenant",
            ));
        }
        let name = req.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ApiError::invalid("name must be 1-100 characters"));
        }
        let scopes = req.scopes.unwrap_or(req.role.scopes());
        if !scopes.is_subset(req.role.scopes()) {
            return Err(ApiError::invalid(format!(
                "a {} key may hold only {:?}",
                req.role.as_str(),
                req.role.scopes()
            )));
        }
        if scopes == Scopes::default() {
            return Err(ApiError::invalid("a key needs at least one scope"));
        }
        // No escalation: an admin key narrowed to `admin` cannot mint a key
        // that reads documents.
        if !scopes.is_subset(self.caller.scopes) {
            return Err(ApiError::forbidden(
                "a key cannot grant scopes that the key creating it lacks",
            ));
        }
        let key = format!("lode_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
        let id = new_id("key");
        let now = now_ms();
        self.sql
            .execute(
                "INSERT INTO api_keys (id, tenant, name, role, scopes, key_sha256, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                vec![
                    id.clone().into(),
                    tenant.as_str().into(),
                    name.clone().into(),
                    req.role.as_str().into(),
                    scopes.to_text().into(),
                    hash_key(&key).into(),
                    now.into(),
                ],
            )
            .await?;
        let detail = json!({"name": name, "role": req.role, "scopes": scopes});
        Audit::new(self.sql, &tenant)
            .record(&self.caller.actor(), Action::KeyCreated, &id, detail, now)
            .await?;
        Ok(NewKey {
            id,
            key,
            tenant: tenant.to_string(),
            name,
            role: req.role,
            scopes,
            created_at: rfc3339(now),
        })
    }

    /// Active keys the caller may see, oldest first.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, ApiError> {
        let tenant = self.tenant_filter().map(|t| t.as_str().to_string());
        let rows = self
            .sql
            .query(
                "SELECT id, tenant, name, role, created_at, scopes FROM api_keys \
                 WHERE revoked_at IS NULL AND (?1 IS NULL OR tenant = ?1) ORDER BY created_at, id",
                vec![tenant.into()],
            )
            .await?;
        Ok(rows.iter().map(key_info).collect::<Result<_, _>>()?)
    }

    /// Revoke a key: it stops working at once. False if the caller sees no such active key.
    pub async fn revoke(&self, id: &str) -> Result<bool, ApiError> {
        let tenant = self.tenant_filter().map(|t| t.as_str().to_string());
        let now = now_ms();
        let revoked = transaction(self.sql, async {
            let rows = self
                .sql
                .query(
                    "SELECT tenant FROM api_keys \
                     WHERE id = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR tenant = ?2)",
                    vec![id.into(), tenant.into()],
                )
                .await?;
            let Some(row) = rows.first() else {
                return Ok(None);
            };
            self.sql
                .execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE id = ?",
                    vec![now.into(), id.into()],
                )
                .await?;
            Ok(Some(row.text(0)?))
        })
        .await?;
        let Some(tenant) = revoked else {
            return Ok(false);
        };
        let tenant = Tenant::parse(&tenant)?;
        Audit::new(self.sql, &tenant)
            .record(&self.caller.actor(), Action::KeyRevoked, id, json!({}), now)
            .await?;
        Ok(true)
    }
}

/// The principal of an active key with this sha256, if any.
pub(crate) async fn find_active<S: Sql>(
    sql: &S,
    digest: &str,
) -> Result<Option<Principal>, ApiError> {
    let rows = sql
        .query(
            "SELECT id, tenant, role, scopes FROM api_keys \
             WHERE key_sha256 = ? AND revoked_at IS NULL",
            vec![digest.into()],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let role = Role::parse(&row.text(2)?).ok_or_else(ApiError::internal)?;
    Ok(Some(Principal {
        tenant: Tenant::parse(&row.text(1)?)?,
        role,
        scopes: stored_scopes(role, row.opt_text(3)?.as_deref())?,
        credential: Credential::Key(row.text(0)?),
    }))
}

fn key_info(row: &Row) -> Result<KeyInfo, StoreError> {
    let role = row.text(3)?;
    let role = Role::parse(&role).ok_or_else(|| StoreError::Decode(format!("role {role:?}")))?;
    Ok(KeyInfo {
        id: row.text(0)?,
        tenant: row.text(1)?,
        name: row.text(2)?,
        role,
        scopes: stored_scopes(role, row.opt_text(5)?.as_deref())?,
        created_at: rfc3339(row.int(4)?),
    })
}

/// A key's scopes: as stored (keys made before scopes existed have none
/// stored and hold their role's), never more than its role names.
fn stored_scopes(role: Role, stored: Option<&str>) -> Result<Scopes, StoreError> {
    let scopes = match stored {
        None => role.scopes(),
        Some(text) => {
            Scopes::from_text(text).ok_or_else(|| StoreError::Decode(format!("scopes {text:?}")))?
        }
    };
    Ok(scopes.intersect(role.scopes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authenticate;
    use crate::principal::AuthSecrets;
    use lode_store::migrate;
    use lode_store::rusqlite_sql::RusqliteSql;

    const ADMIN: &str = "bootstrap-secret";
    const SECRETS: AuthSecrets = AuthSecrets {
        admin_key: ADMIN,
        jwt_secret: "",
    };

    fn create(tenant: &str, role: Role) -> CreateKey {
        CreateKey {
            tenant: tenant.into(),
            name: "test".into(),
            role,
            scopes: None,
        }
    }

    /// A migrated database's bootstrap admin principal.
    async fn bootstrap(db: &RusqliteSql) -> Principal {
        migrate(db).await.unwrap();
        authenticate(db, Some(&format!("Bearer {ADMIN}")), SECRETS, 0)
            .await
            .unwrap()
    }

    #[test]
    fn lifecycle() {
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(async {
            let root = bootstrap(&db).await;
            assert!(root.is_bootstrap());
            let keys = Keys::new(&db, &root);
            let k = keys.create(create("acme", Role::Editor)).await.unwrap();
            assert!(k.key.starts_with("lode_") && k.key.len() > 40);

            // The secret is not in the database, only its hash.
            let stored = db.query("SELECT * FROM api_keys", vec![]).await.unwrap();
            assert!(!format!("{stored:?}").contains(&k.key));

            let p = authenticate(&db, Some(&format!("Bearer {}", k.key)), SECRETS, 0)
                .await
                .unwrap();
            assert_eq!((p.tenant.as_str(), p.role), ("acme", Role::Editor));
            assert_eq!(keys.list().await.unwrap().len(), 1);

            assert!(keys.revoke(&k.id).await.unwrap());
            let err = authenticate(&db, Some(&format!("Bearer {}", k.key)), SECRETS, 0)
                .await
                .unwrap_err();
            assert_eq!(err.status(), 401);
            assert!(keys.list().await.unwrap().is_empty());

            // Both changes are in acme's audit log, by the bootstrap key.
            let acme = Tenant::parse("acme").unwrap();
            let log = Audit::new(&db, &acme).list(10, None).await.unwrap();
            let seen: Vec<(&str, &str, &str)> = log
                .iter()
                .map(|e| (e.action.as_str(), e.actor.as_str(), e.target.as_str()))
                .collect();
            assert_eq!(
                seen,
                [
                    ("key.revoked", "bootstrap", k.id.as_str()),
                    ("key.created", "bootstrap", k.id.as_str())
                ]
            );
            assert_eq!(log[1].detail["role"], "editor");
            assert!(!format!("{log:?}").contains(&k.key), "never the secret");
        });
    }

    #[test]
    fn keys_can_be_narrowed_but_never_widened() {
        use crate::scopes::Scope;
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(async {
            let root = bootstrap(&db).await;
            let keys = Keys::new(&db, &root);
            let narrow = CreateKey {
                scopes: Some(Scopes::of(&[Scope::Search])),
                ..create("acme", Role::Viewer)
            };
            let k = keys.create(narrow).await.unwrap();
            let p = authenticate(&db, Some(&format!("Bearer {}", k.key)), SECRETS, 0)
                .await
                .unwrap();
            assert_eq!(p.scopes, Scopes::of(&[Scope::Search]));
            assert_eq!(p.require(Scope::DocumentsRead).unwrap_err().status(), 403);
            assert_eq!(keys.list().await.unwrap()[0].scopes, p.scopes);

            let wider = CreateKey {
                scopes: Some(Scopes::of(&[Scope::Tools])),
                ..create("acme", Role::Viewer)
            };
            assert_eq!(keys.create(wider).await.unwrap_err().status(), 422);
            let none = CreateKey {
                scopes: Some(Scopes::default()),
                ..create("acme", Role::Viewer)
            };
            assert_eq!(keys.create(none).await.unwrap_err().status(), 422);

            // An admin key narrowed to `admin` cannot mint a key with more.
            let admin_only = CreateKey {
                scopes: Some(Scopes::of(&[Scope::Admin])),
                ..create("acme", Role::Admin)
            };
            let a = keys.create(admin_only).await.unwrap();
            let p = authenticate(&db, Some(&format!("Bearer {}", a.key)), SECRETS, 0)
                .await
                .unwrap();
            let escalate = Keys::new(&db, &p)
                .create(create("acme", Role::Viewer))
                .await;
            assert_eq!(escalate.unwrap_err().status(), 403);
        });
    }

    #[test]
    fn tenant_admins_stay_in_their_tenant() {
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(async {
            let root = bootstrap(&db).await;
            let root_keys = Keys::new(&db, &root);
            let acme_admin = root_keys.create(create("acme", Role::Admin)).await.unwrap();
            let globex = root_keys
                .create(create("globex", Role::Viewer))
                .await
                .unwrap();

            let p = authenticate(&db, Some(&format!("Bearer {}", acme_admin.key)), SECRETS, 0)
                .await
                .unwrap();
            let acme = Keys::new(&db, &p);
            assert_eq!(
                acme.create(create("globex", Role::Admin))
                    .await
                    .unwrap_err()
                    .status(),
                403
            );
            assert!(acme.create(create("acme", Role::Viewer)).await.is_ok());
            assert!(
                acme.list()
                    .await
                    .unwrap()
                    .iter()
                    .all(|k| k.tenant == "acme")
            );
            assert!(
                !acme.revoke(&globex.id).await.unwrap(),
                "other tenant's key is invisible"
            );
            assert_eq!(root_keys.list().await.unwrap().len(), 3);
        });
    }

    #[test]
    fn no_bootstrap_key_when_unset() {
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(async {
            migrate(&db).await.unwrap();
            assert_eq!(
                authenticate(
                    &db,
                    Some("Bearer x"),
                    AuthSecrets {
                        admin_key: "",
                        jwt_secret: ""
                    },
                    0
                )
                .await
                .unwrap_err()
                .status(),
                401
            );
        });
    }
}
