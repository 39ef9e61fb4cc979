//! Runtime monitoring: every interval (60 s by default) each enabled
//! extension is health-checked and its calls since the last round are
//! compared with the thresholds: error rate, latency (p95), CPU (fuel per
//! call) and memory, the last two against the extension's own budgets.
//!
//! Guarantees:
//! * Past a threshold → the extension is disabled at once, an alert is raised
//!   (stored for MagUI), `extension.health_check.failed` and
//!   `extension.disabled` are published and the disable is audited with the
//!   figures. It stays disabled until an admin enables it.
//! * A failed health check → the extension is restarted (Stop, Init, Start,
//!   health check) with back-off: the n-th restart within the window waits
//!   2^(n-1) intervals after the previous one; after `max_restarts` in the
//!   window it is disabled as above, so a flapping extension is not
//!   restarted forever.
//! * A quarantine (the sandbox stopped it) raises one alert.

use magflock_kernel::audit::Actor;
use magflock_kernel::bus::now_millis;
use magflock_kernel::{Manifest, Status};
use magflock_sandbox::{LoadedExtension, StatsSnapshot};
use magflock_types::Outcome;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::enable::effective_config;
use crate::manager::Lifecycle;

#[derive(Clone, Debug)]
pub struct Thresholds {
    /// Failed calls per call, above which (with enough calls) it is disabled.
    pub max_error_rate: f64,
    /// Calls in an interval before the error rate counts.
    pub min_calls: u64,
    /// p95 latency as a share of the extension's deadline.
    pub max_latency_share: f64,
    /// Average fuel per call as a share of its fuel budget.
    pub max_fuel_share: f64,
    /// Peak memory as a share of its memory cap.
    pub max_memory_share: f64,
    pub max_restarts: u32,
    pub restart_window: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_error_rate: 0.5,
            min_calls: 20,
            max_latency_share: 0.8,
            max_fuel_share: 0.9,
            max_memory_share: 0.9,
            max_restarts: 3,
            restart_window: Duration::from_secs(3600),
        }
    }
}

#[derive(Default)]
pub(crate) struct MonitorState {
    last: HashMap<String, StatsSnapshot>,
    /// Restart times (millis) per extension, within the window.
    restarts: HashMap<String, Vec<i64>>,
    quarantine_alerted: HashSet<String>,
    /// The last periodic check of each extension.
    checks: HashMap<String, HealthCheck>,
}

/// The outcome of the monitor's last periodic check of one extension (its
/// thresholds, then its own health check), for MagUI's Health page.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HealthCheck {
    /// When it was checked (millis since the epoch).
    pub at: i64,
    pub healthy: bool,
    /// Why it was judged unhealthy (`None` when healthy).
    pub problem: Option<String>,
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonitorReport {
    pub checked: usize,
    pub restarted: Vec<String>,
    /// Waiting out a back-off before the next restart.
    pub backing_off: Vec<String>,
    /// Disabled, with the reason.
    pub disabled: Vec<(String, String)>,
}

