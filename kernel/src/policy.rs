//! The policy gate: what each extension may do, checked at every host call.
//!
//! Guarantees:
//! * Two walls, as Zed's extension host has them: a capability is usable only
//!   if the extension's manifest *requests* it **and** an admin *granted* it. A
//!   grant can never exceed the request (for `network.outbound`, the granted
//!   hosts are a subset of the requested ones).
//! * Checks read the live state under a read lock and nothing caches a
//!   decision: a revocation is seen by the very next check, in every instance,
//!   without restarting or uninstalling anything.
//! * A disabled or quarantined extension is refused before any of its code
//!   runs; only an admin's [`PolicyGate::enable`] lifts a quarantine.
//! * The gate holds state in memory only; [`crate::policy_store`] makes each
//!   admin change durable before it is applied here.

use crate::manifest::{Manifest, RequestedCapability};
use crate::{Capability, KernelError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

/// An admin's grant of one capability (with its host allowlist where it takes one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub capability: Capability,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

impl Grant {
    pub fn new(capability: Capability) -> Grant {
        Grant {
            capability,
            hosts: Vec::new(),
        }
    }
    pub fn with_hosts(capability: Capability, hosts: &[&str]) -> Grant {
        Grant {
            capability,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        }
    }
}

/// Whether an extension's code may run at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    Enabled,
    Disabled,
    /// Stopped by the kernel after a violation or crash; `reason` says which.
    Quarantined {
        reason: String,
    },
}

/// Everything the gate knows about one extension; also the durable record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionPolicy {
    pub extension: String,
    pub status: Status,
    pub grants: Vec<Grant>,
    /// Grows with every change; a store keeps the record with the highest
    /// revision, so a late write of an older snapshot never wins.
    #[serde(default)]
    pub revision: u64,
}

/// Why a check failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    UnknownExtension,
    Disabled,
    Quarantined(String),
    /// The manifest does not request it: the first wall.
    NotRequested,
    /// Requested but not granted (or revoked): the second wall.
    NotGranted,
    /// `network.outbound` is granted, but not for this host.
    HostNotAllowed(String),
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denial::UnknownExtension => f.write_str("the extension is not installed"),
            Denial::Disabled => f.write_str("the extension is disabled"),
            Denial::Quarantined(why) => write!(f, "the extension is quarantined ({why})"),
            Denial::NotRequested => f.write_str("its manifest does not request this capability"),
            Denial::NotGranted => f.write_str("no admin has granted this capability"),
            Denial::HostNotAllowed(host) => write!(f, "host '{host}' is not in the grant"),
        }
    }
}

struct Entry {
    requested: Vec<RequestedCapability>,
    granted: BTreeMap<Capability, Grant>,
    status: Status,
    revision: u64,
    /// The lifecycle manager is running this disabled extension's install,
    /// init, start or health check (never persisted, never lifts a quarantine).
    lifecycle_pass: bool,
}

/// The live grants of every registered extension.
#[derive(Default)]
pub struct PolicyGate {
    entries: RwLock<HashMap<String, Entry>>,
}

impl PolicyGate {
    pub fn new() -> PolicyGate {
        PolicyGate::default()
    }

    /// Registers (or re-registers, on upgrade) an extension with what it
    /// requests. A new extension starts disabled with nothing granted; on
    /// re-registration grants the new manifest no longer requests are dropped.
    pub fn register(&self, manifest: &Manifest) {
        let mut entries = self.entries.write().expect("policy lock");
        let entry = entries.entry(manifest.id.clone()).or_insert_with(|| Entry {
            requested: Vec::new(),
            granted: BTreeMap::new(),
            status: Status::Disabled,
            revision: 0,
            lifecycle_pass: false,
        });
        entry.granted.retain(|cap, grant| {
            within_request(&manifest.capabilities, *cap, &grant.hosts).is_ok()
        });
        entry.requested = manifest.capabilities.clone();
        entry.revision += 1;
    }

