//! Plain data shared by the browser, the server and the control-plane store.
//!
//! Nothing here does I/O, so the same definitions compile to WebAssembly for the
//! hydrated UI and to native code for the server. Rules that both sides apply
//! (the role order, the password policy) live here once: the browser uses them
//! for instant feedback, the server applies them again as the wall.

pub mod audit;
pub mod password;
pub mod role;
pub mod time;
pub mod user;

pub use audit::{
    ActorKind, AuditEntry, AuditFilter, AuditPage, BrokenLink, ChainReport, NewAuditEntry, Outcome,
};
pub use password::{PasswordProblem, check_password};
pub use role::Role;
pub use user::{NewUser, User, normalize_email};

/// Milliseconds since the Unix epoch, the one timestamp representation used
/// across the store and the UI (sortable, engine-neutral, timezone-free).
pub type Millis = i64;
