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
//!
//! MagUI's own live views ride on MagWS too ([`spawn_console_feed`]): a
//! health frame every 2 s on the system channel `health` and each new alert
//! on `alerts` (project `_magflock`, readable by MagUI sessions only).

use axum::Router;
use magflock_app::api::health::{ALERTS_CHANNEL, FEED_EVERY_MS, HEALTH_CHANNEL};
use magflock_app::server::Console;
use magflock_app::server::health::{ManifestCache, alert_info, frame};
use magflock_kernel::Bus;
use magflock_kernel::lifecycle_store::LifecycleStore;
use magflock_magws::{MagWs, MagWsAdapter, WsConfig, WsError};
use magflock_store::SqlStore;
use std::sync::Arc;
use std::time::Duration;

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

/// Publishes MagUI's live views until MagWS shuts down: every
/// [`FEED_EVERY_MS`] a health frame (figures since the previous frame) on
/// [`HEALTH_CHANNEL`], and each alert raised since the last round on
/// [`ALERTS_CHANNEL`], oldest first. A failed round is logged and the next
/// one tries again; nothing here runs extension code.
pub fn spawn_console_feed(
    magws: MagWs,
    console: Console,
    alerts: Arc<dyn LifecycleStore>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(FEED_EVERY_MS));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut previous = None;
        let mut manifests = ManifestCache::new();
        let mut last_alert = match alerts.alerts(true).await {
            Ok(all) => all.iter().map(|a| a.id).max().unwrap_or(0),
            Err(e) => {
                tracing::warn!("live alerts: {e}");
                0
            }
        };
        loop {
            every.tick().await;
            let since = previous.as_ref().map(|(stats, at)| (stats, *at));
            match frame(&console, since, &mut manifests).await {
                Ok((health, stats)) => {
                    let at = health.at;
                    let data = serde_json::to_value(&health).unwrap_or_default();
                    if let Err(WsError::ShuttingDown) = magws.publish_system(HEALTH_CHANNEL, data) {
                        return;
                    }
                    previous = Some((stats, at));
                }
                Err(e) => tracing::warn!("live health frame: {e}"),
            }
            match alerts.alerts(false).await {
                Ok(open) => {
                    let seen = last_alert;
                    for alert in open.into_iter().rev().filter(|a| a.id > seen) {
                        last_alert = alert.id;
                        let data = serde_json::to_value(alert_info(alert)).unwrap_or_default();
                        if let Err(WsError::ShuttingDown) =
                            magws.publish_system(ALERTS_CHANNEL, data)
                        {
                            return;
                        }
                    }
                }
                Err(e) => tracing::warn!("live alerts: {e}"),
            }
        }
    })
}
