//! Extensions: every installed extension with its state and grants, and the
//! lifecycle actions on one (enable, disable, upgrade, roll back, uninstall,
//! revoke or re-grant a capability).
//!
//! Every action goes through the lifecycle manager (journalled and audited
//! there with the acting user) and answers with an [`ActionDone`] once the
//! lifecycle has finished; while it runs, [`extension_progress`] reports the
//! journal's current step.

use super::Access;
use super::health::{Budgets, Figures, LastCheck};
use crate::AppError;
use leptos::prelude::*;
use magflock_types::{Millis, Role};
use serde::{Deserialize, Serialize};

/// This module's server functions: (path, access).
pub const ENDPOINTS: &[(&str, Access)] = &[
    ("/api/list_extensions", Access::AtLeast(Role::Auditor)),
    ("/api/get_extension", Access::AtLeast(Role::Auditor)),
    ("/api/extension_progress", Access::AtLeast(Role::Auditor)),
    ("/api/enable_extension", Access::AtLeast(Role::Admin)),
    ("/api/disable_extension", Access::AtLeast(Role::Admin)),
    ("/api/upgrade_extension", Access::AtLeast(Role::Admin)),
    ("/api/rollback_extension", Access::AtLeast(Role::Admin)),
    ("/api/uninstall_extension", Access::AtLeast(Role::Admin)),
    ("/api/revoke_capability", Access::AtLeast(Role::Admin)),
    ("/api/grant_capability", Access::AtLeast(Role::Admin)),
];

/// One capability as an admin reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityInfo {
    /// The dotted name (`database.read`).
    pub name: String,
    /// What it allows, in plain words.
    pub description: String,
    /// `low`, `medium`, `high` or `critical`.
    pub risk: String,
    /// Why the extension asks for it (its manifest's words; empty if unknown).
    pub justification: String,
    /// For `network.outbound`: the hosts.
    pub hosts: Vec<String>,
}

/// A lifecycle operation in flight (from the lifecycle's journal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationInfo {
    /// `install`, `enable`, `disable`, `upgrade`, `rollback`, `uninstall`.
    pub operation: String,
    /// The step begun last.
    pub step: String,
    pub started_at: Millis,
    pub updated_at: Millis,
}

/// One installed extension as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionSummary {
    pub id: String,
    pub name: String,
    pub version: String,
    /// `enabled`, `disabled`, `quarantined`, `upgrading` (an upgrade or
    /// rollback in flight), `busy` (another operation in flight) or `failed`
    /// (not running after a failed start, enable or load).
    pub state: String,
    /// Why it is quarantined or failed.
    pub reason: Option<String>,
    /// `first_party`, `verified_publisher` or `unsigned`.
    pub signature_level: String,
    pub granted: Vec<CapabilityInfo>,
    /// Requested by the manifest, not granted now.
    pub not_granted: Vec<CapabilityInfo>,
    pub operation: Option<OperationInfo>,
    /// The version the last upgrade replaced, while it is kept.
    pub previous_version: Option<String>,
    /// Until when the previous version can be rolled back to.
    pub previous_until: Option<Millis>,
}

/// A newer version in the catalogs, with what it would change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeOption {
    pub version: String,
    /// Requested by that version and not granted today: an upgrade to it
    /// waits for an approval.
    pub new_capabilities: Vec<CapabilityInfo>,
    /// Granted today and no longer requested (dropped at the switch).
    pub removed_capabilities: Vec<String>,
    /// Why this kernel cannot run it, if it cannot.
    pub incompatible: Option<String>,
    /// How its key is trusted here (`None`: unknown key).
    pub signature_level: Option<String>,
}

/// Everything the detail page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtensionDetail {
    pub summary: ExtensionSummary,
    pub publisher: String,
    pub description: String,
    /// Since the serving version was loaded (`None` when it is not running).
    pub stats: Option<Figures>,
    pub budgets: Option<Budgets>,
    pub last_check: Option<LastCheck>,
    /// Newer versions in the catalogs, newest first.
    pub upgrades: Vec<UpgradeOption>,
    /// Installed extensions that depend on this one (it cannot be
    /// uninstalled while there are any).
    pub dependents: Vec<String>,
    /// A catalog that could not be read, in one sentence each.
    pub catalog_problems: Vec<String>,
}

/// What an action did, once the lifecycle finished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionDone {
    /// One sentence for the admin.
    pub message: String,
    /// The extension afterwards (`None` once uninstalled, or when an
    /// upgrade waits for approval and nothing changed yet).
    pub extension: Option<ExtensionSummary>,
    /// The approval request an upgrade with new capabilities created.
    pub request: Option<String>,
}

impl ExtensionSummary {
    /// The state for people.
    pub fn state_label(&self) -> String {
        state_label(&self.state, self.operation.as_ref())
    }
}

