//! Uninstall: only a disabled (or quarantined) extension that nothing
//! installed depends on. Uninstall(), down migrations where safe, files
//! removed, grants and key-value data forgotten, registry entry removed, an
//! audit entry and `extension.uninstalled`.
//!
//! Guarantees: "where safe" means every applied migration has a down script;
//! then they run newest first and the extension's area is dropped. Otherwise
//! the data is kept (the audit entry and the answer say where and why). A
//! crash in the middle is finished on the next start (every step can be
//! repeated).

use magflock_kernel::Status;
use magflock_kernel::audit::Actor;
use magflock_types::Outcome;
use serde_json::json;

use crate::LifecycleError;
use crate::journal::Operation;
use crate::manager::Lifecycle;

impl Lifecycle {
    /// Returns where the extension's data was kept, if it was.
    pub async fn uninstall(
        &self,
        extension: &str,
        by: &Actor,
    ) -> Result<Option<String>, LifecycleError> {
        let _guard = self.lock(extension).await;
        let installation = self.installation(extension).await?;
        if self.policy.gate.status(extension) == Some(Status::Enabled) {
            return Err(LifecycleError::State(format!(
                "{extension} is enabled; disable it before uninstalling"
            )));
        }
        let dependents = self.dependents(extension).await?;
        if !dependents.is_empty() {
            return Err(LifecycleError::State(format!(
                "{extension} is needed by {}; uninstall those first",
                dependents.join(", ")
            )));
        }
        let mut op = self
            .journal
            .begin(
                "uninstall",
                extension,
                json!({ "version": installation.version }),
            )
            .await?;
        self.journal.step(&mut op, "uninstall_called").await?;
        let cleanup = match self
            .installed_package(extension, &installation.version)
            .await
        {
            Ok((package, manifest)) => match self.sandbox.prepare(manifest, package.component()) {
                Ok(loaded) => {
                    self.policy.gate.set_lifecycle_pass(extension, true);
                    let result = Self::guest(&loaded, |l| l.uninstall()).await;
                    self.policy.gate.set_lifecycle_pass(extension, false);
                    result.err().map(|e| e.to_string())
                }
                Err(e) => Some(e.to_string()),
            },
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = &cleanup {
            tracing::warn!(
                extension,
                "Uninstall() did not succeed (removing anyway): {problem}"
            );
        }
        let kept = self.finish_uninstall(&mut op).await?;
        self.journal.finish(op).await?;
        self.audit(
            by,
            "extension.uninstalled",
            extension,
            Outcome::Success,
            json!({
                "version": installation.version,
                "cleanup_error": cleanup,
                "data_kept": kept,
            }),
        )
        .await?;
        self.publish(
            "extension.uninstalled",
            extension,
            by,
            json!({ "version": installation.version, "data_kept": kept.is_some() }),
        )
        .await;
        Ok(kept)
    }

    /// Installed extensions whose manifest depends on `extension`.
    async fn dependents(&self, extension: &str) -> Result<Vec<String>, LifecycleError> {
        let mut found = Vec::new();
        for installation in self.store.installations().await? {
            if installation.extension == extension {
                continue;
            }
            if let Ok((_, manifest)) = self
                .installed_package(&installation.extension, &installation.version)
                .await
                && manifest.dependencies.iter().any(|(d, _)| d == extension)
            {
                found.push(installation.extension);
            }
        }
        Ok(found)
    }

    /// The steps after Uninstall(); each can be repeated.
    pub(crate) async fn finish_uninstall(
        &self,
        op: &mut Operation,
    ) -> Result<Option<String>, LifecycleError> {
        let extension = op.extension.clone();
        self.go_dark(&extension);
        self.journal.step(op, "migrations_down").await?;
        let applied = self.areas.applied(&extension).await?;
        let kept = match applied.iter().find(|m| m.down.is_none()) {
            Some(irreversible) => Some(format!(
                "{} (migration {} has no down script)",
                self.areas.location(&extension),
                irreversible.name
            )),
            None => {
                for migration in applied.iter().rev() {
                    self.areas.revert(&extension, &migration.name).await?;
                }
                self.areas.drop_area(&extension).await?;
                None
            }
        };
        op.data["data_kept"] = json!(kept);
        self.journal.step(op, "removing").await?;
        self.files
            .remove_dir(&self.files.extension_dir(&extension))?;
        self.kv.kv_clear(&extension).await?;
        self.policy.forget(&extension).await?;
        self.store.delete_installation(&extension).await?;
        Ok(kept)
    }
}
