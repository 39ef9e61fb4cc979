//! The lifecycle manager: how extensions arrive, start, are watched, are
//! upgraded and leave (seed section 5, every step).
//!
//! Guarantees:
//! * Nothing runs without a person's decision: an install or an upgrade that
//!   asks for a capability not granted today waits in the approvals queue
//!   ([`approvals`]); the admin may grant a subset, never more than requested.
//! * Every operation is journaled step by step before each step's effects
//!   ([`journal`]); after a crash at any step, [`Lifecycle::recover`] finishes
//!   or rolls back the operation, so each extension is in exactly one version
//!   and one state.
//! * A failed install, upgrade or enable leaves the system as it was: an
//!   install is undone (its migrations, files, grants and registry entry) and
//!   only its audit entry remains; an upgrade falls back to the version that
//!   kept serving all along; an enable leaves the extension disabled and
//!   raises an alert.
//! * An upgrade switches traffic in one step ([`magflock_sandbox::Sandbox::activate`]):
//!   calls in flight finish on the old version, new calls reach the new one.
//! * Every transition is audited and publishes its `extension.*` event.

pub mod approvals;
pub mod catalogs;
mod enable;
mod error;
mod files;
mod install;
pub mod journal;
mod manager;
pub mod monitor;
mod notify;
pub mod recovery;
mod uninstall;
mod upgrade;

pub use approvals::Offered;
pub use approvals::{Decision, Plan, PlanCapability, PlanItem};
pub use catalogs::{CatalogView, Listing, Source};
pub use error::LifecycleError;
pub use files::PackageFiles;
pub use manager::{
    Boot, ExtensionState, ExtensionView, Lifecycle, LifecycleConfig, Parts, TrustSource,
};
pub use monitor::{HealthCheck, MonitorReport, Thresholds};
pub use recovery::Recovered;
pub use upgrade::UpgradeSubmitted;
