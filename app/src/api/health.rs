//! Health: each installed extension's calls, fuel (CPU), memory, error rate
//! and latency quantiles, the monitor's last health check, and the
//! auto-disable history (the monitor's and the sandbox's alerts).
//!
//! Live: the server publishes a [`HealthFrame`] every [`FEED_EVERY_MS`] on
//! the MagWS system channel [`HEALTH_CHANNEL`] and each alert the monitor
//! raises on [`ALERTS_CHANNEL`] (project [`LIVE_PROJECT`]), which a signed-in
//! MagUI session subscribes to; the server functions here give the same data
//! on demand (first render, and browsers without WebSockets).

use super::Access;
use super::alerts::AlertInfo;
use crate::AppError;
use leptos::prelude::*;
use magflock_types::{Millis, Role};
use serde::{Deserialize, Serialize};

/// This module's server functions: (path, access).
pub const ENDPOINTS: &[(&str, Access)] = &[
    ("/api/health_snapshot", Access::AtLeast(Role::Auditor)),
    ("/api/health_incidents", Access::AtLeast(Role::Auditor)),
];

/// The MagWS project of MagUI's own channels (`magflock_magws::SYSTEM_PROJECT`).
pub const LIVE_PROJECT: &str = "_magflock";
/// Carries a [`HealthFrame`] every [`FEED_EVERY_MS`].
pub const HEALTH_CHANNEL: &str = "health";
/// Carries each alert ([`AlertInfo`]) as it is raised.
pub const ALERTS_CHANNEL: &str = "alerts";
/// How often the server publishes a health frame.
pub const FEED_EVERY_MS: u64 = 2_000;

/// Alert kinds that belong to an extension's health history.
pub const INCIDENT_KINDS: &[&str] = &[
    "auto_disabled",
    "quarantined",
    "health_check_failed",
    "enable_failed",
    "start_failed",
    "load_failed",
    "upgrade_rolled_back",
];

/// Call figures of one extension, over its lifetime in the sandbox or over
/// one feed interval.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub calls: u64,
    /// Calls that failed (guest errors and kernel stops).
    pub errors: u64,
    /// Calls the kernel stopped (budget, deadline, violation).
    pub stopped: u64,
    /// Fuel consumed (the sandbox's CPU measure).
    pub fuel: u64,
    pub fuel_per_call: u64,
    /// Failed calls per call (0 to 1).
    pub error_rate: f64,
    /// Latency quantiles (µs, the upper bound of the bucket; `None` without
    /// calls or past the last bucket).
    pub p50_us: Option<u64>,
    pub p95_us: Option<u64>,
    pub p99_us: Option<u64>,
    /// The largest linear memory an instance had after a call.
    pub peak_memory_bytes: u64,
}

/// What the manifest allows one call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budgets {
    pub fuel_per_call: u64,
    pub memory_mb: u64,
    pub deadline_ms: u64,
}

/// The monitor's last periodic check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastCheck {
    pub at: Millis,
    pub healthy: bool,
    pub problem: Option<String>,
}

/// One installed extension's health.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtensionHealth {
    pub id: String,
    pub name: String,
    pub version: String,
    /// `enabled`, `disabled` or `quarantined`.
    pub state: String,
    pub reason: Option<String>,
    /// Since the serving version was loaded (zero when it is not loaded).
    pub totals: Figures,
    /// Since the previous frame of the live feed (`None` on demand).
    pub interval: Option<Figures>,
    pub budgets: Option<Budgets>,
    pub last_check: Option<LastCheck>,
}

/// Every installed extension's health at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthFrame {
    pub at: Millis,
    /// The length of the intervals' window (ms), in live frames.
    pub interval_ms: Option<u64>,
    pub extensions: Vec<ExtensionHealth>,
}

impl Figures {
    /// Error rate as a whole percentage with one decimal.
    pub fn error_percent(&self) -> String {
        format!("{:.1}%", self.error_rate * 100.0)
    }
}

/// `1234567` bytes → `1.2 MiB` (binary units, B to TiB).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A latency bucket bound for people: `800` µs → `≤ 0.8 ms`, `None` → `—`.
pub fn format_latency(us: Option<u64>) -> String {
    match us {
        None => "—".to_string(),
        Some(us) if us < 1_000 => format!("≤ {us} µs"),
        Some(us) => format!("≤ {:.1} ms", us as f64 / 1000.0),
    }
}

/// `12_345_678` → `12.3 M`.
pub fn format_count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1} k", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} M", n as f64 / 1e6),
        _ => format!("{:.1} G", n as f64 / 1e9),
    }
}

/// Every installed extension's figures now (no interval).
#[server(endpoint = "health_snapshot", output = crate::api::codec::Json)]
pub async fn health_snapshot() -> Result<HealthFrame, AppError> {
    crate::server::respond(crate::server::health::snapshot().await)
}

/// The health history: alerts of the [`INCIDENT_KINDS`], acknowledged or
/// not, newest first, of one extension or all.
#[server(endpoint = "health_incidents", output = crate::api::codec::Json)]
pub async fn health_incidents(extension: Option<String>) -> Result<Vec<AlertInfo>, AppError> {
    crate::server::respond(crate::server::health::incidents(extension).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(8192), "8.0 KiB");
        assert_eq!(format_bytes(3 << 20), "3.0 MiB");
        assert_eq!(format_bytes((3 << 20) + (512 << 10)), "3.5 MiB");
        assert_eq!(format_bytes(5 << 40), "5.0 TiB");
        assert_eq!(format_latency(None), "—");
        assert_eq!(format_latency(Some(250)), "≤ 250 µs");
        assert_eq!(format_latency(Some(2_500)), "≤ 2.5 ms");
        assert_eq!(format_count(42), "42");
        assert_eq!(format_count(12_345_678), "12.3 M");
        let f = Figures {
            error_rate: 0.125,
            ..Figures::default()
        };
        assert_eq!(f.error_percent(), "12.5%");
    }
}
