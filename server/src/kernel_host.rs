//! The extension kernel inside the server: policy gate and durable policy
//! changes, the audit writer, the durable event bus with its retention
//! sweeper, the sandbox, event delivery to subscribed extensions, and the
//! lifecycle manager with its health monitor, and the components it mediates
//! (MagDS with its adapter, MagGate; see [`crate::components`]; MagWS with
//! its adapter, see [`crate::realtime`]; MagAuth's adapter, see
//! [`crate::magauth`]).
//!
//! Guarantees: started after the store is open and migrated, before anything
//! listens; interrupted lifecycle operations are finished or rolled back and
//! enabled extensions started before the server answers; the sweeper,
//! delivery and monitor loops survive a failed round (logged) and stop with
//! the server. The kernel's own state lives in the control-plane database
//! (policies, audit log, event log, installations, journal, approvals);
//! packages under `<data dir>/lifecycle`, each extension's SQLite data under
//! `<data dir>/extension-data`, compiled components under `<data dir>/components`.

use magflock_kernel::bus::{Bus, BusConfig};
use magflock_kernel::dispatch::Dispatcher;
use magflock_kernel::policy_store::Policy;
use magflock_kernel::{Component, PolicyGate, Registry};
use magflock_lifecycle::{Lifecycle, LifecycleConfig, Parts};
use magflock_magds::MagDs;
use magflock_maggate::{GateConfig, GateKernel, Gateway};
use magflock_sandbox::{
    EventDelivery, MemoryScheduler, Metrics, Sandbox, SandboxConfig, durable_services,
};
use magflock_store::{AuditWriter, SqlStore, Store};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::components::{LateHooks, magds_adapter, open_magds};
use crate::magauth::MagAuthAdapter;
use crate::realtime::{magws_adapter, open_magws};
use crate::trust::{StoreTrust, trust_first_party_key};
use crate::{Config, StartError};

const SWEEP_EVERY: Duration = Duration::from_secs(3600);
const DELIVER_EVERY: Duration = Duration::from_millis(250);

