//! The running kernel as MagUI's server functions reach it: the lifecycle
//! manager (catalog, approvals, installs, upgrades, grants), the kernel's
//! hook dispatch, bus and sandbox statistics, MagDS's project databases, and
//! MagGate's API keys and personal tokens.
//!
//! Guarantees: the server attaches one [`Console`] at start; a server
//! function that needs it and runs without it (a test server with no kernel)
//! gets a clear `Unavailable`-style error, never a panic. [`Console::keys`]
//! is the running gateway's own [`ApiKeys`] (a clone sharing its remembered
//! keys), so a key or token revoked from MagUI is refused by the gateway
//! from the very next request. Lifecycle and gateway errors become
//! [`AppError`]s here and nowhere else ([`lifecycle_error`], [`gate_error`]).

use super::guard::ctx;
use crate::AppError;
use magflock_lifecycle::{Lifecycle, LifecycleError};
use magflock_magds::MagDs;
use magflock_maggate::{ApiKeys, GateError, GateKernel};
use std::sync::Arc;

/// What MagUI drives of the running kernel.
#[derive(Clone)]
pub struct Console {
    /// Installs, upgrades, approvals, grants (journalled and audited there).
    pub lifecycle: Arc<Lifecycle>,
    /// Hook dispatch (MagUI's hooks), the bus, the sandbox's statistics,
    /// the policy gate and the audit writer.
    pub kernel: GateKernel,
    /// Project databases.
    pub magds: Arc<MagDs>,
    /// The gateway's API keys and personal tokens (sharing its cache).
    pub keys: ApiKeys,
}

/// The console of the current request's server.
pub fn console() -> Result<Console, AppError> {
    ctx()?.console.ok_or_else(|| {
        AppError::NotFound(
            "This server runs without the extension kernel, so there is nothing to manage here."
                .into(),
        )
    })
}

/// The one mapping of lifecycle errors to MagUI errors: the lifecycle's own
/// sentences are written for an admin, so they are shown as they are.
pub fn lifecycle_error(err: LifecycleError) -> AppError {
    match err {
        LifecycleError::NotInstalled(_) | LifecycleError::UnknownRequest(_) => {
            AppError::NotFound(capitalised(&err.to_string()))
        }
        LifecycleError::State(_) | LifecycleError::Approval(_) | LifecycleError::Failed { .. } => {
            AppError::Conflict(capitalised(&err.to_string()))
        }
        LifecycleError::Package(_) | LifecycleError::Catalog(_) => {
            AppError::invalid("package", capitalised(&err.to_string()))
        }
        LifecycleError::Kernel(e) => AppError::from(e),
        LifecycleError::Sandbox(e) => AppError::Conflict(capitalised(&e.to_string())),
        LifecycleError::Io { .. } => AppError::internal(err),
    }
}

impl From<LifecycleError> for AppError {
    fn from(err: LifecycleError) -> Self {
        lifecycle_error(err)
    }
}

/// The one mapping of gateway errors to MagUI errors (the gateway's own
/// sentences, capitalised); a refusal of one field stays on that field.
pub fn gate_error(err: GateError) -> AppError {
    match err {
        GateError::Invalid { field, message } => AppError::invalid(field, capitalised(&message)),
        GateError::BadRequest(message) => AppError::invalid("request", capitalised(&message)),
        GateError::NotFound(message) => AppError::NotFound(capitalised(&message)),
        GateError::Forbidden(_) | GateError::Denied { .. } => AppError::Forbidden,
        GateError::Conflict(message) | GateError::NotOnThisEngine(message) => {
            AppError::Conflict(capitalised(&message))
        }
        GateError::Unavailable(detail) => {
            tracing::warn!(%detail, "gateway store unavailable");
            AppError::Unavailable
        }
        other => AppError::internal(other),
    }
}

impl From<GateError> for AppError {
    fn from(err: GateError) -> Self {
        gate_error(err)
    }
}

/// `text` with its first letter upper-cased and a full stop at the end.
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}
