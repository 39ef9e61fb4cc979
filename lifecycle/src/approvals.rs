//! The approvals queue: install plans and upgrades wait here for a person.
//!
//! Guarantees: a request is created only for packages that passed every
//! check that needs no decision (signature and trust level, format, kernel
//! API, version order, dependencies, manifest); the plan stored with it lists
//! every package in install order with each capability it requests, the
//! manifest's justification and its risk, and for an upgrade which
//! capabilities are new and which go away. A decision is taken once; an
//! approval may grant a subset of what is requested, never more (hosts
//! included). Both are audited with who decided and why.

use magflock_kernel::audit::Actor;
use magflock_kernel::bus::now_millis;
use magflock_kernel::lifecycle_store::{CapabilityRequest, RequestStatus};
use magflock_kernel::manifest::RequestedCapability;
use magflock_kernel::policy::host_matches;
use magflock_kernel::semver::Version;
use magflock_kernel::{Capability, Grant, Manifest};
use magflock_package::{Package, SignatureLevel, Verified};
use magflock_types::Outcome;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

use crate::LifecycleError;
use crate::manager::Lifecycle;

/// One capability as the approving admin sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCapability {
    pub name: String,
    pub justification: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// `low`, `medium`, `high` or `critical`.
    pub risk: String,
    /// For an upgrade: not granted today (needs this approval).
    #[serde(default)]
    pub new: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    pub extension: String,
    pub name: String,
    pub version: String,
    /// `install` or `upgrade`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    pub signature_level: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub digest: String,
    pub capabilities: Vec<PlanCapability>,
    /// For an upgrade: granted today, no longer requested (dropped at the switch).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_capabilities: Vec<String>,
    /// Who in the plan needs this one (empty for what the admin asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_by: Vec<String>,
}

/// What one approval covers, in the order it will be carried out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub items: Vec<PlanItem>,
    /// Enable each extension once installed.
    pub enable: bool,
}

impl Plan {
    /// The grants of an approval limited to the capabilities named in
    /// `only`, per extension of the plan (each with the hosts it asked for);
    /// an unknown capability name is an error naming it.
    pub fn grants_only(
        &self,
        only: &[String],
    ) -> Result<BTreeMap<String, Vec<Grant>>, LifecycleError> {
        let mut wanted = Vec::new();
        for name in only {
            let capability: magflock_kernel::Capability = name
                .parse()
                .map_err(|_| LifecycleError::Approval(format!("unknown capability '{name}'")))?;
            wanted.push((name, capability));
        }
        Ok(self
            .items
            .iter()
            .map(|item| {
                let chosen = wanted
                    .iter()
                    .filter_map(|(name, capability)| {
                        let asked = item.capabilities.iter().find(|c| &c.name == *name)?;
                        Some(Grant {
                            capability: *capability,
                            hosts: asked.hosts.clone(),
                        })
                    })
                    .collect();
                (item.extension.clone(), chosen)
            })
            .collect())
    }
}

/// An admin's decision on a request.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Grant `grants` per extension (`None`: everything requested).
    Approve {
        grants: Option<BTreeMap<String, Vec<Grant>>>,
        comment: Option<String>,
    },
    Deny {
        comment: Option<String>,
    },
}

/// A package offered for installation, with what the plan knows about why.
pub struct Offered {
    pub bytes: Vec<u8>,
    pub required_by: Vec<String>,
}

fn risk_name(capability: Capability) -> String {
    format!("{:?}", capability.risk()).to_lowercase()
}

pub(crate) fn plan_capabilities(
    manifest: &Manifest,
    granted: &[Grant],
) -> (Vec<PlanCapability>, Vec<String>) {
    let capabilities = manifest
        .capabilities
        .iter()
        .map(|r| PlanCapability {
            name: r.capability.as_str().to_string(),
            justification: r.justification.clone(),
            hosts: r.hosts.clone(),
            risk: risk_name(r.capability),
            new: !covered(r, granted),
        })
        .collect();
    let removed = granted
        .iter()
        .filter(|g| !manifest.requests(g.capability))
        .map(|g| g.capability.as_str().to_string())
        .collect();
    (capabilities, removed)
}

/// Is `request` already granted in full (every host too)?
fn covered(request: &RequestedCapability, granted: &[Grant]) -> bool {
    granted.iter().any(|g| {
        g.capability == request.capability
            && request
                .hosts
                .iter()
                .all(|h| g.hosts.iter().any(|p| p == h || host_matches(p, h)))
    })
}

