//! The tenant settings API: `GET /api/settings` (any role) and
//! `PUT /api/settings` (admin role): the defaults that the tenant's
//! ingestion requests start from, its rate limits and its quotas, none
//! above the operator's ceiling (`tenant_ceiling`).

use lode_api::ApiError;
use lode_common::routes::SettingsRoute;
use lode_common::{ApiCall, Reply, api_call, body_limit};
use lode_store::audit::Action;
use lode_store::ids::now_ms;
use lode_store::{Audit, Settings, TenantSettings};
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    lode_common::handle(env!("CARGO_PKG_NAME"), req, serve).await
}

async fn serve(req: Request) -> Result<Reply, ApiError> {
    let ApiCall {
        req,
        sql,
        who,
        handler,
        ..
    } = api_call(req).await?;
    let settings = Settings::new(&sql, &who.tenant);
    match handler {
        SettingsRoute::Get => Ok(Reply::json(200, settings.get().await?)),
        SettingsRoute::Put => {
            let new = req.json::<TenantSettings>(body_limit().await?)?;
            let stored = settings.put(new, &lode_common::ceiling().await?).await?;
            let detail = serde_json::to_value(&stored.settings).unwrap_or_default();
            Audit::new(&sql, &who.tenant)
                .record(
                    &who.actor(),
                    Action::SettingsChanged,
                    who.tenant.as_str(),
                    detail,
                    now_ms(),
                )
                .await?;
            Ok(Reply::json(200, stored))
        }
    }
}
