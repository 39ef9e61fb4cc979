//! The extension kernel inside the server: policy gate and durable policy
//! changes, the audit writer, the durable event bus with its retention
//! sweeper, the sandbox, and event delivery to subscribed extensions.
//!
//! Guarantees: started after the store is open and migrated, before anything
//! listens; the sweeper and delivery loops survive a failed round (logged) and
//! stop with the server. The kernel's own state lives in the control-plane
//! database (policies, audit log, event log); compiled components are cached
//! under `<data dir>/components`.

use magflock_kernel::PolicyGate;
use magflock_kernel::bus::{Bus, BusConfig};
use magflock_kernel::policy_store::Policy;
use magflock_sandbox::{
    EventDelivery, MemoryScheduler, Metrics, Sandbox, SandboxConfig, durable_services,
};
use magflock_store::{AuditWriter, SqlStore, Store};
use std::sync::Arc;
use std::time::Duration;

use crate::{Config, StartError};

const SWEEP_EVERY: Duration = Duration::from_secs(3600);
const DELIVER_EVERY: Duration = Duration::from_millis(250);

pub struct KernelHost {
    pub gate: Arc<PolicyGate>,
    pub policy: Policy,
    pub bus: Arc<Bus>,
    pub sandbox: Arc<Sandbox>,
    pub metrics: Arc<Metrics>,
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
        let services = durable_services(
            &policy,
            audit,
            bus.clone(),
            store.clone(),
            metrics.clone(),
            Arc::new(MemoryScheduler::default()),
            &config.data_dir,
        );
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

        let mut tasks = Vec::new();
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