    /// Widens what `manifest.id` may be granted to the union of what it
    /// requests now and what `manifest` requests (host lists merged), keeping
    /// every grant. An upgrade does this while the old and the new version
    /// both run; [`PolicyGate::register`] with the winner narrows it again.
    pub fn widen(&self, manifest: &Manifest) -> Result<(), KernelError> {
        let mut entries = self.entries.write().expect("policy lock");
        let entry = entries
            .get_mut(&manifest.id)
            .ok_or_else(|| KernelError::UnknownExtension(manifest.id.clone()))?;
        for wanted in &manifest.capabilities {
            match entry
                .requested
                .iter_mut()
                .find(|r| r.capability == wanted.capability)
            {
                Some(have) => {
                    for host in &wanted.hosts {
                        if !have.hosts.contains(host) {
                            have.hosts.push(host.clone());
                        }
                    }
                }
                None => entry.requested.push(wanted.clone()),
            }
        }
        entry.revision += 1;
        Ok(())
    }

    /// Lets the lifecycle manager run a *disabled* extension's install, init,
    /// start and health checks (and their host calls, within the grant) while
    /// `open`; a quarantine still refuses everything.
    pub fn set_lifecycle_pass(&self, extension: &str, open: bool) {
        let mut entries = self.entries.write().expect("policy lock");
        if let Some(entry) = entries.get_mut(extension) {
            entry.lifecycle_pass = open;
        }
    }

    pub fn unregister(&self, extension: &str) {
        self.entries.write().expect("policy lock").remove(extension);
    }

    /// Restores a durable record (at start): status and grants. A grant the
    /// registered manifest no longer requests (or for hosts it no longer
    /// names) is dropped: the manifest bounds every grant.
    pub fn restore(&self, policy: &ExtensionPolicy) -> Result<(), KernelError> {
        let mut entries = self.entries.write().expect("policy lock");
        let entry = entries
            .get_mut(&policy.extension)
            .ok_or_else(|| KernelError::UnknownExtension(policy.extension.clone()))?;
        let mut granted = BTreeMap::new();
        for grant in &policy.grants {
            if within_request(&entry.requested, grant.capability, &grant.hosts).is_ok() {
                granted.insert(grant.capability, grant.clone());
            }
        }
        entry.granted = granted;
        entry.status = policy.status.clone();
        entry.revision = entry.revision.max(policy.revision);
        Ok(())
    }

    /// The record to persist for `extension`.
    pub fn snapshot(&self, extension: &str) -> Option<ExtensionPolicy> {
        let entries = self.entries.read().expect("policy lock");
        entries.get(extension).map(|e| ExtensionPolicy {
            extension: extension.to_string(),
            status: e.status.clone(),
            grants: e.granted.values().cloned().collect(),
            revision: e.revision,
        })
    }

    /// Grants (or replaces the grant of) one capability. Refused when the
    /// manifest does not request it or the hosts exceed the requested ones.
    pub fn grant(&self, extension: &str, grant: Grant) -> Result<(), KernelError> {
        let mut entries = self.entries.write().expect("policy lock");
        let entry = entries
            .get_mut(extension)
            .ok_or_else(|| KernelError::UnknownExtension(extension.to_string()))?;
        within_request(&entry.requested, grant.capability, &grant.hosts)
            .map_err(|d| refused(extension, grant.capability, d))?;
        entry.granted.insert(grant.capability, grant);
        entry.revision += 1;
        Ok(())
    }

    /// Revokes a capability; takes effect on the very next check. Returns
    /// whether it was granted.
    pub fn revoke(&self, extension: &str, capability: Capability) -> Result<bool, KernelError> {
        let mut entries = self.entries.write().expect("policy lock");
        let entry = entries
            .get_mut(extension)
            .ok_or_else(|| KernelError::UnknownExtension(extension.to_string()))?;
        entry.revision += 1;
        Ok(entry.granted.remove(&capability).is_some())
    }

    /// Lets the extension's code run (also lifts a quarantine).
    pub fn enable(&self, extension: &str) -> Result<(), KernelError> {
        self.set_status(extension, Status::Enabled)
    }

    pub fn disable(&self, extension: &str) -> Result<(), KernelError> {
        self.set_status(extension, Status::Disabled)
    }

    /// Stops the extension until an admin enables it again. Returns `false`
    /// if it already was quarantined (the first reason is kept).
    pub fn quarantine(&self, extension: &str, reason: &str) -> bool {
        let mut entries = self.entries.write().expect("policy lock");
        match entries.get_mut(extension) {
            Some(entry) if !matches!(entry.status, Status::Quarantined { .. }) => {
                entry.status = Status::Quarantined {
                    reason: reason.to_string(),
                };
                entry.revision += 1;
                true
            }
            _ => false,
        }
    }

