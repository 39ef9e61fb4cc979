//! The server side of MagUI's server functions (compiled only with `ssr`).
//!
//! Guarantees: each server function's work lives in one of these modules and
//! starts with a `guard` check; nothing here trusts the browser for identity,
//! role or input validity.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod context;
pub mod dashboard;
pub mod events;
pub mod guard;
pub mod passwords;
pub mod providers;
pub mod roles;
pub mod settings;
pub mod throttle;
pub mod trust;
pub mod users;

pub use context::{AppContext, AuthHooks, ClientIp, HookDenial};
pub use guard::respond;
