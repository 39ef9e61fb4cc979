//! The kernel's error type: every fallible kernel operation returns
//! [`KernelError`], whose message names the extension, capability, hook or
//! field concerned. Callers map it to HTTP status in one place (the server).

use crate::Capability;
use crate::event::EventError;
use crate::registry::RegistryError;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("extension '{0}' is not installed")]
    UnknownExtension(String),
    #[error("cannot grant '{capability}' to '{extension}': {reason}")]
    GrantRefused {
        extension: String,
        capability: Capability,
        reason: String,
    },
    #[error("unknown hook '{0}'")]
    UnknownHook(String),
    #[error("hook '{hook}' payload is not valid JSON: {problem}")]
    BadPayload { hook: String, problem: String },
    /// The durable store behind the kernel (grants, events, audit) failed.
    #[error("kernel storage: {0}")]
    Storage(String),
    /// The storage cannot be reached right now; the operation changed nothing.
    #[error("kernel storage unavailable: {0}")]
    Unavailable(String),
}
