//! Installed extensions from MagUI: their state, grants and statistics, and
//! the lifecycle actions on one. The HTTP twin of MagGate's admin API
//! (`components/maggate/src/admin_api.rs`), with the same rules.
//!
//! Guarantees: every function checks the session and role first (any role
//! reads; owners and admins act, and a refusal is audited by the guard);
//! every change goes through the lifecycle manager with the caller as the
//! acting user, which journals, audits and publishes it; an action answers
//! only once the lifecycle has finished, with one sentence saying what
//! happened, or the lifecycle's own sentence when it refused or failed
//! (mapped in `console::lifecycle_error`). Nothing here runs extension code
//! itself.

use super::console::{Console, console};
use super::guard::{Caller, ctx, require};
use super::health::{budgets, figures, manifest_of, state_name};
use crate::AppError;
use crate::api::extensions::{
    ActionDone, CapabilityInfo, ExtensionDetail, ExtensionSummary, OperationInfo, UpgradeOption,
    split_id,
};
use crate::api::health::LastCheck;
use magflock_kernel::lifecycle_store::{Alert, JournalEntry};
use magflock_kernel::semver::Version;
use magflock_kernel::{Capability, Grant, Manifest};
use magflock_lifecycle::{ExtensionState, ExtensionView, UpgradeSubmitted};
use magflock_types::Role;

/// Alert kinds that mean the last attempt to run the extension failed.
const FAILURE_KINDS: &[&str] = &["enable_failed", "start_failed", "load_failed"];

/// The kernel's actor for the caller (the lifecycle audits with it).
pub fn kernel_actor(caller: &Caller) -> magflock_kernel::audit::Actor {
    magflock_kernel::audit::Actor::user(&caller.user.id, &caller.user.email)
}

/// A checked `publisher/name`.
fn checked_id(id: &str) -> Result<String, AppError> {
    let id = id.trim();
    split_id(id).map(|_| id.to_string()).ok_or_else(|| {
        AppError::invalid(
            "id",
            format!("'{id}' is not an extension id (publisher/name)."),
        )
    })
}

fn parse_capability(name: &str) -> Result<Capability, AppError> {
    name.trim().parse().map_err(|_| {
        AppError::invalid(
            "capability",
            format!("'{}' is not a capability MagFlock knows.", name.trim()),
        )
    })
}

fn risk_name(capability: Capability) -> String {
    format!("{:?}", capability.risk()).to_lowercase()
}

/// A capability in words, with what the manifest says about it.
pub fn capability_info(name: &str, manifest: Option<&Manifest>) -> CapabilityInfo {
    let parsed: Option<Capability> = name.parse().ok();
    let asked = manifest.and_then(|m| {
        m.capabilities
            .iter()
            .find(|r| r.capability.as_str() == name)
    });
    CapabilityInfo {
        name: name.to_string(),
        description: parsed
            .map(|c| c.describe().to_string())
            .unwrap_or_else(|| "A capability this version of MagFlock does not know.".into()),
        risk: parsed.map(risk_name).unwrap_or_else(|| "unknown".into()),
        justification: asked.map(|r| r.justification.clone()).unwrap_or_default(),
        hosts: asked.map(|r| r.hosts.clone()).unwrap_or_default(),
    }
}

fn operation_info(entry: &JournalEntry) -> OperationInfo {
    OperationInfo {
        operation: entry.operation.clone(),
        step: entry.step.clone(),
        started_at: entry.started_at,
        updated_at: entry.updated_at,
    }
}

