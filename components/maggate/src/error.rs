//! The gateway's one error type, [`GateError`], and the one place it becomes an
//! HTTP response ([`GateError::status`] and its `IntoResponse`).
//!
//! Guarantees: every error answers with a JSON body
//! `{"error": <code>, "message": <text>, ...}`; a 429 carries `Retry-After`
//! (whole seconds, at least 1); a 401 carries `WWW-Authenticate: Bearer`;
//! no message ever contains an API key (keys are named by their prefix only).
//! The response carries its [`ErrorCode`] as an extension so the observer can
//! name it in `api.error.occurred`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use magflock_magds::MagDsError;
use magflock_sandbox::{SandboxError, Stop};
use magflock_store::StoreError;
use serde_json::json;

/// The machine-readable code of an error response (a response extension).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("an API key is required: send `Authorization: Bearer mf_...`")]
    MissingKey,
    #[error("the Authorization header must be `Bearer mf_...`")]
    MalformedKey,
    #[error("unknown API key")]
    UnknownKey,
    #[error("API key {prefix}… was revoked")]
    RevokedKey { prefix: String },
    #[error("API key {prefix}… has expired; make a new one")]
    ExpiredKey { prefix: String },
    #[error("rate limit exceeded{}; retry in {retry_after_s} s", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    RateLimited {
        retry_after_s: u64,
        reason: Option<String>,
    },
    #[error("denied by extension '{extension}': {reason}")]
    Denied { extension: String, reason: String },
    /// The caller is known but its role or key does not allow the route.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// The operation exists, but not on the engine MagDS runs on.
    #[error("{0}")]
    NotOnThisEngine(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    BadRequest(String),
    /// One field of the request is wrong (the body names it as `field`).
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("extension '{extension}' did not answer in time")]
    Timeout { extension: String },
    #[error("{0}")]
    BadGateway(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl GateError {
    /// The HTTP status of each error: the one mapping of the crate.
    pub fn status(&self) -> StatusCode {
        match self {
            GateError::MissingKey
            | GateError::MalformedKey
            | GateError::UnknownKey
            | GateError::RevokedKey { .. }
            | GateError::ExpiredKey { .. } => StatusCode::UNAUTHORIZED,
            GateError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            GateError::Denied { .. } | GateError::Forbidden(_) => StatusCode::FORBIDDEN,
            GateError::Conflict(_) => StatusCode::CONFLICT,
            GateError::NotOnThisEngine(_) => StatusCode::NOT_IMPLEMENTED,
            GateError::NotFound(_) => StatusCode::NOT_FOUND,
            GateError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GateError::BadRequest(_) | GateError::Invalid { .. } => StatusCode::BAD_REQUEST,
            GateError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            GateError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            GateError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            GateError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            GateError::MissingKey => "missing_api_key",
            GateError::MalformedKey => "malformed_api_key",
            GateError::UnknownKey => "unknown_api_key",
            GateError::RevokedKey { .. } => "revoked_api_key",
            GateError::ExpiredKey { .. } => "expired_api_key",
            GateError::RateLimited { .. } => "rate_limited",
            GateError::Denied { .. } => "denied",
            GateError::Forbidden(_) => "forbidden",
            GateError::Conflict(_) => "conflict",
            GateError::NotOnThisEngine(_) => "not_on_this_engine",
            GateError::NotFound(_) => "not_found",
            GateError::PayloadTooLarge { .. } => "payload_too_large",
            GateError::BadRequest(_) | GateError::Invalid { .. } => "bad_request",
            GateError::Timeout { .. } => "timeout",
            GateError::BadGateway(_) => "bad_gateway",
            GateError::Unavailable(_) => "unavailable",
            GateError::Internal(_) => "internal",
        }
    }

    fn body(&self) -> serde_json::Value {
        let mut body = json!({"error": self.code(), "message": self.to_string()});
        match self {
            GateError::Denied { extension, reason } => {
                body["extension"] = json!(extension);
                body["reason"] = json!(reason);
            }
            GateError::RateLimited { retry_after_s, .. } => {
                body["retry_after_s"] = json!(retry_after_s);
            }
            GateError::Invalid { field, .. } => {
                body["field"] = json!(field);
            }
            _ => {}
        }
        body
    }
}

impl IntoResponse for GateError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(code = self.code(), "{self}");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            GateError::RateLimited { retry_after_s, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
            }
            GateError::MissingKey
            | GateError::MalformedKey
            | GateError::UnknownKey
            | GateError::RevokedKey { .. }
            | GateError::ExpiredKey { .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response.extensions_mut().insert(ErrorCode(self.code()));
        response
    }
}

impl From<StoreError> for GateError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => GateError::Unavailable(m),
            other => GateError::Internal(other.to_string()),
        }
    }
}

impl From<magflock_kernel::KernelError> for GateError {
    fn from(e: magflock_kernel::KernelError) -> Self {
        match e {
            magflock_kernel::KernelError::Unavailable(m) => GateError::Unavailable(m),
            other => GateError::Internal(other.to_string()),
        }
    }
}

impl From<SandboxError> for GateError {
    fn from(e: SandboxError) -> Self {
        match e {
            SandboxError::Stopped {
                extension,
                stop: Stop::Deadline { .. },
            } => GateError::Timeout { extension },
            SandboxError::NotRunnable { .. } | SandboxError::NotLoaded(_) => {
                GateError::NotFound(e.to_string())
            }
            SandboxError::Capacity { .. } => GateError::Unavailable(e.to_string()),
            SandboxError::Stopped { .. } | SandboxError::Guest { .. } => {
                GateError::BadGateway(e.to_string())
            }
            SandboxError::Component(_) | SandboxError::Internal(_) => {
                GateError::Internal(e.to_string())
            }
        }
    }
}

impl From<MagDsError> for GateError {
    fn from(e: MagDsError) -> Self {
        match e {
            MagDsError::InvalidName { .. }
            | MagDsError::Invalid { .. }
            | MagDsError::UnknownExtension { .. }
            | MagDsError::MigrationApplied { .. }
            | MagDsError::Refused(_) => GateError::BadRequest(e.to_string()),
            MagDsError::ProjectExists(_) => GateError::Conflict(e.to_string()),
            MagDsError::UnknownProject(_) | MagDsError::UnknownBackup { .. } => {
                GateError::NotFound(e.to_string())
            }
            MagDsError::NotOnThisEngine(_) => GateError::NotOnThisEngine(e.to_string()),
            MagDsError::Denied {
                extension, reason, ..
            } => GateError::Denied { extension, reason },
            other if other.is_unavailable() => GateError::Unavailable(other.to_string()),
            other => GateError::Internal(other.to_string()),
        }
    }
}
