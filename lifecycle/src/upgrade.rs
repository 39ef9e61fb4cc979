//! Upgrade, rollback to the kept version, and removal of kept versions.
//!
//! Upgrade: verify, check compatibility, compute the capability diff (new
//! capabilities wait for an approval before anything changes), Stop() the old
//! version while it keeps serving, prepare the new one beside it, Install(),
//! migrate, Init/Start and health check #3, then switch traffic in one step.
//! If anything fails before the switch, the new version's migrations are
//! reverted and its files removed; the old version never stopped serving.
//! The replaced version is kept (24 h by default) for a one-click rollback.
//!
//! Guarantees: no call fails because of the switch (in-flight calls finish on
//! the version they started on, the next call reaches the new one); an
//! upgrade's migrations must all have down scripts, so it can always be
//! rolled back; grants the new version no longer requests are dropped at the
//! switch, grants for new capabilities exist only if approved.

use magflock_kernel::audit::Actor;
use magflock_kernel::bus::now_millis;
use magflock_kernel::lifecycle_store::{CapabilityRequest, Installation};
use magflock_kernel::semver::Version;
use magflock_kernel::{Grant, Manifest};
use magflock_package::Package;
use magflock_types::Outcome;
use serde_json::json;
use std::sync::Arc;

use crate::LifecycleError;
use crate::approvals::{Plan, PlanItem, plan_capabilities};
use crate::journal::{Operation, failed_at, string_list};
use crate::manager::Lifecycle;

/// What submitting an upgrade led to.
#[derive(Debug)]
pub enum UpgradeSubmitted {
    /// No new capability: carried out at once.
    Done,
    /// New capabilities: waiting in the approvals queue.
    Waiting(Box<CapabilityRequest>),
}

impl Lifecycle {
    /// Offers a new version of an installed extension.
    pub async fn request_upgrade(
        &self,
        bytes: &[u8],
        by: &Actor,
    ) -> Result<UpgradeSubmitted, LifecycleError> {
        let peek = Package::from_bytes(bytes, self.config.limits)?.manifest()?;
        let installation = self.installation(&peek.id).await?;
        let current = Version::parse(&installation.version).map_err(|e| {
            LifecycleError::State(format!("{}: stored version is not semver: {e}", peek.id))
        })?;
        let (package, manifest, verified) = self.admit(bytes, Some(&current)).await?;
        self.check_reversible(&package, &manifest).await?;
        let granted = self.current_grants(&manifest.id);
        let (capabilities, removed) = plan_capabilities(&manifest, &granted);
        if !capabilities.iter().any(|c| c.new) {
            let keep: Vec<Grant> = granted
                .into_iter()
                .filter(|g| manifest.requests(g.capability))
                .collect();
            self.upgrade_approved(&manifest.id, bytes, keep, by).await?;
            return Ok(UpgradeSubmitted::Done);
        }
        let item = PlanItem {
            extension: manifest.id.clone(),
            name: manifest.name.clone(),
            version: manifest.version.to_string(),
            action: "upgrade".into(),
            from_version: Some(installation.version.clone()),
            signature_level: verified.level.code().to_string(),
            key_id: verified.key_id.clone(),
            digest: verified.digest.clone(),
            capabilities,
            removed_capabilities: removed,
            required_by: Vec::new(),
        };
        let plan = Plan {
            items: vec![item.clone()],
            enable: false,
        };
        let request = self
            .queue("upgrade", &manifest.id, &plan, &[bytes], by)
            .await?;
        Ok(UpgradeSubmitted::Waiting(Box::new(request)))
    }

    fn current_grants(&self, extension: &str) -> Vec<Grant> {
        self.policy
            .gate
            .snapshot(extension)
            .map(|p| p.grants)
            .unwrap_or_default()
    }

    /// Every migration the upgrade would apply needs a down script.
    async fn check_reversible(
        &self,
        package: &Package,
        manifest: &Manifest,
    ) -> Result<(), LifecycleError> {
        for (name, _, down) in self.pending_migrations(&manifest.id, package).await? {
            if down.is_none() {
                return Err(LifecycleError::State(format!(
                    "{} {}: migration {name} has no down script (migrations/{name}.down.sql), so the upgrade could not be rolled back",
                    manifest.id, manifest.version
                )));
            }
        }
        Ok(())
    }

