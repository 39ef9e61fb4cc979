//! MagWS's one error type, [`WsError`], and the one place it becomes an HTTP
//! status (before the upgrade), a WebSocket close code (fatal errors after
//! it) or an `error` frame (everything else).
//!
//! Guarantees: every error has a stable machine-readable [`WsError::code`];
//! [`WsError::is_fatal`] decides whether the connection ends; a close reason
//! fits the 123 bytes a close frame allows; no message ever contains an API
//! key (keys are named by their prefix only, as MagGate does).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use magflock_maggate::GateError;
use serde_json::{Value, json};

/// Close codes of the protocol (RFC 6455 ones and the 4000 range).
pub mod close {
    /// Normal closure (the client said goodbye).
    pub const NORMAL: u16 = 1000;
    /// The server is going away (shutdown).
    pub const GOING_AWAY: u16 = 1001;
    /// The connection dropped without a close frame (reported, never sent).
    pub const ABNORMAL: u16 = 1006;
    /// A message over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// A server fault.
    pub const INTERNAL: u16 = 1011;
    /// Not (or no longer) authenticated.
    pub const UNAUTHORIZED: u16 = 4001;
    /// Authenticated, but not allowed.
    pub const FORBIDDEN: u16 = 4003;
    /// The client did not read fast enough: its send queue filled up.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// Too many protocol errors or messages (see the reason).
    pub const POLICY: u16 = 1008;
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    /// No key, no session and no `auth` message in time.
    #[error(
        "authentication required: send `Authorization: Bearer mf_...`, or `{{\"op\":\"auth\",\"key\":\"mf_...\"}}` first, within {timeout_s} s"
    )]
    AuthRequired { timeout_s: u64 },
    /// The key (or the session) was refused; the text says why.
    #[error("{0}")]
    Unauthorized(String),
    /// A signed-in MagUI session from a page of another site.
    #[error("cross-site WebSocket refused: the Origin must be this server's own")]
    CrossSite,
    /// An API key (or a secret-looking value) in the URL.
    #[error(
        "never put API keys in URLs: send them in the Authorization header or the auth message"
    )]
    KeyInUrl,
    #[error("{0}")]
    Forbidden(String),
    #[error("denied by extension '{extension}': {reason}")]
    Denied { extension: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// Too many failed authentications from this address.
    #[error("too many failed authentications from this address; retry in {retry_after_s} s")]
    AuthThrottled { retry_after_s: u64 },
    #[error("rate limit exceeded: at most {per_second} messages per second per connection")]
    RateLimited { per_second: u32 },
    #[error("the message is over the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("at most {limit} subscriptions per connection")]
    TooManySubscriptions { limit: usize },
    #[error("slow consumer: the send queue of this connection is full, so it was dropped")]
    SlowConsumer,
    /// A resume (`since`) reaches past what the channel still keeps.
    #[error("{0}")]
    ReplayGap(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("{0}")]
    Internal(String),
}