/// Which threshold an interval's figures break, if any, in one sentence.
pub fn breach(interval: &StatsSnapshot, manifest: &Manifest, t: &Thresholds) -> Option<String> {
    let budgets = &manifest.budgets;
    if interval.calls >= t.min_calls && interval.error_rate() > t.max_error_rate {
        return Some(format!(
            "error rate {:.0}% over {} calls exceeds {:.0}%",
            interval.error_rate() * 100.0,
            interval.calls,
            t.max_error_rate * 100.0
        ));
    }
    let deadline_us = budgets.deadline_ms * 1000;
    if interval.calls >= t.min_calls {
        // Past the last bucket bound the mean is the best estimate left.
        let p95 = interval
            .latency_quantile_us(0.95)
            .unwrap_or_else(|| (interval.micros / interval.calls).max(100_001));
        if p95 as f64 > deadline_us as f64 * t.max_latency_share {
            return Some(format!(
                "p95 latency {:.1} ms exceeds {:.0}% of its {} ms deadline",
                p95 as f64 / 1000.0,
                t.max_latency_share * 100.0,
                budgets.deadline_ms
            ));
        }
    }
    if interval.calls > 0
        && interval.fuel_per_call() as f64 > budgets.fuel_per_call as f64 * t.max_fuel_share
    {
        return Some(format!(
            "CPU: {} fuel per call on average exceeds {:.0}% of its budget of {}",
            interval.fuel_per_call(),
            t.max_fuel_share * 100.0,
            budgets.fuel_per_call
        ));
    }
    let cap = budgets.memory_mb << 20;
    if interval.peak_memory_bytes as f64 > cap as f64 * t.max_memory_share {
        return Some(format!(
            "memory: {:.1} MiB exceeds {:.0}% of its {} MiB cap",
            interval.peak_memory_bytes as f64 / (1 << 20) as f64,
            t.max_memory_share * 100.0,
            budgets.memory_mb
        ));
    }
    None
}

impl Lifecycle {
    /// One monitoring round over every enabled extension.
    pub async fn monitor_round(&self) -> MonitorReport {
        let mut report = MonitorReport::default();
        self.alert_new_quarantines().await;
        for loaded in self.sandbox.loaded() {
            let id = loaded.id().to_string();
            if self.policy.gate.status(&id) != Some(Status::Enabled) {
                continue;
            }
            report.checked += 1;
            let now = self.sandbox.get(&id).map(|l| l.stats()).unwrap_or_default();
            let interval = {
                let mut state = self.monitor.lock().expect("monitor lock");
                let previous = state.last.insert(id.clone(), now.clone());
                now.since(&previous.unwrap_or_default())
            };
            if let Some(reason) = breach(&interval, loaded.manifest(), &self.config.thresholds) {
                self.record_check(&id, Some(&reason));
                self.auto_disable(&id, &reason, &interval).await;
                report.disabled.push((id, reason));
                continue;
            }
            let checked = self.health_check(&loaded).await;
            self.record_check(&id, checked.as_ref().err());
            if let Err(problem) = checked {
                self.after_failed_check(&loaded, &problem, &mut report)
                    .await;
            }
        }
        report
    }

    fn record_check(&self, extension: &str, problem: Option<&String>) {
        let check = HealthCheck {
            at: now_millis(),
            healthy: problem.is_none(),
            problem: problem.cloned(),
        };
        self.monitor
            .lock()
            .expect("monitor lock")
            .checks
            .insert(extension.to_string(), check);
    }

    /// The monitor's last periodic check of `extension`, if it ran since
    /// the server started.
    pub fn last_health_check(&self, extension: &str) -> Option<HealthCheck> {
        self.monitor
            .lock()
            .expect("monitor lock")
            .checks
            .get(extension)
            .cloned()
    }