    /// Carries out an approved (or capability-neutral) upgrade; `grants` is
    /// everything the new version will hold.
    pub(crate) async fn upgrade_approved(
        &self,
        extension: &str,
        bytes: &[u8],
        grants: Vec<Grant>,
        by: &Actor,
    ) -> Result<(), LifecycleError> {
        let _guard = self.lock(extension).await;
        let installation = self.installation(extension).await?;
        let current = Version::parse(&installation.version)
            .map_err(|e| LifecycleError::State(format!("{extension}: stored version: {e}")))?;
        let (package, manifest, verified) = self.verified_package(bytes, Some(&current)).await?;
        if manifest.id != extension {
            return Err(LifecycleError::State(format!(
                "the package is {}, not {extension}",
                manifest.id
            )));
        }
        let (_, old_manifest) = self
            .installed_package(extension, &installation.version)
            .await?;
        let to = manifest.version.to_string();
        let from = installation.version.clone();
        let mut op = self
            .journal
            .begin(
                "upgrade",
                extension,
                json!({ "from": from, "to": to, "applied": [] }),
            )
            .await?;
        let result = self
            .upgrade_steps(&mut op, &installation, &package, bytes, grants, by)
            .await;
        match result {
            Ok(()) => {
                self.journal.finish(op).await?;
                self.audit(
                    by,
                    "extension.upgraded",
                    extension,
                    Outcome::Success,
                    json!({ "from": from, "to": to, "signature": verified.level.code() }),
                )
                .await?;
                self.publish(
                    "extension.upgraded",
                    extension,
                    by,
                    json!({ "from": from, "to": to }),
                )
                .await;
                Ok(())
            }
            Err((step, reason)) => {
                let applied = applied_in(&op);
                self.undo_upgrade(extension, &old_manifest, &from, &to, &applied)
                    .await;
                self.journal.finish(op).await?;
                self.audit(
                    by,
                    "extension.upgrade_failed",
                    extension,
                    Outcome::Failure,
                    json!({ "from": from, "to": to, "step": step, "reason": reason }),
                )
                .await?;
                self.alert(
                    extension,
                    "upgrade_rolled_back",
                    &format!("upgrade to {to} failed at {step} and was rolled back: {reason}"),
                )
                .await;
                self.publish(
                    "extension.upgrade_rolled_back",
                    extension,
                    by,
                    json!({ "from": from, "to": to, "step": step, "reason": reason }),
                )
                .await;
                Err(LifecycleError::Failed {
                    operation: "upgrade".into(),
                    extension: extension.to_string(),
                    step,
                    reason,
                })
            }
        }
    }

    async fn upgrade_steps(
        &self,
        op: &mut Operation,
        installation: &Installation,
        package: &Package,
        bytes: &[u8],
        grants: Vec<Grant>,
        by: &Actor,
    ) -> Result<(), (String, String)> {
        let manifest = package
            .manifest()
            .map_err(|e| ("manifest".to_string(), e.to_string()))?;
        let id = manifest.id.clone();
        let to = manifest.version.to_string();
        let was_enabled = self.sandbox.get(&id).is_ok();

        self.journal
            .step(op, "files")
            .await
            .map_err(failed_at("files"))?;
        self.files
            .write(&self.files.installed(&id, &to), bytes)
            .map_err(failed_at("files"))?;

        self.journal
            .step(op, "preparing")
            .await
            .map_err(failed_at("preparing"))?;
        let new = self
            .sandbox
            .prepare(manifest.clone(), package.component())
            .map_err(|e| ("preparing".to_string(), e.to_string()))?;
        self.policy
            .gate
            .widen(&manifest)
            .map_err(|e| ("preparing".to_string(), e.to_string()))?;
        let granted_now = self.current_grants(&id);
        for grant in grants.iter().filter(|g| !granted_now.contains(g)) {
            self.policy
                .grant(&id, grant.clone(), by)
                .await
                .map_err(|e| ("preparing".to_string(), e.to_string()))?;
        }

        self.journal
            .step(op, "stopping_old")
            .await
            .map_err(failed_at("stopping_old"))?;
        if let Ok(old) = self.sandbox.get(&id)
            && let Err(e) = Self::guest(&old, |l| l.stop()).await
        {
            tracing::warn!(extension = id, "Stop() of the old version failed: {e}");
        }

        self.journal
            .step(op, "install_called")
            .await
            .map_err(failed_at("install_called"))?;
        self.policy.gate.set_lifecycle_pass(&id, true);
        let checked = self
            .install_migrate_check(op, &new, package, installation)
            .await;
        self.policy.gate.set_lifecycle_pass(&id, false);
        checked?;

        self.journal
            .step(op, "switching")
            .await
            .map_err(failed_at("switching"))?;
        let now = now_millis();
        let keep_ms = self.config.keep_previous.as_millis() as i64;
        let mut record = installation.clone();
        record.version = to.clone();
        record.digest = hex::encode(package.digest());
        record.updated_at = now;
        record.previous_version = Some(installation.version.clone());
        record.previous_until = Some(now + keep_ms);
        self.store
            .save_installation(&record)
            .await
            .map_err(|e| ("switching".to_string(), e.to_string()))?;
        self.journal
            .step(op, "switched")
            .await
            .map_err(failed_at("switched"))?;
        self.switch_to(&new, was_enabled).await;
        Ok(())
    }

