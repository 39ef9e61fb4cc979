//! The operation journal: every lifecycle operation writes the step it is
//! about to take, durably, before taking it.
//!
//! Guarantees: [`Journal::step`] returns only once the step is stored, so a
//! process killed at any point after it finds the step on the next start
//! (and [`crate::Lifecycle::recover`] completes or undoes it). Operation data
//! (versions, files, migrations applied so far) travels with each step.
//!
//! Fault injection for the crash tests: with `MAGFLOCK_LIFECYCLE_PAUSE_AT` set
//! to `<operation>:<step>`, the process prints `paused at <operation>:<step>`
//! on stderr right after storing that step and waits there forever, so a test
//! can kill it (-9) at exactly that point. Nothing else changes.

use magflock_kernel::bus::now_millis;
use magflock_kernel::lifecycle_store::{JournalEntry, LifecycleStore};
use serde_json::Value;
use std::sync::Arc;

use crate::LifecycleError;

pub const PAUSE_VARIABLE: &str = "MAGFLOCK_LIFECYCLE_PAUSE_AT";

/// One journaled operation in progress.
pub struct Operation {
    store: Arc<dyn LifecycleStore>,
    pub id: String,
    pub name: &'static str,
    pub extension: String,
    pub data: Value,
    pub step: String,
}

pub struct Journal {
    store: Arc<dyn LifecycleStore>,
    pause_at: Option<String>,
}

impl Journal {
    pub fn new(store: Arc<dyn LifecycleStore>) -> Journal {
        Journal {
            store,
            pause_at: std::env::var(PAUSE_VARIABLE).ok().filter(|v| !v.is_empty()),
        }
    }

    /// Starts an operation at its first step.
    pub async fn begin(
        &self,
        name: &'static str,
        extension: &str,
        data: Value,
    ) -> Result<Operation, LifecycleError> {
        let now = now_millis();
        let entry = JournalEntry {
            id: uuid::Uuid::now_v7().to_string(),
            extension: extension.to_string(),
            operation: name.to_string(),
            step: "begun".to_string(),
            data: data.to_string(),
            started_at: now,
            updated_at: now,
        };
        self.store.journal_begin(&entry).await?;
        Ok(Operation {
            store: self.store.clone(),
            id: entry.id,
            name,
            extension: extension.to_string(),
            data,
            step: entry.step,
        })
    }

    /// Rebuilds an operation found unfinished at start.
    pub fn resume(&self, entry: &JournalEntry) -> Operation {
        Operation {
            store: self.store.clone(),
            id: entry.id.clone(),
            name: operation_name(&entry.operation),
            extension: entry.extension.clone(),
            data: serde_json::from_str(&entry.data).unwrap_or(Value::Null),
            step: entry.step.clone(),
        }
    }

    pub async fn step(&self, op: &mut Operation, step: &str) -> Result<(), LifecycleError> {
        op.step = step.to_string();
        op.store
            .journal_step(&op.id, step, &op.data.to_string())
            .await?;
        if self.pause_at.as_deref() == Some(&format!("{}:{step}", op.name)) {
            eprintln!("paused at {}:{step}", op.name);
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        Ok(())
    }

    pub async fn finish(&self, op: Operation) -> Result<(), LifecycleError> {
        op.store.journal_finish(&op.id).await?;
        Ok(())
    }
}

/// Turns an error into the (step, reason) a failed operation reports.
pub(crate) fn failed_at(step: &str) -> impl Fn(LifecycleError) -> (String, String) {
    let step = step.to_string();
    move |e: LifecycleError| (step.clone(), e.to_string())
}

/// The strings of a JSON array in operation data (empty if absent).
pub(crate) fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn operation_name(stored: &str) -> &'static str {
    match stored {
        "install" => "install",
        "enable" => "enable",
        "disable" => "disable",
        "upgrade" => "upgrade",
        "rollback" => "rollback",
        "uninstall" => "uninstall",
        _ => "unknown",
    }
}
