//! The MagFlock extension kernel.
//!
//! Guarantees (so far): the capability catalog and the hook map of the
//! specification are data here, in one place ([`capability`], [`hooks`]); a
//! manifest is either fully valid or refused with every problem named by field,
//! line and column ([`manifest`]). The kernel depends on no web, UI or database
//! crate: storage and components reach it through traits.

pub mod capability;
pub mod event;
pub mod hooks;
pub mod manifest;
pub mod registry;

pub use capability::{Capability, Risk};
pub use event::{Event, Pattern};
pub use hooks::{Component, HookKind, HookSpec};
pub use manifest::{Budgets, Manifest, ManifestError, ManifestErrors};
pub use registry::{Registry, RegistryError};