    /// Install(), the new migrations, Init/Start and health check #3 on the
    /// new version while the old one serves.
    async fn install_migrate_check(
        &self,
        op: &mut Operation,
        new: &Arc<magflock_sandbox::LoadedExtension>,
        package: &Package,
        installation: &Installation,
    ) -> Result<(), (String, String)> {
        Self::guest(new, |l| l.install()).await.map_err(|e| {
            (
                "install_called".to_string(),
                format!("Install() failed: {e}"),
            )
        })?;
        self.journal
            .step(op, "migrating")
            .await
            .map_err(|e| ("migrating".to_string(), e.to_string()))?;
        let applied = self
            .migrate_up_journaled(op, new.id(), package)
            .await
            .map_err(|e| ("migrating".to_string(), e.to_string()))?;
        tracing::debug!(extension = new.id(), ?applied, "upgrade migrations applied");
        self.journal
            .step(op, "health_check")
            .await
            .map_err(|e| ("health_check".to_string(), e.to_string()))?;
        self.start_loaded(installation, new)
            .await
            .map_err(|r| ("health check #3".to_string(), r))
    }

    /// Like [`Lifecycle::migrate_up`], recording each applied name in the
    /// journal before the next, so a rollback knows what to revert.
    async fn migrate_up_journaled(
        &self,
        op: &mut Operation,
        extension: &str,
        package: &Package,
    ) -> Result<Vec<String>, LifecycleError> {
        let mut applied = Vec::new();
        for (name, up, down) in self.pending_migrations(extension, package).await? {
            op.data["applying"] = json!(name);
            self.journal.step(op, "migrating").await?;
            self.areas
                .apply(extension, &name, &up, down.as_deref())
                .await?;
            applied.push(name.clone());
            op.data["applied"] = json!(applied);
            op.data["applying"] = serde_json::Value::Null;
            self.journal.step(op, "migrating").await?;
        }
        Ok(applied)
    }

    /// The new version takes the traffic: serving version, hooks, and the
    /// gate narrowed to what it requests. A disabled extension stays
    /// disabled (only its version changes).
    async fn switch_to(&self, new: &Arc<magflock_sandbox::LoadedExtension>, serving: bool) {
        let id = new.id().to_string();
        self.policy.gate.register(new.manifest());
        if let Err(e) = self.policy.persist(&id).await {
            tracing::error!(extension = id, "storing the narrowed grants: {e}");
        }
        if serving {
            self.go_live(new);
        }
    }

    /// Puts the old version back after a failed upgrade: the new version's
    /// migrations reverted (newest first), its grants dropped, its file gone.
    pub(crate) async fn undo_upgrade(
        &self,
        extension: &str,
        old_manifest: &Manifest,
        from: &str,
        to: &str,
        applied: &[String],
    ) {
        let present = match self.areas.applied(extension).await {
            Ok(present) => applied_newest_first(&present, applied),
            Err(e) => {
                tracing::error!(extension, "listing applied migrations: {e}");
                Vec::new()
            }
        };
        for name in present {
            if let Err(e) = self.areas.revert(extension, &name).await {
                tracing::error!(extension, name, "reverting an upgrade migration: {e}");
            }
        }
        if self.policy.gate.status(extension).is_some() {
            self.policy.gate.register(old_manifest);
            if let Err(e) = self.policy.persist(extension).await {
                tracing::error!(extension, "storing the old grants: {e}");
            }
        }
        if from != to {
            let path = self.files.installed(extension, to);
            if let Err(e) = self.files.remove_file(&path) {
                tracing::error!(extension, "removing the new version's package: {e}");
            }
        }
        // The old version kept serving; Stop() was only a notice. Start it
        // again so it resumes whatever Stop() paused.
        if let Ok(old) = self.sandbox.get(extension) {
            let _ = Self::guest(&old, |l| l.start()).await;
        }
    }

