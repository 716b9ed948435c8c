//! The one error type every endpoint answers with: `{"error":{"code","message"}}`.

use serde_json::json;

/// Machine-readable error codes; each maps to exactly one HTTP status so a
/// client can switch on the code without also reading the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 400: the body or a parameter could not be parsed at all.
    BadRequest,
    /// 401: no credentials, or credentials that match no key.
    Unauthorized,
    /// 403: valid credentials without the right to do this.
    Forbidden,
    /// 404: no such resource for this tenant (also used to hide other tenants' ids).
    NotFound,
    /// 405: the path exists but not with this method.
    MethodNotAllowed,
    /// 409: the request conflicts with the current state.
    Conflict,
    /// 413: the body is larger than the configured limit.
    PayloadTooLarge,
    /// 429: the caller's rate limit is used up; `Retry-After` says when to come back.
    TooManyRequests,
    /// 429: a tenant quota (documents, bytes, chunks, queued jobs, the day's
    /// LLM spend) is used up; `Retry-After` only when time restores it.
    QuotaExceeded,
    /// 415: the body's media type is not one this endpoint accepts.
    UnsupportedMediaType,
    /// 422: well-formed input with invalid or missing fields.
    Unprocessable,
    /// 422: an encrypted document that the given password (or none) does not open.
    Encrypted,
    /// 422: a document whose bytes cannot be read as its media type.
    Unreadable,
    /// 500: something failed inside Lode; the message never carries internals.
    Internal,
    /// 501: the feature is planned but not built yet.
    NotImplemented,
    /// 502: a server Lode fetched from (a document URL) failed or could not
    /// be reached; worth retrying later.
    BadGateway,
    /// 503: a dependency (store, model…) is unavailable.
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status this code is always sent with.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::TooManyRequests | Self::QuotaExceeded => 429,
            Self::Unprocessable | Self::Encrypted | Self::Unreadable => 422,
            Self::Internal => 500,
            Self::NotImplemented => 501,
            Self::BadGateway => 502,
            Self::Unavailable => 503,
        }
    }

    /// The stable string clients see in `error.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyRequests => "rate_limited",
            Self::QuotaExceeded => "quota_exceeded",
            Self::Unprocessable => "invalid_request",
            Self::Encrypted => "encrypted",
            Self::Unreadable => "unreadable_document",
            Self::Internal => "internal",
            Self::NotImplemented => "not_implemented",
            Self::BadGateway => "bad_gateway",
            Self::Unavailable => "unavailable",
        }
    }
}

/// An error that is safe to show to the caller.
///
/// Internal failures are built with [`ApiError::internal`], which logs the cause
/// (by returning it separately) but shows the client only a generic message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ApiError {
    /// What kind of failure this is; decides the status.
    pub code: ErrorCode,
    /// A human-readable explanation for the caller.
    pub message: String,
    /// Response headers that go with it (`Retry-After` on a 429).
    pub headers: Vec<(String, String)>,
    /// For the log only, never the response: why an internal error happened.
    pub cause: Option<String>,
    /// The request field at fault, when one is (OpenAI's `param`).
    pub param: Option<String>,
    /// A finer machine code than `code` where clients know one
    /// (`model_not_found`, `context_length_exceeded`): OpenAI's `code`.
    pub subcode: Option<&'static str>,
}