impl Lifecycle {
    /// Everything [`Lifecycle::verified_package`] checks, plus the component
    /// compiled and its imports checked, so a package that would be refused
    /// at load never reaches the queue.
    pub(crate) async fn admit(
        &self,
        bytes: &[u8],
        installed: Option<&Version>,
    ) -> Result<(Package, Manifest, Verified), LifecycleError> {
        let (package, manifest, verified) = self.verified_package(bytes, installed).await?;
        self.check_component(&manifest, &package).await?;
        Ok((package, manifest, verified))
    }

    /// Reads, verifies and checks a package: signature against the trust
    /// store (unsigned only in development mode), format and manifest, the
    /// kernel API range, and the version against what is installed. Carrying
    /// out an approved request checks again with this (the trust store may
    /// have changed); the component is checked when it is prepared.
    pub(crate) async fn verified_package(
        &self,
        bytes: &[u8],
        installed: Option<&Version>,
    ) -> Result<(Package, Manifest, Verified), LifecycleError> {
        let package = Package::from_bytes(bytes, self.config.limits)?;
        let trust = self.trust.trust_store().await?;
        let verified = package.verify(&trust)?;
        if verified.level == SignatureLevel::Unsigned && !self.trust.allow_unsigned().await? {
            return Err(LifecycleError::Package(magflock_package::PackageError::Signature(
                "the package is unsigned; unsigned packages are refused unless an admin turns on \
                 the development setting \"Allow unsigned packages\""
                    .into(),
            )));
        }
        let manifest = package.manifest()?;
        package.check_installable(installed)?;
        Ok((package, manifest, verified))
    }

    /// Compiles the component and checks its imports against the contract
    /// and the manifest's requests. Nothing of it runs.
    async fn check_component(
        &self,
        manifest: &Manifest,
        package: &Package,
    ) -> Result<(), LifecycleError> {
        let sandbox = self.sandbox.clone();
        let (manifest, wasm) = (manifest.clone(), package.component().to_vec());
        tokio::task::spawn_blocking(move || sandbox.prepare(manifest, &wasm).map(|_| ()))
            .await
            .map_err(|e| LifecycleError::State(format!("checking the component: {e}")))??;
        Ok(())
    }

    /// Submits packages for installation as one plan (dependencies first):
    /// each is checked now; the request waits for an admin.
    pub async fn request_install(
        &self,
        offered: Vec<Offered>,
        enable: bool,
        by: &Actor,
    ) -> Result<CapabilityRequest, LifecycleError> {
        let installed = self.installed_versions().await?;
        let mut planned: HashMap<String, Version> = HashMap::new();
        let mut items = Vec::new();
        let mut packages = Vec::new();
        for offer in &offered {
            let (package, manifest, verified) = self.admit(&offer.bytes, None).await?;
            if let Some(version) = installed.get(&manifest.id) {
                return Err(LifecycleError::State(format!(
                    "{} {version} is already installed; upgrade it instead",
                    manifest.id
                )));
            }
            for (dependency, requirement) in &manifest.dependencies {
                let have = planned
                    .get(dependency)
                    .or_else(|| installed.get(dependency));
                match have {
                    Some(v) if requirement.matches(v) => {}
                    Some(v) => {
                        return Err(LifecycleError::State(format!(
                            "{} needs {dependency} {requirement}, but the plan has {v}",
                            manifest.id
                        )));
                    }
                    None => {
                        return Err(LifecycleError::State(format!(
                            "{} needs {dependency} {requirement}, which is neither installed nor in the plan",
                            manifest.id
                        )));
                    }
                }
            }
            self.refuse_if_waiting(&manifest.id).await?;
            planned.insert(manifest.id.clone(), manifest.version.clone());
            let (capabilities, _) = plan_capabilities(&manifest, &[]);
            items.push(PlanItem {
                extension: manifest.id.clone(),
                name: manifest.name.clone(),
                version: manifest.version.to_string(),
                action: "install".into(),
                from_version: None,
                signature_level: verified.level.code().to_string(),
                key_id: verified.key_id.clone(),
                digest: verified.digest.clone(),
                capabilities,
                removed_capabilities: Vec::new(),
                required_by: offer.required_by.clone(),
            });
            packages.push((manifest, package));
        }
        let Some(wanted) = items.last() else {
            return Err(LifecycleError::Approval(
                "an install plan needs a package".into(),
            ));
        };
        let plan = Plan {
            items: items.clone(),
            enable,
        };
        let packages: Vec<&[u8]> = offered.iter().map(|o| o.bytes.as_slice()).collect();
        self.queue("install", &wanted.extension.clone(), &plan, &packages, by)
            .await
    }

