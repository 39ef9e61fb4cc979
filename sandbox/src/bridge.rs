//! Bridges from guest calls (synchronous) to the kernel's asynchronous
//! services: the event bus and durable policy changes.
//!
//! Guarantees: an event an extension publishes is in the durable log before
//! the guest gets its id back (nothing acknowledged is lost); a quarantine is
//! stored right after it took effect in the gate; a key-value `set` is
//! durable before the guest continues. Guest calls run on blocking threads,
//! or on an async worker of a multi-thread runtime (a caller running a quick
//! call inline): [`wait_for`] works on both.

use magflock_kernel::Event;
use magflock_kernel::bus::Bus;
use magflock_kernel::kv::KeyValueStore;
use magflock_kernel::policy_store::Policy;
use std::sync::Arc;
use tokio::runtime::Handle;

use crate::services::{EventPublisher, KeyValue, Metrics, QuarantineRecorder, Scheduler, Services};
use magflock_kernel::audit::AuditSink;
use std::collections::HashMap;
use std::path::Path;

/// Runs `future` to completion from synchronous guest code. A future that
/// is ready at once (a value the store already holds) costs nothing more;
/// otherwise it waits: directly on a blocking thread, or on an async worker
/// through `block_in_place`, so the worker's other tasks move to another
/// thread meanwhile. Not for a current-thread runtime's own thread (callers
/// never run guests there).
pub fn wait_for<F: std::future::Future>(runtime: &Handle, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    {
        let _in_runtime = runtime.enter();
        let mut first = std::task::Context::from_waker(std::task::Waker::noop());
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut first) {
            return output;
        }
    }
    tokio::task::block_in_place(|| runtime.block_on(future))
}

/// Publishes through the bus, waiting for the durable append.
pub struct BusPublisher {
    pub bus: Arc<Bus>,
    pub runtime: Handle,
}

impl EventPublisher for BusPublisher {
    fn publish(&self, event: Event) -> Result<(), String> {
        wait_for(&self.runtime, self.bus.publish(&event))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn publish_later(&self, event: Event) {
        let bus = self.bus.clone();
        self.runtime.spawn(async move {
            if let Err(e) = bus.publish(&event).await {
                tracing::error!(event = event.event_type, "cannot publish: {e}");
            }
        });
    }
}

/// Stores quarantines through the policy store, in the background.
pub struct PolicyRecorder {
    pub policy: Policy,
    pub runtime: Handle,
}

impl QuarantineRecorder for PolicyRecorder {
    fn quarantined(&self, extension: &str) {
        let policy = self.policy.clone();
        let extension = extension.to_string();
        self.runtime.spawn(async move {
            if let Err(e) = policy.persist(&extension).await {
                tracing::error!(extension, "cannot store the quarantine: {e}");
            }
        });
    }
}

/// The extensions' key-value store in the control-plane database.
pub struct DurableKeyValue {
    pub store: Arc<dyn KeyValueStore>,
    pub runtime: Handle,
}

impl KeyValue for DurableKeyValue {
    fn get(&self, extension: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        wait_for(&self.runtime, self.store.kv_get(extension, key)).map_err(|e| e.to_string())
    }
    fn set(&self, extension: &str, key: &str, value: &[u8]) -> Result<(), String> {
        wait_for(&self.runtime, self.store.kv_set(extension, key, value)).map_err(|e| e.to_string())
    }
    fn delete(&self, extension: &str, key: &str) -> Result<(), String> {
        wait_for(&self.runtime, self.store.kv_delete(extension, key)).map_err(|e| e.to_string())
    }
    fn keys(&self, extension: &str, prefix: &str) -> Result<Vec<String>, String> {
        wait_for(&self.runtime, self.store.kv_keys(extension, prefix)).map_err(|e| e.to_string())
    }
}

/// Services wired to the kernel's durable parts: events through `bus`,
/// quarantines through `policy`, key-values in `kv`, folders under `folders`
/// (`extensions-tmp/`, `extensions/`). Call on the runtime that will serve
/// the bridges. Component adapters are added by the caller.
pub fn durable_services(
    policy: &Policy,
    audit: Arc<dyn AuditSink>,
    bus: Arc<Bus>,
    kv: Arc<dyn KeyValueStore>,
    metrics: Arc<Metrics>,
    scheduler: Arc<dyn Scheduler>,
    folders: &Path,
) -> Services {
    let runtime = Handle::current();
    Services {
        gate: policy.gate.clone(),
        audit,
        events: Arc::new(BusPublisher {
            bus,
            runtime: runtime.clone(),
        }),
        quarantines: Arc::new(PolicyRecorder {
            policy: policy.clone(),
            runtime: runtime.clone(),
        }),
        adapters: HashMap::new(),
        kv: Arc::new(DurableKeyValue { store: kv, runtime }),
        metrics,
        scheduler,
        temp_root: folders.join("extensions-tmp"),
        data_root: folders.join("extensions"),
    }
}
