//! The control-plane store: MagFlock's own state (users, roles, sessions,
//! settings, the audit log and the event log) on SQLite (embedded, the default) or PostgreSQL.
//!
//! Guarantees:
//! * One trait, [`Store`], is all the rest of MagFlock sees; [`SqlStore`] implements it
//!   for both engines, and the same behaviour tests run against each.
//! * Migrations are append-only and run at connect; an edited, already applied
//!   migration stops the start with an error naming it.
//! * The audit log is append-only (the database refuses UPDATE and DELETE) and
//!   hash-chained; [`Store::audit_verify`] reports the first broken link.
//! * The event bus's durable log ([`SqlEventLog`], the kernel's `EventLog`) lives
//!   in the same database, with gap-free global and per-component sequence
//!   numbers under concurrent publishers.
//! * The lifecycle manager's state (the kernel's `LifecycleStore`) lives in the
//!   same database; each extension's own migrations run in an area of its own
//!   ([`ExtensionAreas`]: a schema and a role on PostgreSQL, a file on SQLite),
//!   never among the control-plane tables.
//! * Connection problems surface as [`StoreError::Unavailable`] so callers can tell
//!   "the database is down" from "the request was wrong"; the pool recovers by
//!   itself when the database comes back.

mod api_keys;
mod audit;
mod audit_writer;
mod chain;
mod connect;
mod error;
mod event_log;
mod extension_kv;
mod extension_schemas;
mod lifecycle;
mod policies;
mod preferences;
mod sessions;
mod settings;
mod sql_store;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod trusted_keys;
mod users;

pub use api_keys::ApiKeyRow;
pub use audit_writer::AuditWriter;
pub use chain::GENESIS_HASH;
pub use connect::{Engine, redact_url};
pub use error::StoreError;
pub use event_log::{INSERT_CHUNK, SWEEP_CHUNK, SqlEventLog};
pub use extension_schemas::ExtensionAreas;
pub use sql_store::SqlStore;
pub use store::{SessionRow, Store};
pub use trusted_keys::TrustedKeyRow;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
