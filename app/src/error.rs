//! MagUI's one error type, what each variant says to a person, and its HTTP status.
//!
//! Guarantees: messages are written for an admin (never debug text); internal
//! failures carry only a reference id that the server log also records; the
//! status of every error is decided in [`AppError::status`] and nowhere else.

use crate::api::codec::JsonText;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// No valid session (never signed in, signed out, or expired).
    #[error("Your session has ended. Please sign in again.")]
    Unauthenticated,
    /// Signed in, but the role does not allow this.
    #[error("Your role does not allow this action.")]
    Forbidden,
    /// A field of the request is wrong; `field` names it for the form.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// Sign-in failed. Deliberately does not say whether the email exists.
    #[error("The email or password is incorrect.")]
    BadCredentials,
    /// Too many failed sign-ins for this account or address.
    #[error("Too many failed sign-in attempts. Try again in {retry_after_secs} seconds.")]
    Throttled { retry_after_secs: u64 },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// First-run setup was already done.
    #[error("This MagFlock instance is already set up. Sign in instead.")]
    AlreadySetUp,
    /// The control-plane database cannot be reached.
    #[error(
        "The control-plane database is unreachable right now. MagFlock will recover by itself when it is back; try again in a moment."
    )]
    Unavailable,
    /// Anything unexpected; the server log has the details under this reference.
    #[error("Something went wrong on the server (reference {0}).")]
    Internal(String),
    /// The request never got a proper answer (network, or a malformed request).
    #[error("The request could not be completed: {0}")]
    Request(String),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> AppError {
        AppError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The HTTP status for this error: the one place it is decided.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthenticated | AppError::BadCredentials => 401,
            AppError::Forbidden => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) | AppError::AlreadySetUp => 409,
            AppError::Invalid { .. } | AppError::Request(_) => 400,
            AppError::Throttled { .. } => 429,
            AppError::Unavailable => 503,
            AppError::Internal(_) => 500,
        }
    }

    /// The form field this error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonText;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => AppError::invalid(
                "request",
                format!("The request was incomplete or malformed: {m}"),
            ),
            ServerFnErrorErr::Request(_) => {
                AppError::Request("the server could not be reached; check your connection".into())
            }
            other => AppError::Request(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<magflock_store::StoreError> for AppError {
    fn from(err: magflock_store::StoreError) -> Self {
        use magflock_store::StoreError as S;
        match err {
            S::Unavailable(detail) => {
                tracing::warn!(%detail, "control-plane database unavailable");
                AppError::Unavailable
            }
            S::NotFound(what) => AppError::NotFound(format!("That {what} does not exist.")),
            S::Conflict(msg) => AppError::Conflict(msg),
            S::AlreadySetUp => AppError::AlreadySetUp,
            S::LastOwner => AppError::Conflict(
                "This is the last active owner; make another user an owner first.".into(),
            ),
            other => AppError::internal(other),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<magflock_kernel::KernelError> for AppError {
    /// The lifecycle manager's store (alerts): an unreachable database is
    /// `Unavailable`, anything else an internal error with a reference.
    fn from(err: magflock_kernel::KernelError) -> Self {
        match err {
            magflock_kernel::KernelError::Unavailable(detail) => {
                tracing::warn!(%detail, "control-plane database unavailable");
                AppError::Unavailable
            }
            other => AppError::internal(other),
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// Sets this error's status (and `Retry-After` when throttled) on the HTTP
    /// response being built for the current request, if there is one.
    pub fn apply_to_response(&self) {
        use leptos::prelude::use_context;
        let Some(options) = use_context::<leptos_axum::ResponseOptions>() else {
            return;
        };
        if let Ok(status) = http::StatusCode::from_u16(self.status()) {
            options.set_status(status);
        }
        if let AppError::Throttled { retry_after_secs } = self {
            options.insert_header(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(*retry_after_secs),
            );
        }
    }

    /// Logs `err` with a fresh reference id and returns an error that shows only the id.
    pub fn internal(err: impl std::fmt::Display) -> AppError {
        let reference = format!("{:08x}", rand::random::<u32>());
        tracing::error!(reference, error = %err, "internal error");
        AppError::Internal(reference)
    }
}