/// `enabled` → "Enabled", `busy` with an install → "Installing", …
pub fn state_label(state: &str, operation: Option<&OperationInfo>) -> String {
    match state {
        "enabled" => "Enabled".into(),
        "disabled" => "Disabled".into(),
        "quarantined" => "Quarantined".into(),
        "upgrading" if operation.is_some_and(|o| o.operation == "rollback") => {
            "Rolling back".into()
        }
        "upgrading" => "Upgrading".into(),
        "failed" => "Failed".into(),
        "busy" => match operation.map(|o| o.operation.as_str()) {
            Some("install") => "Installing".into(),
            Some("enable") => "Enabling".into(),
            Some("disable") => "Disabling".into(),
            Some("uninstall") => "Uninstalling".into(),
            _ => "Working".into(),
        },
        other => other.to_string(),
    }
}

/// `first_party` → "First-party".
pub fn signature_label(level: &str) -> &'static str {
    match level {
        "first_party" => "First-party",
        "verified_publisher" => "Verified publisher",
        "unsigned" => "Unsigned",
        _ => "Unknown signature",
    }
}

/// A journal step for people: `health_check_3` → "health check 3".
pub fn step_label(step: &str) -> String {
    step.replace(['_', '-'], " ")
}

/// Splits `publisher/name`.
pub fn split_id(id: &str) -> Option<(&str, &str)> {
    let (publisher, name) = id.split_once('/')?;
    (!publisher.is_empty() && !name.is_empty() && !name.contains('/')).then_some((publisher, name))
}

#[server(endpoint = "list_extensions", output = crate::api::codec::Json)]
pub async fn list_extensions() -> Result<Vec<ExtensionSummary>, AppError> {
    crate::server::respond(crate::server::extensions::list().await)
}

#[server(endpoint = "get_extension", output = crate::api::codec::Json)]
pub async fn get_extension(id: String) -> Result<ExtensionDetail, AppError> {
    crate::server::respond(crate::server::extensions::detail(id).await)
}

/// The operation in flight on `id`, if any (polled while an action runs).
#[server(endpoint = "extension_progress", output = crate::api::codec::Json)]
pub async fn extension_progress(id: String) -> Result<Option<OperationInfo>, AppError> {
    crate::server::respond(crate::server::extensions::progress(id).await)
}

#[server(endpoint = "enable_extension", output = crate::api::codec::Json)]
pub async fn enable_extension(id: String) -> Result<ActionDone, AppError> {
    crate::server::respond(crate::server::extensions::enable(id).await)
}

#[server(endpoint = "disable_extension", output = crate::api::codec::Json)]
pub async fn disable_extension(id: String) -> Result<ActionDone, AppError> {
    crate::server::respond(crate::server::extensions::disable(id).await)
}

/// Upgrades to `version` from the catalogs: at once, or as an approval
/// request when that version asks for capabilities not granted today.
#[server(endpoint = "upgrade_extension", output = crate::api::codec::Json)]
pub async fn upgrade_extension(id: String, version: String) -> Result<ActionDone, AppError> {
    crate::server::respond(crate::server::extensions::upgrade(id, version).await)
}

#[server(endpoint = "rollback_extension", output = crate::api::codec::Json)]
pub async fn rollback_extension(id: String) -> Result<ActionDone, AppError> {
    crate::server::respond(crate::server::extensions::rollback(id).await)
}

#[server(endpoint = "uninstall_extension", output = crate::api::codec::Json)]
pub async fn uninstall_extension(id: String) -> Result<ActionDone, AppError> {
    crate::server::respond(crate::server::extensions::uninstall(id).await)
}

/// Revokes one capability live: the extension's next call that needs it is
/// refused.
#[server(endpoint = "revoke_capability", output = crate::api::codec::Json)]
pub async fn revoke_capability(id: String, capability: String) -> Result<ActionDone, AppError> {
    crate::server::respond(crate::server::extensions::revoke(id, capability).await)
}

/// Grants again one capability the manifest requests (with the hosts it
/// requests), live.
#[server(endpoint = "grant_capability", output = crate::api::codec::Json)]
pub async fn grant_capability(id: String, capability: String) -> Result<ActionDone, AppError> {
    crate::server::respond(crate::server::extensions::grant(id, capability).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_ids_read_well() {
        let op = |name: &str| OperationInfo {
            operation: name.into(),
            step: "begun".into(),
            started_at: 0,
            updated_at: 0,
        };
        assert_eq!(state_label("enabled", None), "Enabled");
        assert_eq!(state_label("upgrading", Some(&op("upgrade"))), "Upgrading");
        assert_eq!(
            state_label("upgrading", Some(&op("rollback"))),
            "Rolling back"
        );
        assert_eq!(state_label("busy", Some(&op("uninstall"))), "Uninstalling");
        assert_eq!(signature_label("first_party"), "First-party");
        assert_eq!(step_label("health_check_3"), "health check 3");
        assert_eq!(split_id("magflock/steady"), Some(("magflock", "steady")));
        assert_eq!(split_id("steady"), None);
        assert_eq!(split_id("a/b/c"), None);
    }
}
