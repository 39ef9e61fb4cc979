//! Enable and disable.
//!
//! Enable: load the configuration, register with the kernel, Init(), Start(),
//! health check #2 (the extension handles a test event and reports healthy),
//! then (and only then) the extension is marked enabled, its hooks registered
//! and its version made the serving one. Unhealthy → it stays disabled, an
//! alert is raised and `extension.health_check.failed` is published.
//!
//! Disable: Stop(), its hooks and serving version removed, still installed,
//! no code of it runs (the gate refuses every call).

use magflock_kernel::audit::Actor;
use magflock_kernel::lifecycle_store::Installation;
use magflock_kernel::{Manifest, Status};
use magflock_sandbox::{HealthStatus, LoadedExtension};
use magflock_types::Outcome;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::LifecycleError;
use crate::manager::Lifecycle;

/// The configuration `init` receives: the manifest's defaults overlaid with
/// what the admin set.
pub(crate) fn effective_config(manifest: &Manifest, installation: &Installation) -> String {
    let mut config = manifest.config.clone();
    if let (Some(base), Ok(Value::Object(set))) = (
        config.as_object_mut(),
        serde_json::from_str::<Value>(&installation.config),
    ) {
        for (key, value) in set {
            base.insert(key, value);
        }
    }
    config.to_string()
}

impl Lifecycle {
    pub async fn enable(&self, extension: &str, by: &Actor) -> Result<(), LifecycleError> {
        let _guard = self.lock(extension).await;
        let installation = self.installation(extension).await?;
        if self.policy.gate.status(extension) == Some(Status::Enabled)
            && self.sandbox.get(extension).is_ok()
        {
            return Err(LifecycleError::State(format!(
                "{extension} is already enabled"
            )));
        }
        let mut op = self
            .journal
            .begin(
                "enable",
                extension,
                json!({ "version": installation.version }),
            )
            .await?;
        self.journal.step(&mut op, "loading").await?;
        let (package, manifest) = self
            .installed_package(extension, &installation.version)
            .await?;
        let loaded = self
            .sandbox
            .prepare(manifest.clone(), package.component())?;
        self.policy.gate.register(&manifest);
        if matches!(
            self.policy.gate.status(extension),
            Some(Status::Quarantined { .. })
        ) {
            // The admin has looked: the quarantine ends here; the extension
            // runs again only if it passes the checks below.
            self.go_dark(extension);
            self.policy.disable(extension, by).await?;
        }

        self.journal.step(&mut op, "starting").await?;
        if let Err(reason) = self.start_loaded(&installation, &loaded).await {
            self.journal.finish(op).await?;
            return Err(self.enable_failed(extension, by, &reason).await);
        }
        self.journal.step(&mut op, "committing").await?;
        self.policy.enable(extension, by).await?;
        self.go_live(&loaded);
        self.journal.finish(op).await?;
        self.publish(
            "extension.enabled",
            extension,
            by,
            json!({ "version": installation.version }),
        )
        .await;
        Ok(())
    }

    /// Init, Start and health check #2 on a disabled (or booting) extension.
    /// On failure the extension is left without running code.
    pub(crate) async fn start_loaded(
        &self,
        installation: &Installation,
        loaded: &Arc<LoadedExtension>,
    ) -> Result<(), String> {
        let config = effective_config(loaded.manifest(), installation);
        let id = loaded.id().to_string();
        self.policy.gate.set_lifecycle_pass(&id, true);
        let result = async {
            Self::guest(loaded, move |l| l.init(&config))
                .await
                .map_err(|e| format!("init failed: {e}"))?;
            Self::guest(loaded, |l| l.start())
                .await
                .map_err(|e| format!("start failed: {e}"))?;
            self.health_check_with_event(loaded).await
        }
        .await;
        self.policy.gate.set_lifecycle_pass(&id, false);
        result
    }

    /// Health check #2 / #3: the extension handles a test event and then
    /// reports healthy.
    pub(crate) async fn health_check_with_event(
        &self,
        loaded: &Arc<LoadedExtension>,
    ) -> Result<(), String> {
        let test_event = json!({
            "event_id": uuid::Uuid::now_v7().to_string(),
            "event_type": "extension.health_check.test",
            "timestamp": "",
            "source": { "component": "kernel", "extension": loaded.id() },
            "data": { "test": true },
            "context": {},
            "capabilities_required": [],
        })
        .to_string();
        Self::guest(loaded, move |l| l.handle_event(&test_event))
            .await
            .map_err(|e| format!("health check: the test event failed: {e}"))?;
        self.health_check(loaded).await
    }

    /// Health check #1 (and the monitor's): the extension answers and says
    /// it is healthy.
    pub(crate) async fn health_check(&self, loaded: &Arc<LoadedExtension>) -> Result<(), String> {
        let report = Self::guest(loaded, |l| l.health_check())
            .await
            .map_err(|e| format!("health check failed: {e}"))?;
        match report.status {
            HealthStatus::Healthy | HealthStatus::Degraded => Ok(()),
            HealthStatus::Unhealthy => Err(format!(
                "health check: the extension reports itself unhealthy ({})",
                report.message
            )),
        }
    }

    async fn enable_failed(&self, extension: &str, by: &Actor, reason: &str) -> LifecycleError {
        let _ = self
            .audit(
                by,
                "extension.enable_failed",
                extension,
                Outcome::Failure,
                json!({ "reason": reason }),
            )
            .await;
        self.alert(extension, "enable_failed", reason).await;
        self.publish(
            "extension.health_check.failed",
            extension,
            by,
            json!({ "check": "enable", "reason": reason }),
        )
        .await;
        LifecycleError::Failed {
            operation: "enable".into(),
            extension: extension.to_string(),
            step: "health check #2".into(),
            reason: reason.to_string(),
        }
    }

    pub async fn disable(&self, extension: &str, by: &Actor) -> Result<(), LifecycleError> {
        let _guard = self.lock(extension).await;
        self.disable_locked(extension, by, "disabled by an admin")
            .await
    }

    /// Stop(), unregister hooks, mark disabled. The caller holds the lock.
    pub(crate) async fn disable_locked(
        &self,
        extension: &str,
        by: &Actor,
        why: &str,
    ) -> Result<(), LifecycleError> {
        let installation = self.installation(extension).await?;
        let mut op = self
            .journal
            .begin(
                "disable",
                extension,
                json!({ "version": installation.version }),
            )
            .await?;
        self.journal.step(&mut op, "stopping").await?;
        if let Ok(loaded) = self.sandbox.get(extension)
            && let Err(e) = Self::guest(&loaded, |l| l.stop()).await
        {
            tracing::warn!(extension, "stop failed (disabling anyway): {e}");
        }
        self.go_dark(extension);
        self.journal.step(&mut op, "committing").await?;
        if self.policy.gate.status(extension) != Some(Status::Disabled) {
            self.policy.disable(extension, by).await?;
        }
        self.journal.finish(op).await?;
        self.publish(
            "extension.disabled",
            extension,
            by,
            json!({ "version": installation.version, "reason": why }),
        )
        .await;
        Ok(())
    }
}
