//! [`Lifecycle`]: the manager's state and the pieces every operation shares:
//! one lock per extension (operations on one extension never interleave),
//! reading an installed package back from disk, running guest calls off the
//! async threads, and bringing installed extensions up at start.

use magflock_kernel::audit::AuditSink;
use magflock_kernel::kv::KeyValueStore;
use magflock_kernel::lifecycle_store::{ExtensionSchemas, Installation, LifecycleStore};
use magflock_kernel::policy_store::Policy;
use magflock_kernel::semver::Version;
use magflock_kernel::{Bus, Manifest, Registry, Status};
use magflock_package::{Limits, Package, TrustStore};
use magflock_sandbox::{LoadedExtension, Sandbox, SandboxError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::journal::Journal;
use crate::monitor::{MonitorState, Thresholds};
use crate::{LifecycleError, PackageFiles};

/// Where the trust decisions come from (the control-plane database).
#[async_trait::async_trait]
pub trait TrustSource: Send + Sync {
    /// The keys packages may be signed with.
    async fn trust_store(&self) -> Result<TrustStore, LifecycleError>;
    /// Whether an admin turned on the development setting that accepts
    /// unsigned packages.
    async fn allow_unsigned(&self) -> Result<bool, LifecycleError>;
}

#[derive(Clone, Debug)]
pub struct LifecycleConfig {
    /// Packages and staging live under here.
    pub root: PathBuf,
    /// How long the version an upgrade replaced is kept for a rollback.
    pub keep_previous: Duration,
    /// How often the monitor checks each enabled extension.
    pub health_interval: Duration,
    pub thresholds: Thresholds,
    pub limits: Limits,
    /// The local catalog folder (index.json, index.sig and packages).
    pub local_catalog: Option<PathBuf>,
}

impl LifecycleConfig {
    pub fn new(root: impl Into<PathBuf>) -> LifecycleConfig {
        LifecycleConfig {
            root: root.into(),
            keep_previous: Duration::from_secs(24 * 3600),
            health_interval: Duration::from_secs(60),
            thresholds: Thresholds::default(),
            limits: Limits::default(),
            local_catalog: None,
        }
    }
}

/// An installed extension's state as an admin sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtensionState {
    /// Installed, not running.
    Disabled,
    Enabled,
    /// Stopped by the kernel (violation, crash) until an admin enables it.
    Quarantined,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ExtensionView {
    pub id: String,
    pub name: String,
    pub version: String,
    pub state: ExtensionState,
    pub reason: Option<String>,
    pub signature_level: String,
    pub granted: Vec<String>,
    pub requested: Vec<String>,
    pub previous_version: Option<String>,
    pub previous_until: Option<i64>,
}

/// What [`Lifecycle::boot`] did.
#[derive(Debug)]
pub struct Boot {
    pub recovered: Vec<crate::recovery::Recovered>,
    /// Enabled extensions now running.
    pub running: usize,
}

pub struct Lifecycle {
    pub(crate) sandbox: Arc<Sandbox>,
    pub(crate) registry: Arc<RwLock<Registry>>,
    pub(crate) policy: Policy,
    pub(crate) store: Arc<dyn LifecycleStore>,
    pub(crate) areas: Arc<dyn ExtensionSchemas>,
    pub(crate) kv: Arc<dyn KeyValueStore>,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) bus: Arc<Bus>,
    pub(crate) trust: Arc<dyn TrustSource>,
    pub(crate) files: PackageFiles,
    pub(crate) journal: Journal,
    pub(crate) config: LifecycleConfig,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) monitor: Mutex<MonitorState>,
}

/// Everything the manager works with.
pub struct Parts {
    pub sandbox: Arc<Sandbox>,
    pub registry: Arc<RwLock<Registry>>,
    pub policy: Policy,
    pub store: Arc<dyn LifecycleStore>,
    pub areas: Arc<dyn ExtensionSchemas>,
    pub kv: Arc<dyn KeyValueStore>,
    pub audit: Arc<dyn AuditSink>,
    pub bus: Arc<Bus>,
    pub trust: Arc<dyn TrustSource>,
}

