//! MagWS (realtime channels) wired for the server: made before the sandbox
//! (its adapter is one of the sandbox's services), connected to MagGate
//! once the kernel is up, mounted under `/realtime` (`GET /realtime/ws`).
//!
//! Guarantees: MagWS authenticates with MagGate's project API keys and with
//! MagUI sessions under MagUI's own rules (through the gateway's attached
//! [`crate::components::GatewaySessions`]); a session counts only from this
//! server's own origin or `MAGFLOCK_PUBLIC_URL`. An extension's `realtime.*`
//! host calls reach MagWS only through its adapter, broadcasting in the
//! project its configuration names (`project`). When the kernel host stops,
//! its tasks are aborted and every WebSocket is closed with 1001.

use axum::Router;
use magflock_kernel::Bus;
use magflock_magws::{MagWs, MagWsAdapter, WsConfig};
use magflock_store::SqlStore;
use std::sync::Arc;

use crate::Config;
use crate::kernel_host::KernelHost;

/// MagWS with the platform's settings (call on the server's runtime).
pub fn open_magws(config: &Config, bus: Arc<Bus>) -> MagWs {
    MagWs::new(
        bus,
        WsConfig {
            public_origin: config.public_origin.clone(),
            ..WsConfig::default()
        },
    )
}

/// The adapter the sandbox hands `realtime.*` calls to; an extension's
/// project is its installation's configured `project`.
pub fn magws_adapter(magws: MagWs, store: Arc<SqlStore>) -> MagWsAdapter {
    MagWsAdapter::new(magws, crate::components::project_binding(store))
}

/// The routes to nest under `/realtime`.
pub fn router(kernel: &KernelHost) -> Router {
    kernel.magws.router()
}
