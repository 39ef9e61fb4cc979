//! What host imports reach: the kernel's policy gate, audit log and event
//! bus, the component adapters, and the kernel-owned resources (key-value
//! store, metrics, private folders, outbound HTTP).
//!
//! Guarantees: an extension's key-value entries, metrics and folders are keyed
//! by its id and never visible to another extension.

use magflock_kernel::adapter::Adapter;
use magflock_kernel::audit::AuditSink;
use magflock_kernel::{Component, Event, PolicyGate};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Publishes events to the kernel's bus (the durable log).
pub trait EventPublisher: Send + Sync {
    /// Publishes and waits until the event is durable (an extension's own
    /// publish: the guest gets the id back only after this).
    fn publish(&self, event: Event) -> Result<(), String>;
    /// Publishes without waiting (the kernel's own notices, such as
    /// `extension.error`, whose durable record is the audit entry).
    fn publish_later(&self, event: Event) {
        if let Err(e) = self.publish(event) {
            tracing::error!("cannot publish an event: {e}");
        }
    }
}

/// Told when the sandbox quarantines an extension, so the quarantine is
/// stored (it already holds in the gate).
pub trait QuarantineRecorder: Send + Sync {
    fn quarantined(&self, extension: &str);
}

/// A per-extension key-value store.
pub trait KeyValue: Send + Sync {
    fn get(&self, extension: &str, key: &str) -> Result<Option<Vec<u8>>, String>;
    fn set(&self, extension: &str, key: &str, value: &[u8]) -> Result<(), String>;
    fn delete(&self, extension: &str, key: &str) -> Result<(), String>;
    fn keys(&self, extension: &str, prefix: &str) -> Result<Vec<String>, String>;
}

/// Background jobs and cron schedules (`system.*`); the lifecycle manager runs them.
pub trait Scheduler: Send + Sync {
    /// Queues `command` to run later; returns the job id.
    fn enqueue(&self, extension: &str, command: &str, args: Vec<String>) -> Result<String, String>;
    fn schedule(
        &self,
        extension: &str,
        name: &str,
        cron: &str,
        command: &str,
    ) -> Result<(), String>;
    fn unschedule(&self, extension: &str, name: &str) -> Result<(), String>;
}

/// A queued job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub extension: String,
    pub command: String,
    pub args: Vec<String>,
}

/// Jobs and schedules held in memory until the lifecycle manager takes them.
#[derive(Default)]
pub struct MemoryScheduler {
    jobs: Mutex<Vec<Job>>,
    schedules: Mutex<BTreeMap<(String, String), (String, String)>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl MemoryScheduler {
    /// Takes every queued job, oldest first.
    pub fn take_jobs(&self) -> Vec<Job> {
        self.jobs
            .lock()
            .map(|mut jobs| std::mem::take(&mut *jobs))
            .unwrap_or_default()
    }
    /// `(name, cron, command)` of an extension's schedules.
    pub fn schedules(&self, extension: &str) -> Vec<(String, String, String)> {
        self.schedules
            .lock()
            .map(|s| {
                s.iter()
                    .filter(|((ext, _), _)| ext == extension)
                    .map(|((_, name), (cron, command))| {
                        (name.clone(), cron.clone(), command.clone())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Scheduler for MemoryScheduler {
    fn enqueue(&self, extension: &str, command: &str, args: Vec<String>) -> Result<String, String> {
        let n = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let id = format!("job-{n}");
        let mut jobs = self.jobs.lock().map_err(|e| e.to_string())?;
        jobs.push(Job {
            id: id.clone(),
            extension: extension.into(),
            command: command.into(),
            args,
        });
        Ok(id)
    }
    fn schedule(
        &self,
        extension: &str,
        name: &str,
        cron: &str,
        command: &str,
    ) -> Result<(), String> {
        let fields = cron.split_whitespace().count();
        if fields != 5 {
            return Err(format!(
                "'{cron}' is not a cron expression (5 fields: minute hour day month weekday)"
            ));
        }
        let mut s = self.schedules.lock().map_err(|e| e.to_string())?;
        s.insert(
            (extension.into(), name.into()),
            (cron.into(), command.into()),
        );
        Ok(())
    }
    fn unschedule(&self, extension: &str, name: &str) -> Result<(), String> {
        let mut s = self.schedules.lock().map_err(|e| e.to_string())?;
        s.remove(&(extension.to_string(), name.to_string()));
        Ok(())
    }
}

/// Custom metrics reported by extensions (`system.metrics`).
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(String, String), u64>>,
    gauges: Mutex<BTreeMap<(String, String), f64>>,
}

impl Metrics {
    pub fn add(&self, extension: &str, name: &str, delta: u64) {
        if let Ok(mut c) = self.counters.lock() {
            let slot = c.entry((extension.into(), name.into())).or_default();
            *slot = slot.saturating_add(delta);
        }
    }
    pub fn set(&self, extension: &str, name: &str, value: f64) {
        if let Ok(mut g) = self.gauges.lock() {
            g.insert((extension.into(), name.into()), value);
        }
    }
    pub fn counter(&self, extension: &str, name: &str) -> u64 {
        self.counters
            .lock()
            .ok()
            .and_then(|c| c.get(&(extension.into(), name.into())).copied())
            .unwrap_or(0)
    }
    pub fn gauge(&self, extension: &str, name: &str) -> Option<f64> {
        self.gauges
            .lock()
            .ok()
            .and_then(|g| g.get(&(extension.into(), name.into())).copied())
    }
}

/// Everything the host imports use. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub gate: Arc<PolicyGate>,
    pub audit: Arc<dyn AuditSink>,
    pub events: Arc<dyn EventPublisher>,
    pub quarantines: Arc<dyn QuarantineRecorder>,
    pub adapters: HashMap<Component, Arc<dyn Adapter>>,
    pub kv: Arc<dyn KeyValue>,
    pub metrics: Arc<Metrics>,
    pub scheduler: Arc<dyn Scheduler>,
    /// Each extension gets `<temp_root>/<id>/` for `filesystem.temp_only`.
    pub temp_root: PathBuf,
    /// Each extension gets `<data_root>/<id>/` for `filesystem.read`/`write`.
    pub data_root: PathBuf,
}