impl Lifecycle {
    pub fn new(parts: Parts, config: LifecycleConfig) -> Lifecycle {
        Lifecycle {
            files: PackageFiles::new(&config.root),
            journal: Journal::new(parts.store.clone()),
            sandbox: parts.sandbox,
            registry: parts.registry,
            policy: parts.policy,
            store: parts.store,
            areas: parts.areas,
            kv: parts.kv,
            audit: parts.audit,
            bus: parts.bus,
            trust: parts.trust,
            config,
            locks: Mutex::new(HashMap::new()),
            monitor: Mutex::new(MonitorState::default()),
        }
    }

    pub fn config(&self) -> &LifecycleConfig {
        &self.config
    }

    /// Waits for exclusive use of `extension` (one operation at a time).
    pub(crate) async fn lock(&self, extension: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .locks
            .lock()
            .expect("lifecycle locks")
            .entry(extension.to_string())
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    /// Reads and re-verifies an installed version's package.
    pub(crate) async fn installed_package(
        &self,
        extension: &str,
        version: &str,
    ) -> Result<(Package, Manifest), LifecycleError> {
        let path = self.files.installed(extension, version);
        let bytes = self.files.read(&path)?;
        let package = Package::from_bytes(&bytes, self.config.limits)?;
        let manifest = package.manifest()?;
        Ok((package, manifest))
    }

    /// Runs a (blocking) guest call on a blocking thread.
    pub(crate) async fn guest<T: Send + 'static>(
        loaded: &Arc<LoadedExtension>,
        call: impl FnOnce(&LoadedExtension) -> Result<T, SandboxError> + Send + 'static,
    ) -> Result<T, SandboxError> {
        let loaded = loaded.clone();
        tokio::task::spawn_blocking(move || call(&loaded))
            .await
            .map_err(|e| SandboxError::Internal(format!("guest call thread: {e}")))?
    }

    /// The installed extensions with their state, in id order.
    pub async fn extensions(&self) -> Result<Vec<ExtensionView>, LifecycleError> {
        let mut views = Vec::new();
        for installation in self.store.installations().await? {
            views.push(self.view(&installation).await);
        }
        views.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(views)
    }

    pub async fn extension(&self, extension: &str) -> Result<ExtensionView, LifecycleError> {
        let installation = self.installation(extension).await?;
        Ok(self.view(&installation).await)
    }

    pub(crate) async fn installation(
        &self,
        extension: &str,
    ) -> Result<Installation, LifecycleError> {
        self.store
            .installation(extension)
            .await?
            .ok_or_else(|| LifecycleError::NotInstalled(extension.to_string()))
    }

    async fn view(&self, installation: &Installation) -> ExtensionView {
        let id = &installation.extension;
        let (state, reason) = match self.policy.gate.status(id) {
            Some(Status::Enabled) => (ExtensionState::Enabled, None),
            Some(Status::Quarantined { reason }) => (ExtensionState::Quarantined, Some(reason)),
            _ => (ExtensionState::Disabled, None),
        };
        let manifest = self
            .registry
            .read()
            .expect("registry lock")
            .get(id)
            .cloned()
            .or_else(|| self.sandbox.get(id).ok().map(|l| l.manifest().clone()));
        let (name, requested) = match &manifest {
            Some(m) => (
                m.name.clone(),
                m.capabilities
                    .iter()
                    .map(|c| c.capability.as_str().to_string())
                    .collect(),
            ),
            None => (id.clone(), Vec::new()),
        };
        let mut granted: Vec<String> = self
            .policy
            .gate
            .granted(id)
            .iter()
            .map(|c| c.as_str().to_string())
            .collect();
        granted.sort();
        ExtensionView {
            id: id.clone(),
            name,
            version: installation.version.clone(),
            state,
            reason,
            signature_level: installation.signature_level.clone(),
            granted,
            requested,
            previous_version: installation.previous_version.clone(),
            previous_until: installation.previous_until,
        }
    }

    /// The serving versions of installed extensions, by id.
    pub(crate) async fn installed_versions(
        &self,
    ) -> Result<HashMap<String, Version>, LifecycleError> {
        Ok(self
            .store
            .installations()
            .await?
            .into_iter()
            .filter_map(|i| Version::parse(&i.version).ok().map(|v| (i.extension, v)))
            .collect())
    }

