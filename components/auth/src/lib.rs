//! Users: `POST /api/auth/register`, `POST /api/auth/login` (public, rate
//! limited per client address); for the holder of a session token
//! `POST /api/auth/password` (change it, ending other sessions) and
//! `POST /api/auth/logout` (end every session); for any credential
//! `GET /api/auth/me` (its tenant, role and scopes); and for admins
//! `GET /api/users`, `PATCH /api/users/{id}` (role, password reset) and
//! `DELETE /api/users/{id}`.
//!
//! Registration follows the `auth_registration` variable: `admin` (only an
//! admin key or admin user creates accounts, in its tenant) or `open`
//! (anyone signs up and gets a tenant of their own). Tokens are HS256,
//! signed with `jwt_secret`, and live `jwt_ttl_secs`.

use lode_api::ApiError;
use lode_auth::jwt::Secret;
use lode_auth::users::{ChangePassword, Login, Register, UpdateUser};
use lode_auth::{Registration, Users};
use lode_common::routes::AuthRoute;
use lode_common::{
    ApiCall, ApiRequest, Call, PublicCall, Reply, SpinSql, any_call, authenticate_or_slow_down,
    body_limit, client_address, number_variable, rate, variable,
};
use lode_ratelimit::{Budget, Limits};
use lode_store::ids::now_ms;
use serde_json::json;
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    lode_common::handle(env!("CARGO_PKG_NAME"), req, serve).await
}

async fn serve(req: Request) -> Result<Reply, ApiError> {
    let PublicCall { req, sql, handler } = match any_call(req).await? {
        Call::Public(call) => call,
        Call::Authenticated(call) => return users(call).await,
    };
    match handler {
        AuthRoute::Login => login(&sql, req).await,
        AuthRoute::Register => register(&sql, req).await,
        AuthRoute::Password => change_password(&sql, req).await,
        AuthRoute::Logout => logout(&sql, req).await,
        AuthRoute::Me => {
            let who = authenticate_or_slow_down(&sql, &req).await?;
            Ok(Reply::json(200, who.whoami()))
        }
        // Authenticated routes are served by `users`.
        AuthRoute::ListUsers | AuthRoute::UpdateUser | AuthRoute::DeleteUser => {
            Err(ApiError::internal())
        }
    }
}

/// Every password attempt costs an Argon2 hash: a client address gets
/// `LOGIN_PER_MINUTE` of them.
async fn slow_down(req: &ApiRequest) -> Result<(), ApiError> {
    rate::check(
        Budget::Login,
        &client_address(req).await?,
        &Limits::default(),
    )
    .await
}

async fn login(sql: &SpinSql, req: ApiRequest) -> Result<Reply, ApiError> {
    slow_down(&req).await?;
    let body: Login = req.json(body_limit().await?)?;
    let secret_text = variable("jwt_secret").await?;
    let secret = Secret::new(&secret_text)?;
    let session = Users::new(sql)
        .login(body, &secret, token_ttl().await?, now_ms())
        .await?;
    Ok(Reply::json(200, &session))
}

/// `jwt_ttl_secs`, checked to be 1 minute to 1 day.
async fn token_ttl() -> Result<i64, ApiError> {
    let ttl: i64 = number_variable("jwt_ttl_secs").await?;
    if !(60..=86_400).contains(&ttl) {
        lode_common::log_error!("jwt_ttl_secs must be 60-86400, not {ttl}");
        return Err(ApiError::internal());
    }
    Ok(ttl)
}

/// A session's holder changes its password (each attempt costs an Argon2
/// hash, so it shares the login budget); the answer is a fresh session.
async fn change_password(sql: &SpinSql, req: ApiRequest) -> Result<Reply, ApiError> {
    let who = authenticate_or_slow_down(sql, &req).await?;
    slow_down(&req).await?;
    let body: ChangePassword = req.json(body_limit().await?)?;
    let secret_text = variable("jwt_secret").await?;
    let secret = Secret::new(&secret_text)?;
    let session = Users::new(sql)
        .change_password(&who, body, &secret, token_ttl().await?, now_ms())
        .await?;
    Ok(Reply::json(200, &session))
}

/// Sign out everywhere: every token of the calling user stops working.
async fn logout(sql: &SpinSql, req: ApiRequest) -> Result<Reply, ApiError> {
    let who = authenticate_or_slow_down(sql, &req).await?;
    Users::new(sql).end_sessions(&who, now_ms()).await?;
    Ok(Reply::empty(204))
}

async fn register(sql: &SpinSql, req: ApiRequest) -> Result<Reply, ApiError> {
    let mode_text = variable("auth_registration").await?;
    let mode = Registration::parse(&mode_text).ok_or_else(|| {
        lode_common::log_error!(
            "auth_registration must be \"admin\" or \"open\", not {mode_text:?}"
        );
        ApiError::internal()
    })?;
    // An admin (key or user) may always create accounts in its tenant.
    let caller = match (req.header("authorization"), mode) {
        (Some(_), _) => Some(authenticate_or_slow_down(sql, &req).await?),
        (None, Registration::Open) => {
            slow_down(&req).await?;
            None
        }
        (None, Registration::AdminOnly) => {
            return Err(ApiError::unauthorized(
                "registration needs an admin's Authorization: Bearer <key or token> (auth_registration = admin)",
            ));
        }
    };
    let body: Register = req.json(body_limit().await?)?;
    let user = Users::new(sql)
        .register(caller.as_ref(), body, now_ms())
        .await?;
    Ok(Reply::json(201, &user).at(format!("/api/users/{}", user.id)))
}

async fn users(call: ApiCall<AuthRoute>) -> Result<Reply, ApiError> {
    let ApiCall {
        req,
        sql,
        who,
        handler,
        params,
    } = call;
    let users = Users::new(&sql);
    match handler {
        AuthRoute::ListUsers => Ok(Reply::json(200, json!({ "data": users.list(&who).await? }))),
        AuthRoute::UpdateUser => {
            let body: UpdateUser = req.json(body_limit().await?)?;
            users
                .update(&who, params.get("id"), body, now_ms())
                .await?
                .map(|u| Reply::json(200, &u))
                .ok_or_else(|| ApiError::not_found("user"))
        }
        AuthRoute::DeleteUser => match users.delete(&who, params.get("id"), now_ms()).await? {
            true => Ok(Reply::empty(204)),
            false => Err(ApiError::not_found("user")),
        },
        AuthRoute::Login
        | AuthRoute::Register
        | AuthRoute::Password
        | AuthRoute::Logout
        | AuthRoute::Me => Err(ApiError::internal()),
    }
}