    /// One-click rollback to the version the last upgrade replaced, while it
    /// is kept: the newer migrations are reverted, the old version is health
    /// checked and takes the traffic in one step.
    pub async fn rollback(&self, extension: &str, by: &Actor) -> Result<(), LifecycleError> {
        let _guard = self.lock(extension).await;
        let installation = self.installation(extension).await?;
        let Some(previous) = installation.previous_version.clone() else {
            return Err(LifecycleError::State(format!(
                "{extension} has no previous version to roll back to"
            )));
        };
        let (current_package, _) = self
            .installed_package(extension, &installation.version)
            .await?;
        let (old_package, old_manifest) = self.installed_package(extension, &previous).await?;
        let old_names: Vec<String> = old_package.migrations().into_iter().map(|m| m.0).collect();
        let newer: Vec<String> = current_package
            .migrations()
            .into_iter()
            .map(|m| m.0)
            .filter(|n| !old_names.contains(n))
            .collect();
        let mut op = self
            .journal
            .begin(
                "rollback",
                extension,
                json!({ "from": installation.version, "to": previous, "revert": newer }),
            )
            .await?;
        let serving = self.sandbox.get(extension).is_ok();
        let old = self
            .sandbox
            .prepare(old_manifest.clone(), old_package.component())?;
        self.journal.step(&mut op, "health_check").await?;
        self.policy.gate.widen(&old_manifest)?;
        self.policy.gate.set_lifecycle_pass(extension, true);
        let checked = self.start_loaded(&installation, &old).await;
        self.policy.gate.set_lifecycle_pass(extension, false);
        if let Err(reason) = checked {
            self.journal.finish(op).await?;
            return Err(LifecycleError::Failed {
                operation: "rollback".into(),
                extension: extension.to_string(),
                step: "health check".into(),
                reason,
            });
        }
        self.journal.step(&mut op, "reverting").await?;
        for name in applied_newest_first(&self.areas.applied(extension).await?, &newer) {
            self.areas.revert(extension, &name).await?;
        }
        self.journal.step(&mut op, "switching").await?;
        let mut record = installation.clone();
        record.version = previous.clone();
        record.updated_at = now_millis();
        record.previous_version = None;
        record.previous_until = None;
        self.store.save_installation(&record).await?;
        self.switch_to(&old, serving).await;
        self.files
            .remove_file(&self.files.installed(extension, &installation.version))?;
        self.journal.finish(op).await?;
        self.audit(
            by,
            "extension.rolled_back",
            extension,
            Outcome::Success,
            json!({ "from": installation.version, "to": previous, "reverted": newer }),
        )
        .await?;
        self.publish(
            "extension.rolled_back",
            extension,
            by,
            json!({ "from": installation.version, "to": previous }),
        )
        .await;
        Ok(())
    }

    /// Removes kept versions whose time is up. Returns how many.
    pub async fn prune_previous(&self) -> Result<usize, LifecycleError> {
        let now = now_millis();
        let mut pruned = 0;
        for installation in self.store.installations().await? {
            let (Some(version), Some(until)) =
                (&installation.previous_version, installation.previous_until)
            else {
                continue;
            };
            if until > now {
                continue;
            }
            let _guard = self.lock(&installation.extension).await;
            self.files
                .remove_file(&self.files.installed(&installation.extension, version))?;
            let mut record = installation.clone();
            record.previous_version = None;
            record.previous_until = None;
            self.store.save_installation(&record).await?;
            self.audit(
                &Actor::system(),
                "extension.previous_version_removed",
                &installation.extension,
                Outcome::Success,
                json!({ "version": version }),
            )
            .await?;
            pruned += 1;
        }
        Ok(pruned)
    }
}

/// The migrations an upgrade applied so far (from its journal data).
pub(crate) fn applied_in(op: &Operation) -> Vec<String> {
    let mut names = string_list(&op.data["applied"]);
    if let Some(applying) = op.data["applying"].as_str() {
        names.push(applying.to_string());
    }
    names
}

/// Of `names`, those applied, newest first.
fn applied_newest_first(
    applied: &[magflock_kernel::lifecycle_store::AppliedMigration],
    names: &[String],
) -> Vec<String> {
    applied
        .iter()
        .rev()
        .filter(|m| names.contains(&m.name))
        .map(|m| m.name.clone())
        .collect()
}
