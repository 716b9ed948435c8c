//! The JSON request parsers: every request type decoded through
//! `lode_api::parse_json` (size, media type, syntax, shape) must answer
//! with an error status, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lode_api::{ApiError, BodyLimit, parse_json};

fn check<T: serde::de::DeserializeOwned>(data: &[u8]) {
    let limit = BodyLimit::parse("65536").unwrap();
    if let Err(ApiError { code, .. }) = parse_json::<T>(Some("application/json"), data, limit) {
        assert!(matches!(code.status(), 400 | 413 | 415 | 422), "{code:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    check::<lode_index::SearchRequest>(data);
    check::<lode_store::TenantSettings>(data);
    check::<lode_auth::CreateKey>(data);
    check::<lode_auth::users::Register>(data);
    check::<lode_auth::users::Login>(data);
    check::<lode_auth::users::ChangePassword>(data);
    check::<lode_auth::users::UpdateUser>(data);
    check::<lode_jobs::JobRequest>(data);
    check::<lode_jobs::ToolRequest>(data);
    check::<serde_json::Value>(data);
});