    fn set_status(&self, extension: &str, status: Status) -> Result<(), KernelError> {
        let mut entries = self.entries.write().expect("policy lock");
        let entry = entries
            .get_mut(extension)
            .ok_or_else(|| KernelError::UnknownExtension(extension.to_string()))?;
        entry.status = status;
        entry.revision += 1;
        Ok(())
    }

    pub fn status(&self, extension: &str) -> Option<Status> {
        let entries = self.entries.read().expect("policy lock");
        entries.get(extension).map(|e| e.status.clone())
    }

    /// May the extension's code run at all?
    pub fn may_run(&self, extension: &str) -> Result<(), Denial> {
        let entries = self.entries.read().expect("policy lock");
        let entry = entries.get(extension).ok_or(Denial::UnknownExtension)?;
        runnable(entry)
    }

    /// The check every host import makes before doing anything.
    pub fn check(&self, extension: &str, capability: Capability) -> Result<(), Denial> {
        let entries = self.entries.read().expect("policy lock");
        granted_grant(&entries, extension, capability).map(|_| ())
    }

    /// `network.outbound` to `host`: granted, and the host in the grant's allowlist.
    pub fn check_host(&self, extension: &str, host: &str) -> Result<(), Denial> {
        let entries = self.entries.read().expect("policy lock");
        let grant = granted_grant(&entries, extension, Capability::NetworkOutbound)?;
        if grant
            .hosts
            .iter()
            .any(|pattern| host_matches(pattern, host))
        {
            Ok(())
        } else {
            Err(Denial::HostNotAllowed(host.to_string()))
        }
    }

    /// The granted capabilities, for event visibility and the UI.
    pub fn granted(&self, extension: &str) -> Vec<Capability> {
        let entries = self.entries.read().expect("policy lock");
        entries
            .get(extension)
            .map(|e| e.granted.keys().copied().collect())
            .unwrap_or_default()
    }
}

/// Both walls: the extension may run, its manifest requests `capability`, and
/// an admin granted it. Returns the grant.
fn granted_grant<'a>(
    entries: &'a HashMap<String, Entry>,
    extension: &str,
    capability: Capability,
) -> Result<&'a Grant, Denial> {
    let entry = entries.get(extension).ok_or(Denial::UnknownExtension)?;
    runnable(entry)?;
    if !entry.requested.iter().any(|r| r.capability == capability) {
        return Err(Denial::NotRequested);
    }
    entry.granted.get(&capability).ok_or(Denial::NotGranted)
}

fn runnable(entry: &Entry) -> Result<(), Denial> {
    match &entry.status {
        Status::Enabled => Ok(()),
        Status::Disabled if entry.lifecycle_pass => Ok(()),
        Status::Disabled => Err(Denial::Disabled),
        Status::Quarantined { reason } => Err(Denial::Quarantined(reason.clone())),
    }
}

fn within_request(
    requested: &[RequestedCapability],
    capability: Capability,
    hosts: &[String],
) -> Result<(), Denial> {
    let request = requested
        .iter()
        .find(|r| r.capability == capability)
        .ok_or(Denial::NotRequested)?;
    match hosts.iter().find(|h| !request.hosts.contains(h)) {
        Some(extra) => Err(Denial::HostNotAllowed(extra.clone())),
        None => Ok(()),
    }
}

fn refused(extension: &str, capability: Capability, denial: Denial) -> KernelError {
    KernelError::GrantRefused {
        extension: extension.to_string(),
        capability,
        reason: denial.to_string(),
    }
}

/// `api.example.com` matches itself only; `*.example.com` matches any
/// subdomain (not `example.com` itself). Case-insensitive.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => host == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let text = r#"
[extension]
id = "acme/report"
name = "Report"
version = "1.0.0"
publisher = "Acme"
description = "d"
license = "MIT"
kernel_api = "^0.1"

[[capabilities]]
name = "database.read"
justification = "reads"

