//! Which API versions and extension endpoints are served now, and the hooks
//! told when that changes.
//!
//! Guarantees: [`Gateway::sync_routes`] compares what is served now (each
//! loaded extension holding `api.register_endpoint`, per API version its
//! endpoints list) with what it saw last, and dispatches, once per change:
//! `register_endpoint` for each `(extension, version)` newly mounted (payload:
//! `api_version`, `prefix` such as `/v2/ext/acme/ledger`, `extension`,
//! `endpoints`), then `add_version` for each API version nobody served before
//! (payload: `current_versions`, sorted, always including the platform's own
//! `v1`; `version`; `extension`, the first extension serving it). A sync that
//! fails is repeated in full at the next one. [`Gateway::spawn_route_watcher`]
//! syncs every second, so hooks hear of an enable, upgrade or grant within a
//! second; the served routes themselves follow the live state at once.

use magflock_kernel::manifest::DEFAULT_API_VERSION;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::endpoints::{MOUNT, contributed, serving};
use crate::{GateError, GateKernel, Gateway};

/// `(extension id, API version)` → the endpoint ids served there.
pub type Mounts = BTreeMap<(String, String), Vec<String>>;

/// What is served now.
pub fn mounts(kernel: &GateKernel) -> Mounts {
    let mut mounts = Mounts::new();
    for loaded in serving(kernel) {
        let id = loaded.id();
        for endpoint in contributed(loaded.manifest()) {
            for version in &endpoint.versions {
                mounts
                    .entry((id.to_string(), version.clone()))
                    .or_default()
                    .push(endpoint.id.clone());
            }
        }
    }
    mounts
}

/// Every API version served now, sorted by number (the platform's `v1` included).
pub fn versions(mounts: &Mounts) -> Vec<String> {
    let mut versions: BTreeSet<(u32, String)> =
        mounts.keys().map(|(_, v)| (number(v), v.clone())).collect();
    versions.insert((1, DEFAULT_API_VERSION.to_string()));
    versions.into_iter().map(|(_, v)| v).collect()
}

fn number(version: &str) -> u32 {
    version[1..].parse().unwrap_or(u32::MAX)
}

/// The mount point of an extension's endpoints in `version`.
pub fn prefix(extension: &str, version: &str) -> String {
    format!("/{version}{MOUNT}/{extension}")
}

impl Gateway {
    /// Tells `register_endpoint` and `add_version` handlers what changed
    /// since the last sync; returns how many hooks were dispatched.
    pub async fn sync_routes(&self) -> Result<usize, GateError> {
        let _one_at_a_time = self.route_sync().lock().await;
        let now = mounts(self.kernel());
        let before = self.seen_mounts();
        let known: BTreeSet<String> = versions(&before).into_iter().collect();
        let current_versions = versions(&now);
        let mut dispatched = 0;
        for ((extension, version), endpoints) in &now {
            if before.contains_key(&(extension.clone(), version.clone())) {
                continue;
            }
            let payload = json!({
                "api_version": version, "prefix": prefix(extension, version),
                "extension": extension, "endpoints": endpoints,
            });
            self.kernel()
                .dispatch("register_endpoint", &payload)
                .await?;
            dispatched += 1;
        }
        for version in current_versions.iter().filter(|v| !known.contains(*v)) {
            let first = now
                .keys()
                .find(|(_, v)| v == version)
                .map(|(extension, _)| extension.clone());
            let payload = json!({
                "current_versions": current_versions, "version": version, "extension": first,
            });
            self.kernel().dispatch("add_version", &payload).await?;
            dispatched += 1;
        }
        self.remember_mounts(now);
        Ok(dispatched)
    }

    /// Syncs every second until aborted.
    pub fn spawn_route_watcher(&self) -> tokio::task::JoinHandle<()> {
        let gateway = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                if let Err(e) = gateway.sync_routes().await {
                    tracing::warn!("route sync failed (retried in a second): {e}");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_by_number_and_always_include_v1() {
        let mut mounts = Mounts::new();
        for (ext, v) in [("a/b", "v10"), ("a/b", "v2"), ("c/d", "v2")] {
            mounts.insert((ext.into(), v.into()), vec!["e".into()]);
        }
        assert_eq!(versions(&mounts), ["v1", "v2", "v10"]);
        assert_eq!(versions(&Mounts::new()), ["v1"]);
        assert_eq!(prefix("a/b", "v2"), "/v2/ext/a/b");
    }
}