pub struct KernelHost {
    pub gate: Arc<PolicyGate>,
    pub policy: Policy,
    pub bus: Arc<Bus>,
    pub sandbox: Arc<Sandbox>,
    pub metrics: Arc<Metrics>,
    pub registry: Arc<RwLock<Registry>>,
    /// Runs a component's hooks through the enabled extensions' filters and actions.
    pub dispatcher: Arc<Dispatcher>,
    pub lifecycle: Arc<Lifecycle>,
    /// Project databases (PostgreSQL via `MAGDS_URL`, or SQLite files).
    pub magds: Arc<MagDs>,
    /// The API layer: project API keys, rate limits, extension endpoints.
    pub gateway: Gateway,
    /// Realtime channels over WebSocket (mounted under `/realtime`).
    pub magws: magflock_magws::MagWs,
    pub store: Arc<SqlStore>,
    /// The kernel's audit writer: subscribe to the entries it stored.
    pub audit_writer: Arc<AuditWriter>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl KernelHost {
    pub async fn start(store: Arc<SqlStore>, config: &Config) -> Result<KernelHost, StartError> {
        let audit = AuditWriter::spawn(store.clone() as Arc<dyn Store>);
        let bus_config = BusConfig {
            retention: Duration::from_secs(u64::from(config.event_retention_days) * 86_400),
            ..BusConfig::default()
        };
        let bus = Arc::new(Bus::with_config(Arc::new(store.event_log()), bus_config));
        let gate = Arc::new(PolicyGate::new());
        let policy = Policy::new(gate.clone(), store.clone(), audit.clone());
        let metrics = Arc::new(Metrics::default());
        let late_hooks = Arc::new(LateHooks::default());
        let magds = open_magds(config, late_hooks.clone(), bus.clone()).await?;
        let mut services = durable_services(
            &policy,
            audit.clone(),
            bus.clone(),
            store.clone(),
            metrics.clone(),
            Arc::new(MemoryScheduler::default()),
            &config.data_dir,
        );
        services.adapters.insert(
            Component::MagDs,
            Arc::new(magds_adapter(
                magds.clone(),
                store.clone(),
                gate.clone(),
                bus.clone(),
            )),
        );
        let magws = open_magws(config, bus.clone());
        services.adapters.insert(
            Component::MagWs,
            Arc::new(magws_adapter(magws.clone(), store.clone())),
        );
        let magauth = Arc::new(MagAuthAdapter::new(store.clone()));
        services
            .adapters
            .insert(Component::MagAuth, magauth.clone());
        let sandbox_config = SandboxConfig {
            cache_dir: Some(config.data_dir.join("components")),
            ..SandboxConfig::default()
        };
        let sandbox = Arc::new(Sandbox::new(services, sandbox_config).map_err(|e| {
            StartError::config(
                "MAGFLOCK_DATA_DIR",
                format!("cannot start the extension sandbox: {e}"),
            )
        })?);

        match trust_first_party_key(&store, &config.catalog_dir).await {
            Ok(Some(key)) => tracing::info!(key, "trusted the build's first-party key"),
            Ok(None) => {}
            Err(e) => tracing::warn!("cannot trust the build's first-party key: {e}"),
        }
        let registry = Arc::new(RwLock::new(Registry::new()));
        let mut lifecycle_config = LifecycleConfig::new(config.data_dir.join("lifecycle"));
        lifecycle_config.health_interval =
            Duration::from_secs(u64::from(config.health_interval_secs));
        lifecycle_config.keep_previous =
            Duration::from_secs(u64::from(config.keep_previous_hours) * 3600);
        lifecycle_config.local_catalog = Some(config.catalog_dir.clone());
        let parts = Parts {
            sandbox: sandbox.clone(),
            registry: registry.clone(),
            policy: policy.clone(),
            store: store.clone(),
            areas: Arc::new(store.extension_areas(config.data_dir.join("extension-data"))),
            kv: store.clone(),
            audit: audit.clone(),
            bus: bus.clone(),
            trust: Arc::new(StoreTrust {
                store: store.clone(),
            }),
        };
        let lifecycle = Arc::new(Lifecycle::new(parts, lifecycle_config));
        let dispatcher = Arc::new(Dispatcher::new(
            registry.clone(),
            gate.clone(),
            sandbox.clone(),
            audit.clone(),
        ));
        late_hooks.connect(dispatcher.clone());
        magauth.connect(dispatcher.clone());
        let gateway = Gateway::new(
            GateKernel {
                dispatcher: dispatcher.clone(),
                registry: registry.clone(),
                sandbox: sandbox.clone(),
                gate: gate.clone(),
                bus: bus.clone(),
                audit: audit.clone(),
            },
            store.clone() as Arc<dyn Store>,
            GateConfig::default(),
        )
        .with_projects(magds.clone())
        .with_lifecycle(lifecycle.clone());
        let magws_tasks = magws.connect(gateway.clone());
        let boot = lifecycle.boot().await.map_err(|e| {
            StartError::config(
                "MAGFLOCK_DATA_DIR",
                format!("cannot start the installed extensions: {e}"),
            )
        })?;
        for recovered in &boot.recovered {
            tracing::warn!(
                extension = recovered.extension,
                operation = recovered.operation,
                step = recovered.step,
                outcome = recovered.outcome,
                "recovered an interrupted lifecycle operation"
            );
        }
        tracing::info!(running = boot.running, "extensions started");

        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(lifecycle.clone().run_monitor()));
        tasks.push(gateway.spawn_route_watcher());
        tasks.push(gateway.spawn_usage_emitter());
        tasks.extend(magws_tasks);
        let sweeper_bus = bus.clone();
        tasks.push(tokio::spawn(async move {
            sweeper_bus
                .run_sweeper(SWEEP_EVERY, tokio::time::sleep, |result| match result {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(events = n, "event retention sweep"),
                    Err(e) => tracing::error!("event retention sweep failed: {e}"),
                })
                .await
        }));
        tasks.push(crate::realtime::spawn_console_feed(
            magws.clone(),
            magflock_app::server::Console {
                lifecycle: lifecycle.clone(),
                kernel: gateway.kernel().clone(),
                magds: magds.clone(),
                keys: gateway.keys().clone(),
            },
            store.clone(),
        ));
        let delivery = EventDelivery::new(bus.clone(), sandbox.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                if let Err(e) = delivery.run_once().await {
                    tracing::error!("event delivery round failed: {e}");
                }
                tokio::time::sleep(DELIVER_EVERY).await;
            }
        }));
        Ok(KernelHost {
            gate,
            policy,
            bus,
            sandbox,
            metrics,
            registry,
            dispatcher,
            lifecycle,
            magds,
            gateway,
            magws,
            store,
            audit_writer: audit,
            tasks,
        })
    }
}

impl Drop for KernelHost {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
