//! The lifecycle manager's one error type; each message names the extension,
//! the version, the step or the capability concerned. The server maps it to
//! HTTP status in one place.

use magflock_kernel::KernelError;
use magflock_package::PackageError;
use magflock_sandbox::SandboxError;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The package was refused (signature, format, compatibility, manifest).
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("extension '{0}' is not installed")]
    NotInstalled(String),
    /// The operation does not fit the extension's state, e.g. uninstalling an
    /// enabled extension.
    #[error("{0}")]
    State(String),
    /// A decision or request the queue cannot accept.
    #[error("{0}")]
    Approval(String),
    #[error("capability request '{0}' does not exist")]
    UnknownRequest(String),
    /// A step of the lifecycle failed; everything it did was undone.
    #[error("{operation} of {extension} failed at {step}: {reason}")]
    Failed {
        operation: String,
        extension: String,
        step: String,
        reason: String,
    },
    #[error("{path}: {problem}")]
    Io { path: String, problem: String },
    #[error("catalog: {0}")]
    Catalog(String),
}

impl LifecycleError {
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> LifecycleError {
        LifecycleError::Io {
            path: path.display().to_string(),
            problem: error.to_string(),
        }
    }
}
