//! MagDS = project databases: the databases a MagFlock project owns, and what
//! extensions may do in them.
//!
//! For now one module, [`classify`]: it parses the SQL an extension sends and
//! decides which database capability the statement needs (`database.read`,
//! `database.write`, `database.schema`, `database.admin`), refusing what must
//! never run from an extension. More modules (connections, execution, audit)
//! will come.

pub mod classify;

pub use classify::{Class, Classified, Dialect, Refusal, allowed, classify};
