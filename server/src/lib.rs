//! The `magflock` server: configuration, start-up, HTTP wiring and the admin
//! command line. This crate is the only place that knows every concrete type.
//!
//! Guarantees: a bad setting stops the start with one message naming the
//! setting ([`error::StartError`]); every request passes the client-address,
//! cross-origin and session layers before any handler; the server shuts down
//! gracefully on Ctrl-C / SIGTERM.

pub mod audit_export;
pub mod cli;
pub mod cli_kernel;
pub mod components;
pub mod config;
pub mod error;
pub mod http_layers;
pub mod kernel_host;
pub mod magauth;
pub mod oidc;
pub mod realtime;
pub mod serve;
pub mod sessions;
pub mod trust;

pub use config::Config;
pub use error::StartError;
pub use serve::{Running, start};
