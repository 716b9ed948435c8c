//! Tests of the account lifecycle against an in-memory store; each one
//! crosses registration, sessions and admin management, so they live here
//! rather than with any one of them.

use super::*;
use crate::jwt::Secret;
use crate::principal::{AuthSecrets, Credential, Principal, authenticate};
use crate::scopes::Scope;
use lode_store::audit::Audit;
use lode_store::migrate;
use lode_store::rusqlite_sql::RusqliteSql;
use lode_store::{Sql, Tenant};

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