/// What the list shows of `view` (`journal`: operations in flight;
/// `alerts`: the open alerts, newest first).
pub fn summarize(
    view: &ExtensionView,
    manifest: Option<&Manifest>,
    journal: &[JournalEntry],
    alerts: &[Alert],
) -> ExtensionSummary {
    let operation = journal
        .iter()
        .rev()
        .find(|e| e.extension == view.id)
        .map(operation_info);
    let last_alert = alerts.iter().find(|a| a.extension == view.id);
    let failed = (view.state == ExtensionState::Disabled)
        .then_some(last_alert)
        .flatten()
        .filter(|a| FAILURE_KINDS.contains(&a.kind.as_str()));
    let (state, reason) = match (&operation, failed) {
        (Some(op), _) if matches!(op.operation.as_str(), "upgrade" | "rollback") => {
            ("upgrading".to_string(), view.reason.clone())
        }
        (Some(_), _) => ("busy".to_string(), view.reason.clone()),
        (None, Some(alert)) => ("failed".to_string(), Some(alert.message.clone())),
        (None, None) => (state_name(&view.state).to_string(), view.reason.clone()),
    };
    let requested: Vec<String> = match manifest {
        Some(m) => m
            .capabilities
            .iter()
            .map(|r| r.capability.as_str().to_string())
            .collect(),
        None => view.requested.clone(),
    };
    let granted = view
        .granted
        .iter()
        .map(|name| capability_info(name, manifest))
        .collect();
    let not_granted = requested
        .iter()
        .filter(|name| !view.granted.contains(name))
        .map(|name| capability_info(name, manifest))
        .collect();
    ExtensionSummary {
        id: view.id.clone(),
        name: manifest
            .map(|m| m.name.clone())
            .unwrap_or_else(|| view.name.clone()),
        version: view.version.clone(),
        state,
        reason,
        signature_level: view.signature_level.clone(),
        granted,
        not_granted,
        operation,
        previous_version: view.previous_version.clone(),
        previous_until: view.previous_until,
    }
}

/// The summary of one installed extension now.
async fn summary_of(console: &Console, id: &str) -> Result<ExtensionSummary, AppError> {
    let view = console.lifecycle.extension(id).await?;
    let manifest = manifest_of(console, &view.id, &view.version);
    let store = ctx()?.lifecycle;
    let journal = store.journal_open().await?;
    let alerts = store.alerts(false).await?;
    Ok(summarize(&view, manifest.as_ref(), &journal, &alerts))
}

pub async fn list() -> Result<Vec<ExtensionSummary>, AppError> {
    require(Role::Auditor).await?;
    let console = console()?;
    let store = ctx()?.lifecycle;
    let views = console.lifecycle.extensions().await?;
    let journal = store.journal_open().await?;
    let alerts = store.alerts(false).await?;
    Ok(views
        .iter()
        .map(|view| {
            let manifest = manifest_of(&console, &view.id, &view.version);
            summarize(view, manifest.as_ref(), &journal, &alerts)
        })
        .collect())
}

pub async fn detail(id: String) -> Result<ExtensionDetail, AppError> {
    require(Role::Auditor).await?;
    let id = checked_id(&id)?;
    let console = console()?;
    let store = ctx()?.lifecycle;
    let view = console.lifecycle.extension(&id).await?;
    let manifest = manifest_of(&console, &view.id, &view.version);
    let journal = store.journal_open().await?;
    let alerts = store.alerts(false).await?;
    let summary = summarize(&view, manifest.as_ref(), &journal, &alerts);
    let stats = console
        .kernel
        .sandbox
        .get(&id)
        .ok()
        .map(|loaded| figures(&loaded.stats()));
    let last_check = console.lifecycle.last_health_check(&id).map(|c| LastCheck {
        at: c.at,
        healthy: c.healthy,
        problem: c.problem,
    });
    let (upgrades, catalog_problems) = upgrades_of(&console, &view).await;
    let mut dependents = Vec::new();
    for other in console.lifecycle.extensions().await? {
        if other.id == id {
            continue;
        }
        let needs = manifest_of(&console, &other.id, &other.version)
            .is_some_and(|m| m.dependencies.iter().any(|(d, _)| *d == id));
        if needs {
            dependents.push(other.id);
        }
    }
    Ok(ExtensionDetail {
        summary,
        publisher: manifest
            .as_ref()
            .map(|m| m.publisher.clone())
            .unwrap_or_default(),
        description: manifest
            .as_ref()
            .map(|m| m.description.clone())
            .unwrap_or_default(),
        stats,
        budgets: manifest.as_ref().map(budgets),
        last_check,
        upgrades,
        dependents,
        catalog_problems,
    })
}