[[capabilities]]
name = "network.outbound"
justification = "calls out"
hosts = ["api.acme.test", "*.cdn.test"]
"#;
        Manifest::parse(text, "magflock.toml").expect("valid manifest")
    }

    fn gate() -> PolicyGate {
        let gate = PolicyGate::new();
        gate.register(&manifest());
        gate.enable("acme/report").unwrap();
        gate
    }

    #[test]
    fn requested_is_not_granted_until_an_admin_grants() {
        let gate = gate();
        assert_eq!(
            gate.check("acme/report", Capability::DatabaseRead),
            Err(Denial::NotGranted)
        );
        gate.grant("acme/report", Grant::new(Capability::DatabaseRead))
            .unwrap();
        assert_eq!(gate.check("acme/report", Capability::DatabaseRead), Ok(()));
    }

    #[test]
    fn a_grant_cannot_exceed_the_request() {
        let gate = gate();
        let err = gate
            .grant("acme/report", Grant::new(Capability::DatabaseWrite))
            .unwrap_err();
        assert!(err.to_string().contains("database.write"), "{err}");
        assert_eq!(
            gate.check("acme/report", Capability::DatabaseWrite),
            Err(Denial::NotRequested)
        );
        let err = gate
            .grant(
                "acme/report",
                Grant::with_hosts(Capability::NetworkOutbound, &["evil.test"]),
            )
            .unwrap_err();
        assert!(err.to_string().contains("evil.test"), "{err}");
    }

    #[test]
    fn revocation_is_seen_by_the_next_check_and_regrant_restores() {
        let gate = gate();
        gate.grant("acme/report", Grant::new(Capability::DatabaseRead))
            .unwrap();
        assert!(
            gate.revoke("acme/report", Capability::DatabaseRead)
                .unwrap()
        );
        assert_eq!(
            gate.check("acme/report", Capability::DatabaseRead),
            Err(Denial::NotGranted)
        );
        gate.grant("acme/report", Grant::new(Capability::DatabaseRead))
            .unwrap();
        assert_eq!(gate.check("acme/report", Capability::DatabaseRead), Ok(()));
    }

    #[test]
    fn quarantine_refuses_everything_until_enabled() {
        let gate = gate();
        gate.grant("acme/report", Grant::new(Capability::DatabaseRead))
            .unwrap();
        assert!(gate.quarantine("acme/report", "called database.write"));
        assert!(!gate.quarantine("acme/report", "second reason"));
        assert_eq!(
            gate.check("acme/report", Capability::DatabaseRead),
            Err(Denial::Quarantined("called database.write".into()))
        );
        assert!(gate.may_run("acme/report").is_err());
        gate.enable("acme/report").unwrap();
        assert_eq!(gate.check("acme/report", Capability::DatabaseRead), Ok(()));
    }

    #[test]
    fn outbound_hosts_are_checked_against_the_granted_subset() {
        let gate = gate();
        gate.grant(
            "acme/report",
            Grant::with_hosts(Capability::NetworkOutbound, &["*.cdn.test"]),
        )
        .unwrap();
        assert_eq!(gate.check_host("acme/report", "img.cdn.test"), Ok(()));
        assert_eq!(
            gate.check_host("acme/report", "api.acme.test"),
            Err(Denial::HostNotAllowed("api.acme.test".into()))
        );
        assert!(!host_matches("*.cdn.test", "cdn.test"));
        assert!(host_matches("API.acme.test", "api.ACME.test"));
    }

    #[test]
    fn restore_and_snapshot_round_trip_and_recheck_grants() {
        let gate = gate();
        gate.grant("acme/report", Grant::new(Capability::DatabaseRead))
            .unwrap();
        let snapshot = gate.snapshot("acme/report").unwrap();
        let fresh = PolicyGate::new();
        fresh.register(&manifest());
        fresh.restore(&snapshot).unwrap();
        assert_eq!(fresh.snapshot("acme/report"), Some(snapshot));
        let mut forged = fresh.snapshot("acme/report").unwrap();
        forged.grants.push(Grant::new(Capability::DatabaseAdmin));
        fresh.restore(&forged).unwrap();
        // A stored grant beyond the manifest is dropped, not restored.
        assert!(
            !fresh
                .granted("acme/report")
                .contains(&Capability::DatabaseAdmin)
        );
    }
}
