//! MagDS = project databases: the databases a MagFlock project owns, and what
//! extensions may do in them.
//!
//! * [`classify`] parses the SQL an extension sends and decides which database
//!   capability the statement needs (`database.read`, `database.write`,
//!   `database.schema`, `database.admin`), refusing what must never run from an
//!   extension.
//! * [`projects`] is the component proper: [`MagDs`] creates, lists and drops
//!   project databases on PostgreSQL (`MAGDS_URL`) or embedded SQLite
//!   ([`engine`]), applies migrations, creates row-level-security policies, backs
//!   up, restores, checkpoints, reports health and describes a database's
//!   schema (`engine::describe`), firing the MagDS hooks
//!   ([`hooks`]) and publishing its events ([`events`]). Every failure is a
//!   [`MagDsError`] ([`error`]); identifiers are validated by [`ident`].

pub mod adapter;
pub mod classify;
pub mod engine;
pub mod error;
pub mod events;
pub mod hooks;
pub mod ident;
pub mod projects;
pub mod query;
mod sqlite_connections;

pub use adapter::{LiveGrant, MagDsAdapter, ProjectBinding};
pub use classify::{Class, Classified, Dialect, Refusal, allowed, classify};
pub use engine::describe::{
    ColumnInfo, DatabaseSchema, IndexInfo, PolicyInfo, RelationKind, RowSecurity, TableInfo,
};
pub use engine::{EngineKind, Health, Migration, Project};
pub use error::MagDsError;
pub use events::{BusEvents, EmitterEvents, EventSink, NoEvents};
pub use hooks::{Denied, HookSink, KernelHooks, NoHooks};
pub use projects::{
    BackupInfo, EXTENSION_ALLOWLIST, EngineConfig, MagDs, MagDsConfig, PolicyCommand, RlsPolicy,
};
