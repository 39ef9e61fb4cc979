//! The server side of MagUI's server functions (compiled only with `ssr`).
//!
//! Guarantees: each server function's work lives in one of these modules and
//! starts with a `guard` check; nothing here trusts the browser for identity,
//! role or input validity.

pub mod alerts;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod console;
pub mod context;
pub mod dashboard;
pub mod event_log;
pub mod events;
pub mod extensions;
pub mod guard;
pub mod health;
pub mod marketplace;
pub mod passwords;
pub mod projects;
pub mod providers;
pub mod roles;
pub mod schema;
pub mod settings;
pub mod throttle;
pub mod tokens;
pub mod trust;
pub mod users;
pub mod widgets;

pub use console::Console;
pub use context::{AppContext, AuthHooks, ClientIp, HookDenial};
pub use guard::respond;