    async fn refuse_if_waiting(&self, extension: &str) -> Result<(), LifecycleError> {
        let pending = self.store.requests(Some(RequestStatus::Pending)).await?;
        if let Some(waiting) = pending.iter().find(|r| {
            serde_json::from_str::<Plan>(&r.plan)
                .map(|p| p.items.iter().any(|i| i.extension == extension))
                .unwrap_or(false)
        }) {
            return Err(LifecycleError::Approval(format!(
                "{extension} is already waiting for approval in request {}",
                waiting.id
            )));
        }
        Ok(())
    }

    /// Stores the request (files are staged by the caller) and audits it.
    /// Stages the plan's packages, then stores the request and audits it: a
    /// request is never visible without its packages, and a request that
    /// could not be stored leaves no staged files.
    pub(crate) async fn queue(
        &self,
        kind: &str,
        extension: &str,
        plan: &Plan,
        packages: &[&[u8]],
        by: &Actor,
    ) -> Result<CapabilityRequest, LifecycleError> {
        let id = uuid::Uuid::now_v7().to_string();
        for (item, bytes) in plan.items.iter().zip(packages) {
            let staged = self.files.staged(&id, &item.extension, &item.version);
            if let Err(e) = self.files.write(&staged, bytes) {
                let _ = self.files.remove_dir(&self.files.staging_dir(&id));
                return Err(e);
            }
        }
        let request = CapabilityRequest {
            id,
            kind: kind.to_string(),
            extension: extension.to_string(),
            plan: serde_json::to_string(plan).expect("plans serialise"),
            requested_by: by.id.clone(),
            requested_at: now_millis(),
            status: RequestStatus::Pending,
            decided_by: None,
            decided_at: None,
            comment: None,
            decision: None,
        };
        if let Err(e) = self.store.request_add(&request).await {
            let _ = self.files.remove_dir(&self.files.staging_dir(&request.id));
            return Err(e.into());
        }
        let summary: Vec<_> = plan
            .items
            .iter()
            .map(|i| json!({ "extension": i.extension, "version": i.version, "capabilities": i.capabilities.iter().map(|c| &c.name).collect::<Vec<_>>() }))
            .collect();
        self.audit(
            by,
            &format!("extension.{kind}_requested"),
            extension,
            Outcome::Success,
            json!({ "request": request.id, "plan": summary }),
        )
        .await?;
        Ok(request)
    }

    pub async fn requests(
        &self,
        status: Option<RequestStatus>,
    ) -> Result<Vec<CapabilityRequest>, LifecycleError> {
        Ok(self.store.requests(status).await?)
    }

    /// Decides a pending request. An approval carries the plan out at once
    /// (install or upgrade each item, then enable if the plan says so); if a
    /// step fails, what this plan installed is removed again and the request
    /// is marked failed with the reason.
    pub async fn decide(
        &self,
        request_id: &str,
        decision: Decision,
        by: &Actor,
    ) -> Result<CapabilityRequest, LifecycleError> {
        let request = self
            .store
            .request(request_id)
            .await?
            .ok_or_else(|| LifecycleError::UnknownRequest(request_id.to_string()))?;
        if request.status != RequestStatus::Pending {
            return Err(LifecycleError::Approval(format!(
                "request {request_id} was already decided ({})",
                request.status.as_str()
            )));
        }
        let plan: Plan = serde_json::from_str(&request.plan).map_err(|e| {
            LifecycleError::Approval(format!("request {request_id}: bad plan: {e}"))
        })?;
        match decision {
            Decision::Deny { comment } => {
                self.settle(
                    &request,
                    RequestStatus::Denied,
                    by,
                    comment.as_deref(),
                    None,
                )
                .await?;
                self.files.remove_dir(&self.files.staging_dir(request_id))?;
            }
            Decision::Approve { grants, comment } => {
                let grants = self.checked_grants(&plan, grants).await?;
                let decision = serde_json::to_string(&grants).expect("grants serialise");
                self.settle(
                    &request,
                    RequestStatus::Approved,
                    by,
                    comment.as_deref(),
                    Some(&decision),
                )
                .await?;
                let outcome = self.carry_out(&request, &plan, &grants, by).await;
                self.files.remove_dir(&self.files.staging_dir(request_id))?;
                match outcome {
                    Ok(()) => {
                        self.store
                            .finish_request(request_id, RequestStatus::Completed, None)
                            .await?
                    }
                    Err(e) => {
                        self.store
                            .finish_request(request_id, RequestStatus::Failed, Some(&e.to_string()))
                            .await?;
                        return Err(e);
                    }
                }
            }
        }
        self.store
            .request(request_id)
            .await?
            .ok_or_else(|| LifecycleError::UnknownRequest(request_id.to_string()))
    }

