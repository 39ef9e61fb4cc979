//! Health figures for MagUI: every installed extension's sandbox statistics,
//! budgets and last health check as a [`HealthFrame`], on demand (the
//! Health page's first render) and for the server's live feed, which calls
//! [`frame`] every few seconds with the previous figures to send intervals.
//!
//! Guarantees: any signed-in role may read; reading runs no extension code
//! (statistics are counters the sandbox keeps, the last check is what the
//! monitor recorded), and touches no package file unless an extension is
//! not running (its name and budgets then come from its installed package,
//! cached per version by the feed).

use super::console::{Console, console};
use super::guard::{ctx, require};
use crate::AppError;
use crate::api::alerts::AlertInfo;
use crate::api::health::{
    Budgets, ExtensionHealth, Figures, HealthFrame, INCIDENT_KINDS, LastCheck,
};
use magflock_kernel::Manifest;
use magflock_lifecycle::{ExtensionState, ExtensionView, PackageFiles};
use magflock_sandbox::StatsSnapshot;
use magflock_types::Role;
use std::collections::HashMap;

/// Figures of a statistics snapshot.
pub fn figures(stats: &StatsSnapshot) -> Figures {
    Figures {
        calls: stats.calls,
        errors: stats.errors,
        stopped: stats.stopped,
        fuel: stats.fuel,
        fuel_per_call: stats.fuel_per_call(),
        error_rate: stats.error_rate(),
        p50_us: stats.latency_quantile_us(0.5),
        p95_us: stats.latency_quantile_us(0.95),
        p99_us: stats.latency_quantile_us(0.99),
        peak_memory_bytes: stats.peak_memory_bytes,
    }
}

pub fn budgets(manifest: &Manifest) -> Budgets {
    Budgets {
        fuel_per_call: manifest.budgets.fuel_per_call,
        memory_mb: manifest.budgets.memory_mb,
        deadline_ms: manifest.budgets.deadline_ms,
    }
}

pub fn state_name(state: &ExtensionState) -> &'static str {
    match state {
        ExtensionState::Enabled => "enabled",
        ExtensionState::Disabled => "disabled",
        ExtensionState::Quarantined => "quarantined",
    }
}

/// The manifest of `id` at `version`: the running one, else the installed
/// package's.
pub fn manifest_of(console: &Console, id: &str, version: &str) -> Option<Manifest> {
    if let Some(manifest) = running_manifest(console, id) {
        return Some(manifest);
    }
    let config = console.lifecycle.config();
    let path = PackageFiles::new(&config.root).installed(id, version);
    let bytes = std::fs::read(&path).ok()?;
    magflock_package::Package::from_bytes(&bytes, config.limits)
        .ok()?
        .manifest()
        .ok()
}

/// The manifest of the serving version, if it runs.
pub fn running_manifest(console: &Console, id: &str) -> Option<Manifest> {
    let from_registry = console
        .kernel
        .registry
        .read()
        .ok()
        .and_then(|r| r.get(id).cloned());
    from_registry.or_else(|| {
        console
            .kernel
            .sandbox
            .get(id)
            .ok()
            .map(|l| l.manifest().clone())
    })
}

/// Manifests read from packages, by `(id, version)`, so the live feed
/// reads each installed package at most once.
pub type ManifestCache = HashMap<(String, String), Manifest>;

fn health_of(
    console: &Console,
    view: &ExtensionView,
    previous: Option<&HashMap<String, StatsSnapshot>>,
    manifests: &mut ManifestCache,
    now: &mut HashMap<String, StatsSnapshot>,
) -> ExtensionHealth {
    let stats = console
        .kernel
        .sandbox
        .get(&view.id)
        .ok()
        .map(|l| l.stats())
        .unwrap_or_default();
    let interval = previous.map(|before| {
        let earlier = before.get(&view.id).cloned().unwrap_or_default();
        // A new version (or a reload) starts its counters again.
        let earlier = if stats.calls < earlier.calls {
            StatsSnapshot::default()
        } else {
            earlier
        };
        figures(&stats.since(&earlier))
    });
    let manifest = running_manifest(console, &view.id).or_else(|| {
        let key = (view.id.clone(), view.version.clone());
        if let Some(known) = manifests.get(&key) {
            return Some(known.clone());
        }
        let read = manifest_of(console, &view.id, &view.version)?;
        manifests.insert(key, read.clone());
        Some(read)
    });
    let last_check = console
        .lifecycle
        .last_health_check(&view.id)
        .map(|c| LastCheck {
            at: c.at,
            healthy: c.healthy,
            problem: c.problem,
        });
    let health = ExtensionHealth {
        id: view.id.clone(),
        name: manifest
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_else(|| view.name.clone()),
        version: view.version.clone(),
        state: state_name(&view.state).to_string(),
        reason: view.reason.clone(),
        totals: figures(&stats),
        interval,
        budgets: manifest.as_ref().map(budgets),
        last_check,
    };
    now.insert(view.id.clone(), stats);
    health
}

/// Every installed extension's health now, with the intervals since
/// `previous` when given; also returns the statistics to pass next time.
pub async fn frame(
    console: &Console,
    previous: Option<(&HashMap<String, StatsSnapshot>, i64)>,
    manifests: &mut ManifestCache,
) -> Result<(HealthFrame, HashMap<String, StatsSnapshot>), AppError> {
    let views = console.lifecycle.extensions().await?;
    let at = magflock_store::now_millis();
    let mut now = HashMap::new();
    let extensions = views
        .iter()
        .map(|view| health_of(console, view, previous.map(|p| p.0), manifests, &mut now))
        .collect();
    let frame = HealthFrame {
        at,
        interval_ms: previous.map(|(_, then)| (at - then).max(0) as u64),
        extensions,
    };
    Ok((frame, now))
}

pub async fn snapshot() -> Result<HealthFrame, AppError> {
    require(Role::Auditor).await?;
    let console = console()?;
    Ok(frame(&console, None, &mut ManifestCache::new()).await?.0)
}

pub async fn incidents(extension: Option<String>) -> Result<Vec<AlertInfo>, AppError> {
    require(Role::Auditor).await?;
    let extension = extension.filter(|e| !e.trim().is_empty());
    Ok(ctx()?
        .lifecycle
        .alerts(true)
        .await?
        .into_iter()
        .filter(|a| INCIDENT_KINDS.contains(&a.kind.as_str()))
        .filter(|a| extension.as_ref().is_none_or(|e| &a.extension == e))
        .map(alert_info)
        .collect())
}

/// An alert as MagUI shows it.
pub fn alert_info(alert: magflock_kernel::lifecycle_store::Alert) -> AlertInfo {
    AlertInfo {
        id: alert.id,
        extension: alert.extension,
        kind: alert.kind,
        message: alert.message,
        raised_at: alert.raised_at,
        acknowledged_by: alert.acknowledged_by,
    }
}