impl ApiError {
    /// An error with an explicit code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            headers: Vec::new(),
            cause: None,
            param: None,
            subcode: None,
        }
    }

    /// 500 whose `cause` is logged with the request id (by `lode-common`)
    /// but never sent.
    pub fn internal_because(cause: impl Into<String>) -> Self {
        let mut e = Self::internal();
        e.cause = Some(cause.into());
        e
    }

    /// The same error, sent with one more response header.
    pub fn with_header(mut self, name: &str, value: String) -> Self {
        self.headers.push((name.to_string(), value));
        self
    }

    /// The same error naming the request field at fault.
    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }

    /// The same error with a finer machine code (see [`ApiError::subcode`]).
    pub fn with_subcode(mut self, subcode: &'static str) -> Self {
        self.subcode = Some(subcode);
        self
    }

    /// 404 for a model name nothing serves (OpenAI's `model_not_found`).
    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            ErrorCode::NotFound,
            format!("the model {model:?} does not exist"),
        )
        .with_param("model")
        .with_subcode("model_not_found")
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// 401 with a message.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// 403 with a message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// 404 naming the kind of thing that was not found.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// 405 listing the methods the path does accept.
    pub fn method_not_allowed(allowed: &[&str]) -> Self {
        Self::new(
            ErrorCode::MethodNotAllowed,
            format!("method not allowed; use {}", allowed.join(", ")),
        )
    }

    /// 409: the request conflicts with what exists (a taken email, say).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// 422 for a field that failed validation.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unprocessable, message)
    }

    /// 500 with a generic message: the cause belongs in the log, not the response.
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// 503 naming what is unavailable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// The HTTP status to send.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The JSON body to send: `{"error":{"code","message"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({"error": {"code": self.code.as_str(), "message": self.message}})
    }

    /// The status and body OpenAI's API would send for this error, for the
    /// OpenAI-compatible `/v1` surface, whose clients switch on them: invalid
    /// input is 400 `invalid_request_error` (not 422), an unknown model 404
    /// `model_not_found`, a bad key 401 `invalid_api_key`, a rate limit 429
    /// `rate_limit_exceeded`, and only Lode's own failures are 5xx
    /// `server_error` (which the official clients retry).
    pub fn to_openai(&self) -> (u16, serde_json::Value) {
        use ErrorCode::*;
        let (status, kind, code) = match self.code {
            BadRequest | Unprocessable | Encrypted | Unreadable => {
                (400, "invalid_request_error", None)
            }
            Unauthorized => (401, "invalid_request_error", Some("invalid_api_key")),
            Forbidden => (403, "invalid_request_error", None),
            TooManyRequests => (429, "requests", Some("rate_limit_exceeded")),
            QuotaExceeded => (429, "insufficient_quota", Some("insufficient_quota")),
            Internal | NotImplemented | BadGateway | Unavailable => {
                (self.status(), "server_error", None)
            }
            NotFound | MethodNotAllowed | Conflict | PayloadTooLarge | UnsupportedMediaType => {
                (self.status(), "invalid_request_error", None)
            }
        };
        let code = self.subcode.or(code);
        (
            status,
            json!({"error": {"message": self.message, "type": kind, "param": self.param, "code": code}}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_and_status() {
        let e = ApiError::not_found("document");
        assert_eq!(e.status(), 404);
        assert_eq!(
            e.to_json(),
            json!({"error":{"code":"not_found","message":"document not found"}})
        );
    }

    #[test]
    fn openai_shape_and_statuses() {
        let (status, body) = ApiError::model_not_found("gpt-9").to_openai();
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"error":{"message":"the model \"gpt-9\" does not exist","type":"invalid_request_error","param":"model","code":"model_not_found"}})
        );
        assert_eq!(ApiError::invalid("x").to_openai().0, 400);
        assert_eq!(
            ApiError::unauthorized("x").to_openai().1["error"]["code"],
            "invalid_api_key"
        );
        let (status, body) = ApiError::new(ErrorCode::TooManyRequests, "slow down").to_openai();
        assert_eq!(
            (status, &body["error"]["code"]),
            (429, &json!("rate_limit_exceeded"))
        );
        assert_eq!(
            ApiError::unavailable("x").to_openai().1["error"]["type"],
            "server_error"
        );
    }

    #[test]
    fn internal_hides_details() {
        let e = ApiError::internal();
        assert_eq!(e.status(), 500);
        assert_eq!(e.message, "internal error");
    }
}