/// Newer catalog versions of `view`, with their capability diff against
/// today's grants; and the catalogs that could not be read.
async fn upgrades_of(console: &Console, view: &ExtensionView) -> (Vec<UpgradeOption>, Vec<String>) {
    let Ok(current) = Version::parse(&view.version) else {
        return (Vec::new(), Vec::new());
    };
    let catalog = match console.lifecycle.catalog().await {
        Ok(catalog) => catalog,
        Err(e) => {
            return (
                Vec::new(),
                vec![super::console::capitalised(&e.to_string())],
            );
        }
    };
    let options = catalog
        .versions(&view.id)
        .into_iter()
        .filter(|l| l.entry.version > current)
        .map(|listing| {
            let asked: Vec<&str> = listing
                .entry
                .capabilities
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            let new_capabilities = listing
                .entry
                .capabilities
                .iter()
                .filter(|c| !view.granted.contains(&c.name))
                .map(|c| CapabilityInfo {
                    justification: c.justification.clone(),
                    hosts: c.hosts.clone(),
                    ..capability_info(&c.name, None)
                })
                .collect();
            let removed_capabilities = view
                .granted
                .iter()
                .filter(|g| !asked.contains(&g.as_str()))
                .cloned()
                .collect();
            UpgradeOption {
                version: listing.entry.version.to_string(),
                new_capabilities,
                removed_capabilities,
                incompatible: listing.incompatible.clone(),
                signature_level: listing.signature_level.clone(),
            }
        })
        .collect();
    (options, catalog.problems.clone())
}

pub async fn progress(id: String) -> Result<Option<OperationInfo>, AppError> {
    require(Role::Auditor).await?;
    let id = checked_id(&id)?;
    Ok(ctx()?
        .lifecycle
        .journal_open()
        .await?
        .iter()
        .rev()
        .find(|e| e.extension == id)
        .map(operation_info))
}

/// The caller (an owner or admin), the console and the checked id.
async fn actor_for(id: &str) -> Result<(Caller, Console, String), AppError> {
    let caller = require(Role::Admin).await?;
    let id = checked_id(id)?;
    Ok((caller, console()?, id))
}

fn done(message: String, summary: ExtensionSummary) -> ActionDone {
    ActionDone {
        message,
        extension: Some(summary),
        request: None,
    }
}

pub async fn enable(id: String) -> Result<ActionDone, AppError> {
    let (caller, console, id) = actor_for(&id).await?;
    console
        .lifecycle
        .enable(&id, &kernel_actor(&caller))
        .await?;
    let summary = summary_of(&console, &id).await?;
    Ok(done(
        format!(
            "Enabled {} {}: it passed its health check and its hooks are active.",
            id, summary.version
        ),
        summary,
    ))
}

pub async fn disable(id: String) -> Result<ActionDone, AppError> {
    let (caller, console, id) = actor_for(&id).await?;
    console
        .lifecycle
        .disable(&id, &kernel_actor(&caller))
        .await?;
    let summary = summary_of(&console, &id).await?;
    Ok(done(
        format!(
            "Disabled {id}: it was stopped and none of its code runs until it is enabled again."
        ),
        summary,
    ))
}

pub async fn upgrade(id: String, version: String) -> Result<ActionDone, AppError> {
    let (caller, console, id) = actor_for(&id).await?;
    let wanted = Version::parse(version.trim()).map_err(|_| {
        AppError::invalid(
            "version",
            format!("'{}' is not a version (like 1.2.0).", version.trim()),
        )
    })?;
    let installed = console.lifecycle.extension(&id).await?;
    if installed.version == wanted.to_string() {
        return Err(AppError::Conflict(format!(
            "{id} {wanted} is already the installed version."
        )));
    }
    let catalog = console.lifecycle.catalog().await?;
    let listing = catalog
        .versions(&id)
        .into_iter()
        .find(|l| l.entry.version == wanted)
        .ok_or_else(|| AppError::NotFound(format!("No catalog lists version {wanted} of {id}.")))?;
    let bytes = console.lifecycle.download(listing).await?;
    let submitted = console
        .lifecycle
        .request_upgrade(&bytes, &kernel_actor(&caller))
        .await?;
    match submitted {
        UpgradeSubmitted::Done => {
            let summary = summary_of(&console, &id).await?;
            Ok(done(
                format!(
                    "Upgraded {id} from {} to {}; the previous version is kept for a rollback.",
                    installed.version, summary.version
                ),
                summary,
            ))
        }
        UpgradeSubmitted::Waiting(request) => {
            let new: Vec<String> = serde_json::from_str::<magflock_lifecycle::Plan>(&request.plan)
                .ok()
                .map(|plan| {
                    plan.items
                        .iter()
                        .flat_map(|i| i.capabilities.iter())
                        .filter(|c| c.new)
                        .map(|c| c.name.clone())
                        .collect()
                })
                .unwrap_or_default();
            Ok(ActionDone {
                message: format!(
                    "Version {wanted} of {id} asks for {} not granted today ({}), so the upgrade waits for an approval; {} {} keeps running until then.",
                    if new.len() == 1 {
                        "a capability"
                    } else {
                        "capabilities"
                    },
                    new.join(", "),
                    id,
                    installed.version
                ),
                extension: None,
                request: Some(request.id.clone()),
            })
        }
    }
}