impl WsError {
    pub fn code(&self) -> &'static str {
        match self {
            WsError::AuthRequired { .. } => "auth_required",
            WsError::Unauthorized(_) => "unauthorized",
            WsError::CrossSite => "cross_site",
            WsError::KeyInUrl => "key_in_url",
            WsError::Forbidden(_) => "forbidden",
            WsError::Denied { .. } => "denied",
            WsError::NotFound(_) => "not_found",
            WsError::BadRequest(_) => "bad_request",
            WsError::AuthThrottled { .. } => "too_many_failures",
            WsError::RateLimited { .. } => "rate_limited",
            WsError::TooLarge { .. } => "message_too_large",
            WsError::TooManySubscriptions { .. } => "too_many_subscriptions",
            WsError::SlowConsumer => "slow_consumer",
            WsError::ReplayGap(_) => "replay_gap",
            WsError::Unavailable(_) => "unavailable",
            WsError::ShuttingDown => "shutting_down",
            WsError::Internal(_) => "internal",
        }
    }

    /// The HTTP status, when the error answers the upgrade request itself.
    pub fn status(&self) -> StatusCode {
        match self {
            WsError::AuthRequired { .. } | WsError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WsError::CrossSite | WsError::Forbidden(_) | WsError::Denied { .. } => {
                StatusCode::FORBIDDEN
            }
            WsError::KeyInUrl | WsError::BadRequest(_) | WsError::ReplayGap(_) => {
                StatusCode::BAD_REQUEST
            }
            WsError::NotFound(_) => StatusCode::NOT_FOUND,
            WsError::AuthThrottled { .. }
            | WsError::RateLimited { .. }
            | WsError::TooManySubscriptions { .. } => StatusCode::TOO_MANY_REQUESTS,
            WsError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WsError::SlowConsumer | WsError::Unavailable(_) | WsError::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            WsError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the error ends the connection (with [`WsError::close_code`]);
    /// otherwise the client gets an `error` frame and carries on.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            WsError::AuthRequired { .. }
                | WsError::Unauthorized(_)
                | WsError::CrossSite
                | WsError::KeyInUrl
                | WsError::AuthThrottled { .. }
                | WsError::TooLarge { .. }
                | WsError::SlowConsumer
                | WsError::ShuttingDown
                | WsError::Internal(_)
        )
    }

    /// The close code of a fatal error.
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::AuthRequired { .. } | WsError::Unauthorized(_) | WsError::KeyInUrl => {
                close::UNAUTHORIZED
            }
            WsError::CrossSite | WsError::Forbidden(_) | WsError::Denied { .. } => close::FORBIDDEN,
            WsError::TooLarge { .. } => close::TOO_BIG,
            WsError::SlowConsumer => close::SLOW_CONSUMER,
            WsError::ShuttingDown => close::GOING_AWAY,
            WsError::Internal(_) | WsError::Unavailable(_) => close::INTERNAL,
            WsError::NotFound(_)
            | WsError::BadRequest(_)
            | WsError::AuthThrottled { .. }
            | WsError::RateLimited { .. }
            | WsError::TooManySubscriptions { .. }
            | WsError::ReplayGap(_) => close::POLICY,
        }
    }

    /// The close frame's reason: the message, cut to 123 bytes on a
    /// character boundary.
    pub fn close_reason(&self) -> String {
        let mut reason = self.to_string();
        if reason.len() > 123 {
            let mut end = 120;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            reason.push('…');
        }
        reason
    }

    /// The `error` frame: `{"type":"error","code":…,"message":…}` plus, for a
    /// denial, the extension and its reason, and the channel if known.
    pub fn frame(&self, channel: Option<&str>) -> Value {
        let mut frame = json!({"type": "error", "code": self.code(), "message": self.to_string()});
        if let WsError::Denied { extension, reason } = self {
            frame["extension"] = json!(extension);
            frame["reason"] = json!(reason);
        }
        if let Some(channel) = channel {
            frame["channel"] = json!(channel);
        }
        frame
    }
}

impl IntoResponse for WsError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(code = self.code(), "{self}");
        }
        let body = json!({"error": self.code(), "message": self.to_string()});
        let mut response = (self.status(), Json(body)).into_response();
        if self.status() == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let WsError::AuthThrottled { retry_after_s } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        }
        response
    }
}

impl From<GateError> for WsError {
    fn from(e: GateError) -> Self {
        match e {
            GateError::MissingKey
            | GateError::MalformedKey
            | GateError::UnknownKey
            | GateError::RevokedKey { .. } => WsError::Unauthorized(e.to_string()),
            GateError::Forbidden(m) => WsError::Forbidden(m),
            GateError::NotFound(m) => WsError::NotFound(m),
            GateError::Unavailable(m) => WsError::Unavailable(m),
            other => WsError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatal_errors_close_and_others_answer() {
        assert!(WsError::SlowConsumer.is_fatal());
        assert_eq!(WsError::SlowConsumer.close_code(), close::SLOW_CONSUMER);
        assert_eq!(WsError::TooLarge { limit: 1 }.close_code(), close::TOO_BIG);
        assert!(!WsError::RateLimited { per_second: 1 }.is_fatal());
        assert_eq!(
            WsError::Unauthorized("x".into()).status(),
            StatusCode::UNAUTHORIZED
        );
        let denied = WsError::Denied {
            extension: "a/b".into(),
            reason: "no".into(),
        };
        let frame = denied.frame(Some("ext/a/b/c"));
        assert_eq!(frame["code"], "denied");
        assert_eq!(frame["reason"], "no");
        assert_eq!(frame["channel"], "ext/a/b/c");
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        let long = WsError::Forbidden("é".repeat(200));
        assert!(long.close_reason().len() <= 123);
        assert_eq!(
            WsError::SlowConsumer.close_reason(),
            WsError::SlowConsumer.to_string()
        );
    }
}
