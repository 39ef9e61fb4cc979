//! Install (after approval): store the verified package, register with the
//! gate and grant what the admin approved, Install(), migrations in the
//! extension's own area, health check #1, then the installation is recorded.
//!
//! Guarantees: on any failure (and after a crash before the record is
//! written) everything is undone: the extension's database area dropped, its
//! files removed, its grants, key-value data and registry entry forgotten.
//! Only the audit entries remain. The installed extension is disabled until
//! enabled.

use magflock_kernel::Grant;
use magflock_kernel::audit::Actor;
use magflock_kernel::bus::now_millis;
use magflock_kernel::lifecycle_store::Installation;
use magflock_package::Package;
use magflock_types::Outcome;
use serde_json::json;

use crate::LifecycleError;
use crate::journal::{Operation, failed_at};
use crate::manager::Lifecycle;

impl Lifecycle {
    pub(crate) async fn install_approved(
        &self,
        bytes: &[u8],
        grants: Vec<Grant>,
        by: &Actor,
    ) -> Result<(), LifecycleError> {
        // Checked again: the trust store or the installed set may have
        // changed while the request waited.
        let (package, manifest, verified) = self.verified_package(bytes, None).await?;
        let id = manifest.id.clone();
        let _guard = self.lock(&id).await;
        if self.store.installation(&id).await?.is_some() {
            return Err(LifecycleError::State(format!("{id} is already installed")));
        }
        let version = manifest.version.to_string();
        let mut op = self
            .journal
            .begin(
                "install",
                &id,
                json!({
                    "version": version,
                    "digest": verified.digest,
                    "signature_level": verified.level.code(),
                    "key_id": verified.key_id,
                    "installed_by": by.id,
                }),
            )
            .await?;
        match self
            .install_steps(&mut op, &package, bytes, grants, by)
            .await
        {
            Ok(()) => {
                self.journal.finish(op).await?;
                self.audit(
                    by,
                    "extension.installed",
                    &id,
                    Outcome::Success,
                    json!({ "version": version, "signature": verified.level.code(), "key_id": verified.key_id }),
                )
                .await?;
                self.publish(
                    "extension.installed",
                    &id,
                    by,
                    json!({ "version": version }),
                )
                .await;
                Ok(())
            }
            Err((step, reason)) => {
                self.undo_install(&id, &version).await;
                self.journal.finish(op).await?;
                self.audit(
                    by,
                    "extension.install_failed",
                    &id,
                    Outcome::Failure,
                    json!({ "version": version, "step": step, "reason": reason }),
                )
                .await?;
                self.publish(
                    "extension.install_failed",
                    &id,
                    by,
                    json!({ "version": version, "step": step, "reason": reason }),
                )
                .await;
                Err(LifecycleError::Failed {
                    operation: "install".into(),
                    extension: id,
                    step,
                    reason,
                })
            }
        }
    }

