//! The running kernel as MagUI's server functions reach it: the lifecycle
//! manager (catalog, approvals, installs, upgrades, grants), the kernel's
//! hook dispatch, bus and sandbox statistics, and MagDS's project databases.
//!
//! Guarantees: the server attaches one [`Console`] at start; a server
//! function that needs it and runs without it (a test server with no kernel)
//! gets a clear `Unavailable`-style error, never a panic. Lifecycle errors
//! become [`AppError`]s here and nowhere else ([`lifecycle_error`]).

use super::guard::ctx;
use crate::AppError;
use magflock_lifecycle::{Lifecycle, LifecycleError};
use magflock_magds::MagDs;
use magflock_maggate::GateKernel;
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