pub async fn rollback(id: String) -> Result<ActionDone, AppError> {
    let (caller, console, id) = actor_for(&id).await?;
    let before = console.lifecycle.extension(&id).await?.version;
    console
        .lifecycle
        .rollback(&id, &kernel_actor(&caller))
        .await?;
    let summary = summary_of(&console, &id).await?;
    Ok(done(
        format!(
            "Rolled {id} back from {before} to {} (any migrations {before} had added were reverted).",
            summary.version
        ),
        summary,
    ))
}

pub async fn uninstall(id: String) -> Result<ActionDone, AppError> {
    let (caller, console, id) = actor_for(&id).await?;
    let kept = console
        .lifecycle
        .uninstall(&id, &kernel_actor(&caller))
        .await?;
    let message = match kept {
        Some(place) => format!(
            "Uninstalled {id}. Its data was kept ({place}) because not every migration can be undone."
        ),
        None => format!("Uninstalled {id} and removed its data."),
    };
    Ok(ActionDone {
        message,
        extension: None,
        request: None,
    })
}

pub async fn revoke(id: String, capability: String) -> Result<ActionDone, AppError> {
    let (caller, console, id) = actor_for(&id).await?;
    let capability = parse_capability(&capability)?;
    let view = console.lifecycle.extension(&id).await?;
    if !view.granted.iter().any(|g| g == capability.as_str()) {
        return Err(AppError::Conflict(format!(
            "{id} does not hold {capability}, so there is nothing to revoke."
        )));
    }
    console
        .lifecycle
        .revoke(&id, capability, &kernel_actor(&caller))
        .await?;
    let summary = summary_of(&console, &id).await?;
    Ok(done(
        format!(
            "Revoked {capability} from {id}: its next call that needs it is refused and audited."
        ),
        summary,
    ))
}

pub async fn grant(id: String, capability: String) -> Result<ActionDone, AppError> {
    let (caller, console, id) = actor_for(&id).await?;
    let capability = parse_capability(&capability)?;
    let view = console.lifecycle.extension(&id).await?;
    if view.granted.iter().any(|g| g == capability.as_str()) {
        return Err(AppError::Conflict(format!(
            "{id} already holds {capability}."
        )));
    }
    let manifest = manifest_of(&console, &id, &view.version);
    let asked = manifest
        .as_ref()
        .and_then(|m| m.capabilities.iter().find(|r| r.capability == capability))
        .ok_or_else(|| {
            AppError::Conflict(format!(
                "{id} {} does not request {capability}; a grant never goes beyond what the manifest asks for.",
                view.version
            ))
        })?;
    let grant = Grant {
        capability,
        hosts: asked.hosts.clone(),
    };
    console
        .lifecycle
        .grant(&id, grant, &kernel_actor(&caller))
        .await?;
    let summary = summary_of(&console, &id).await?;
    Ok(done(
        format!("Granted {capability} to {id} again: its next call may use it."),
        summary,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_explained_with_their_risk() {
        let info = capability_info("database.admin", None);
        assert_eq!(info.risk, "critical");
        assert!(info.description.contains("databases"));
        assert_eq!(capability_info("no.such", None).risk, "unknown");
        assert!(checked_id("magflock/steady").is_ok());
        assert!(checked_id("steady").is_err());
    }
}