    /// The steps; an error says at which step and why.
    async fn install_steps(
        &self,
        op: &mut Operation,
        package: &Package,
        bytes: &[u8],
        grants: Vec<Grant>,
        by: &Actor,
    ) -> Result<(), (String, String)> {
        let manifest = package
            .manifest()
            .map_err(|e| ("manifest".to_string(), e.to_string()))?;
        let id = manifest.id.clone();
        let version = manifest.version.to_string();

        self.journal
            .step(op, "files")
            .await
            .map_err(failed_at("files"))?;
        self.files
            .write(&self.files.installed(&id, &version), bytes)
            .map_err(failed_at("files"))?;

        self.journal
            .step(op, "registering")
            .await
            .map_err(failed_at("registering"))?;
        let loaded = self
            .sandbox
            .prepare(manifest.clone(), package.component())
            .map_err(|e| ("registering".to_string(), e.to_string()))?;
        self.policy.gate.register(&manifest);
        for grant in grants {
            self.policy
                .grant(&id, grant, by)
                .await
                .map_err(|e| ("registering".to_string(), e.to_string()))?;
        }

        self.journal
            .step(op, "install_called")
            .await
            .map_err(failed_at("install_called"))?;
        self.policy.gate.set_lifecycle_pass(&id, true);
        let installed = Self::guest(&loaded, |l| l.install()).await;
        let checked = match installed {
            Ok(()) => {
                self.journal
                    .step(op, "migrating")
                    .await
                    .map_err(failed_at("migrating"))?;
                self.migrate_up(&id, package)
                    .await
                    .map_err(failed_at("migrating"))?;
                self.journal
                    .step(op, "health_check")
                    .await
                    .map_err(failed_at("health_check"))?;
                self.health_check(&loaded)
                    .await
                    .map_err(|r| ("health check #1".to_string(), r))
            }
            Err(e) => Err((
                "install_called".to_string(),
                format!("Install() failed: {e}"),
            )),
        };
        self.policy.gate.set_lifecycle_pass(&id, false);
        checked?;

        self.journal
            .step(op, "committing")
            .await
            .map_err(failed_at("committing"))?;
        let now = now_millis();
        let data = &op.data;
        let text = |key: &str| data.get(key).and_then(|v| v.as_str()).map(str::to_string);
        self.store
            .save_installation(&Installation {
                extension: id.clone(),
                version,
                digest: text("digest").unwrap_or_default(),
                signature_level: text("signature_level").unwrap_or_default(),
                key_id: text("key_id"),
                config: "{}".into(),
                installed_by: text("installed_by"),
                installed_at: now,
                updated_at: now,
                previous_version: None,
                previous_until: None,
            })
            .await
            .map_err(|e| ("committing".to_string(), e.to_string()))?;
        self.journal
            .step(op, "committed")
            .await
            .map_err(failed_at("committed"))?;
        Ok(())
    }

    /// The package's migrations not yet applied in the extension's area, in
    /// name order, as `(name, up, down)`.
    pub(crate) async fn pending_migrations(
        &self,
        extension: &str,
        package: &Package,
    ) -> Result<Vec<(String, String, Option<String>)>, LifecycleError> {
        let applied: Vec<String> = self
            .areas
            .applied(extension)
            .await?
            .into_iter()
            .map(|m| m.name)
            .collect();
        Ok(package
            .migrations()
            .into_iter()
            .filter(|(name, _, _)| !applied.contains(name))
            .collect())
    }

    /// Applies the package's pending migrations, in name order.
    pub(crate) async fn migrate_up(
        &self,
        extension: &str,
        package: &Package,
    ) -> Result<(), LifecycleError> {
        for (name, up, down) in self.pending_migrations(extension, package).await? {
            self.areas
                .apply(extension, &name, &up, down.as_deref())
                .await?;
        }
        Ok(())
    }

    /// Removes every trace of a fresh install but its audit entries. Safe to
    /// repeat (recovery may run it after a crash in the middle of it).
    pub(crate) async fn undo_install(&self, extension: &str, version: &str) {
        self.go_dark(extension);
        let steps: [(&str, Result<(), LifecycleError>); 5] = [
            (
                "drop the data area",
                self.areas.drop_area(extension).await.map_err(Into::into),
            ),
            (
                "forget the grants",
                self.policy.forget(extension).await.map_err(Into::into),
            ),
            (
                "clear the key-value data",
                self.kv
                    .kv_clear(extension)
                    .await
                    .map(|_| ())
                    .map_err(Into::into),
            ),
            (
                "forget the installation",
                self.store
                    .delete_installation(extension)
                    .await
                    .map_err(Into::into),
            ),
            (
                "remove the files",
                self.files.remove_dir(&self.files.extension_dir(extension)),
            ),
        ];
        for (what, result) in steps {
            if let Err(e) = result {
                tracing::error!(
                    extension,
                    version,
                    "undoing the install: cannot {what}: {e}"
                );
            }
        }
    }
}
