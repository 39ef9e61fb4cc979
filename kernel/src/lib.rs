//! The MagFlock extension kernel.
//!
//! Guarantees: the capability catalog, the hook map and the WIT contract of
//! the specification are data here, in one place ([`capability`], [`hooks`],
//! [`contract`]); a manifest is either fully valid or refused with every
//! problem named by field, line and column ([`manifest`]); every capability is
//! checked against the live grant at every call ([`policy`]); hooks run in a
//! defined order under their failure policy ([`dispatch`]); everything is
//! audited ([`audit`]); events are delivered at least once, in order within a
//! component, only to subscribers holding the capabilities they require
//! ([`bus`]). The kernel depends on no web, UI or database crate:
//! storage and components reach it through traits ([`policy_store`],
//! [`adapter`], [`audit::AuditSink`], [`bus::EventLog`]).

pub mod adapter;
pub mod audit;
pub mod bus;
pub mod capability;
pub mod contract;
pub mod dispatch;
mod error;
pub mod event;
pub mod hooks;
pub mod kv;
pub mod lifecycle_store;
pub mod manifest;
pub mod policy;
pub mod policy_store;
pub mod registry;

pub use bus::{Bus, BusError, EventLog};
pub use capability::{Capability, Risk};
pub use error::KernelError;
pub use event::{Event, Pattern};
pub use hooks::{Component, HookKind, HookSpec};
pub use manifest::{Budgets, Edition, Manifest, ManifestError, ManifestErrors};
pub use policy::{Denial, Grant, PolicyGate, Status};
pub use registry::{Registry, RegistryError};
pub use semver;