    /// At start: finishes or undoes interrupted operations
    /// ([`Lifecycle::recover`]), registers every installed extension with the
    /// gate, restores the stored grants and states, and starts the enabled
    /// ones (init, start, health check). One that fails to come up is
    /// disabled with an alert; the others are not affected.
    pub async fn boot(&self) -> Result<Boot, LifecycleError> {
        let recovered = self.recover().await?;
        let installations = self.store.installations().await?;
        let mut prepared = Vec::new();
        for installation in &installations {
            let id = &installation.extension;
            match self.installed_package(id, &installation.version).await {
                Ok((package, manifest)) => {
                    match self.sandbox.prepare(manifest.clone(), package.component()) {
                        Ok(loaded) => {
                            self.policy.gate.register(&manifest);
                            prepared.push((installation.clone(), loaded));
                        }
                        Err(e) => self.alert(id, "load_failed", &e.to_string()).await,
                    }
                }
                Err(e) => self.alert(id, "load_failed", &e.to_string()).await,
            }
        }
        self.policy.restore().await?;
        let mut running = 0;
        for (installation, loaded) in prepared {
            if self.policy.gate.status(loaded.id()) != Some(Status::Enabled) {
                continue;
            }
            match self.start_loaded(&installation, &loaded).await {
                Ok(()) => {
                    self.go_live(&loaded);
                    running += 1;
                }
                Err(reason) => {
                    let by = magflock_kernel::audit::Actor::system();
                    let id = loaded.id().to_string();
                    let _ = self.policy.disable(&id, &by).await;
                    self.alert(&id, "start_failed", &format!("did not start: {reason}"))
                        .await;
                }
            }
        }
        Ok(Boot { recovered, running })
    }

    /// Makes a started extension reachable: serving version in the sandbox,
    /// its hooks in the registry.
    pub(crate) fn go_live(&self, loaded: &Arc<LoadedExtension>) {
        let manifest = loaded.manifest().clone();
        {
            let mut registry = self.registry.write().expect("registry lock");
            registry.unregister(&manifest.id);
            let _ = registry.register(manifest, "installed package");
        }
        self.sandbox.activate(loaded.clone());
    }

    /// Makes an extension unreachable: no hooks, no serving version (calls
    /// in flight finish).
    pub(crate) fn go_dark(&self, extension: &str) -> Option<Arc<LoadedExtension>> {
        self.registry
            .write()
            .expect("registry lock")
            .unregister(extension);
        self.sandbox.deactivate(extension)
    }
}

impl Lifecycle {
    /// Grants one capability (within the request) to an installed extension,
    /// live: its next call may use it.
    pub async fn grant(
        &self,
        extension: &str,
        grant: magflock_kernel::Grant,
        by: &magflock_kernel::audit::Actor,
    ) -> Result<(), LifecycleError> {
        self.installation(extension).await?;
        let capability = grant.capability;
        self.policy.grant(extension, grant, by).await?;
        self.publish(
            "extension.capability_granted",
            extension,
            by,
            serde_json::json!({ "capability": capability.as_str() }),
        )
        .await;
        Ok(())
    }

    /// Revokes one capability live: the very next call that needs it traps.
    pub async fn revoke(
        &self,
        extension: &str,
        capability: magflock_kernel::Capability,
        by: &magflock_kernel::audit::Actor,
    ) -> Result<(), LifecycleError> {
        self.installation(extension).await?;
        self.policy.revoke(extension, capability, by).await?;
        self.publish(
            "extension.capability_revoked",
            extension,
            by,
            serde_json::json!({ "capability": capability.as_str() }),
        )
        .await;
        Ok(())
    }

    /// Sets the admin's configuration (a JSON object) used at the next
    /// Init(); audited.
    pub async fn configure(
        &self,
        extension: &str,
        config: serde_json::Value,
        by: &magflock_kernel::audit::Actor,
    ) -> Result<(), LifecycleError> {
        if !config.is_object() {
            return Err(LifecycleError::State(format!(
                "the configuration of {extension} must be a JSON object"
            )));
        }
        let _guard = self.lock(extension).await;
        let mut installation = self.installation(extension).await?;
        let before = installation.config.clone();
        installation.config = config.to_string();
        installation.updated_at = magflock_kernel::bus::now_millis();
        self.store.save_installation(&installation).await?;
        let keys: Vec<&String> = config
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        self.audit(
            by,
            "extension.configured",
            extension,
            magflock_types::Outcome::Success,
            serde_json::json!({ "keys": keys, "changed": before != installation.config }),
        )
        .await
    }
}