    async fn settle(
        &self,
        request: &CapabilityRequest,
        status: RequestStatus,
        by: &Actor,
        comment: Option<&str>,
        decision: Option<&str>,
    ) -> Result<(), LifecycleError> {
        let decided = self
            .store
            .decide_request(&request.id, status, by.id.as_deref(), comment, decision)
            .await?;
        if !decided {
            return Err(LifecycleError::Approval(format!(
                "request {} was decided by someone else meanwhile",
                request.id
            )));
        }
        let grants: serde_json::Value = decision
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(serde_json::Value::Null);
        self.audit(
            by,
            &format!("extension.{}_{}", request.kind, status.as_str()),
            &request.extension,
            if status == RequestStatus::Denied {
                Outcome::Denied
            } else {
                Outcome::Success
            },
            json!({ "request": request.id, "comment": comment, "granted": grants }),
        )
        .await
    }

    /// The grants an approval gives, checked against the plan: only
    /// capabilities requested, only hosts requested.
    async fn checked_grants(
        &self,
        plan: &Plan,
        chosen: Option<BTreeMap<String, Vec<Grant>>>,
    ) -> Result<BTreeMap<String, Vec<Grant>>, LifecycleError> {
        let mut out = BTreeMap::new();
        for item in &plan.items {
            let requested: Vec<Grant> = item
                .capabilities
                .iter()
                .filter_map(|c| {
                    c.name.parse::<Capability>().ok().map(|capability| Grant {
                        capability,
                        hosts: c.hosts.clone(),
                    })
                })
                .collect();
            let grants = match &chosen {
                None => requested.clone(),
                Some(map) => map.get(&item.extension).cloned().unwrap_or_default(),
            };
            for grant in &grants {
                let Some(asked) = requested.iter().find(|r| r.capability == grant.capability)
                else {
                    return Err(LifecycleError::Approval(format!(
                        "cannot grant {} to {}: it does not request it",
                        grant.capability.as_str(),
                        item.extension
                    )));
                };
                if let Some(extra) = grant.hosts.iter().find(|h| !asked.hosts.contains(h)) {
                    return Err(LifecycleError::Approval(format!(
                        "cannot grant {} to {} for host '{extra}': it requests only {}",
                        grant.capability.as_str(),
                        item.extension,
                        asked.hosts.join(", ")
                    )));
                }
            }
            out.insert(item.extension.clone(), grants);
        }
        if let Some(map) = &chosen
            && let Some(stranger) = map.keys().find(|k| !out.contains_key(*k))
        {
            return Err(LifecycleError::Approval(format!(
                "{stranger} is not part of this request"
            )));
        }
        Ok(out)
    }

    async fn carry_out(
        &self,
        request: &CapabilityRequest,
        plan: &Plan,
        grants: &BTreeMap<String, Vec<Grant>>,
        by: &Actor,
    ) -> Result<(), LifecycleError> {
        let mut done: Vec<&PlanItem> = Vec::new();
        for item in &plan.items {
            let staged = self
                .files
                .staged(&request.id, &item.extension, &item.version);
            let bytes = self.files.read(&staged)?;
            let granted = grants.get(&item.extension).cloned().unwrap_or_default();
            let result = match item.action.as_str() {
                "upgrade" => {
                    self.upgrade_approved(&item.extension, &bytes, granted, by)
                        .await
                }
                _ => self.install_approved(&bytes, granted, by).await,
            };
            if let Err(e) = result {
                self.undo_plan(&done, by).await;
                return Err(e);
            }
            done.push(item);
        }
        if plan.enable {
            for item in plan.items.iter().filter(|i| i.action == "install") {
                self.enable(&item.extension, by).await?;
            }
        }
        Ok(())
    }

    /// Removes what a failed plan installed before the failure (newest first).
    async fn undo_plan(&self, done: &[&PlanItem], by: &Actor) {
        for item in done.iter().rev().filter(|i| i.action == "install") {
            if let Err(e) = self.uninstall(&item.extension, by).await {
                tracing::error!(extension = item.extension, "undoing a failed plan: {e}");
            }
        }
    }
}