    async fn after_failed_check(
        &self,
        loaded: &Arc<LoadedExtension>,
        problem: &str,
        report: &mut MonitorReport,
    ) {
        let id = loaded.id().to_string();
        let by = Actor::system();
        self.publish(
            "extension.health_check.failed",
            &id,
            &by,
            json!({ "check": "periodic", "reason": problem }),
        )
        .await;
        let now = now_millis();
        let interval_ms = self.config.health_interval.as_millis() as i64;
        let window_ms = self.config.thresholds.restart_window.as_millis() as i64;
        let (count, last) = {
            let mut state = self.monitor.lock().expect("monitor lock");
            let restarts = state.restarts.entry(id.clone()).or_default();
            restarts.retain(|t| now - t < window_ms);
            (restarts.len() as u32, restarts.last().copied())
        };
        if count >= self.config.thresholds.max_restarts {
            let reason = format!(
                "failed its health check after {count} restarts within {} min: {problem}",
                window_ms / 60_000
            );
            self.auto_disable(&id, &reason, &StatsSnapshot::default())
                .await;
            report.disabled.push((id, reason));
            return;
        }
        if let Some(last) = last {
            let wait = interval_ms.saturating_mul(1 << count.saturating_sub(1).min(16));
            if now - last < wait {
                report.backing_off.push(id);
                return;
            }
        }
        self.monitor
            .lock()
            .expect("monitor lock")
            .restarts
            .entry(id.clone())
            .or_default()
            .push(now);
        let restarted = self.restart(loaded).await;
        let _ = self
            .audit(
                &by,
                "extension.restarted",
                &id,
                if restarted.is_ok() {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                json!({ "reason": problem, "attempt": count + 1, "result": restarted.as_ref().err() }),
            )
            .await;
        report.restarted.push(id);
    }

    /// Stop, Init, Start and a health check, on the serving version.
    async fn restart(&self, loaded: &Arc<LoadedExtension>) -> Result<(), String> {
        let _ = Self::guest(loaded, |l| l.stop()).await;
        let installation = self
            .installation(loaded.id())
            .await
            .map_err(|e| e.to_string())?;
        let config = effective_config(loaded.manifest(), &installation);
        Self::guest(loaded, move |l| l.init(&config))
            .await
            .map_err(|e| e.to_string())?;
        Self::guest(loaded, |l| l.start())
            .await
            .map_err(|e| e.to_string())?;
        self.health_check(loaded).await
    }

    /// Disables an extension the monitor judged unhealthy.
    async fn auto_disable(&self, extension: &str, reason: &str, figures: &StatsSnapshot) {
        let by = Actor::system();
        let _guard = self.lock(extension).await;
        if let Err(e) = self.disable_locked(extension, &by, reason).await {
            tracing::error!(extension, "auto-disable failed: {e}");
        }
        let _ = self
            .audit(
                &by,
                "extension.auto_disabled",
                extension,
                Outcome::Denied,
                json!({
                    "reason": reason,
                    "calls": figures.calls,
                    "errors": figures.errors,
                    "fuel_per_call": figures.fuel_per_call(),
                    "p95_us": figures.latency_quantile_us(0.95),
                    "peak_memory_bytes": figures.peak_memory_bytes,
                }),
            )
            .await;
        self.alert(
            extension,
            "auto_disabled",
            &format!("disabled automatically: {reason}; enable it again after looking"),
        )
        .await;
        self.publish(
            "extension.health_check.failed",
            extension,
            &by,
            json!({ "check": "thresholds", "reason": reason, "action": "disabled" }),
        )
        .await;
        self.monitor
            .lock()
            .expect("monitor lock")
            .restarts
            .remove(extension);
    }

    async fn alert_new_quarantines(&self) {
        for loaded in self.sandbox.loaded() {
            let id = loaded.id().to_string();
            let Some(Status::Quarantined { reason }) = self.policy.gate.status(&id) else {
                self.monitor
                    .lock()
                    .expect("monitor lock")
                    .quarantine_alerted
                    .remove(&id);
                continue;
            };
            let first = self
                .monitor
                .lock()
                .expect("monitor lock")
                .quarantine_alerted
                .insert(id.clone());
            if first {
                self.alert(
                    &id,
                    "quarantined",
                    &format!("stopped by the kernel: {reason}"),
                )
                .await;
            }
        }
    }

    /// Runs [`Lifecycle::monitor_round`] and the removal of expired kept
    /// versions every health interval, forever.
    pub async fn run_monitor(self: Arc<Self>) {
        loop {
            tokio::time::sleep(self.config.health_interval).await;
            let report = self.monitor_round().await;
            if !report.disabled.is_empty() || !report.restarted.is_empty() {
                tracing::warn!(?report, "health monitor round");
            }
            if let Err(e) = self.prune_previous().await {
                tracing::error!("removing expired kept versions: {e}");
            }
        }
    }
}
