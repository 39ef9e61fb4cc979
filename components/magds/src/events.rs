//! The events MagDS publishes, and where it publishes them.
//!
//! Guarantees: every event has the kernel's shape ([`Event`]) with source
//! component `magds`, the project in its context, and the capability a
//! subscriber needs to see it: `database.migration.applied` needs
//! `database.schema`, `database.backup.completed` needs `database.admin`,
//! `database.connection.failed` needs `system.metrics`. Events are published
//! after the fact: a failure to publish is logged and never undoes or fails
//! the operation that caused it.

use std::sync::Arc;

use async_trait::async_trait;
use magflock_kernel::adapter::EventEmitter;
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Bus, Capability, Event};
use serde_json::Value;

pub const MIGRATION_APPLIED: &str = "database.migration.applied";
pub const BACKUP_COMPLETED: &str = "database.backup.completed";
pub const CONNECTION_FAILED: &str = "database.connection.failed";

/// Where MagDS publishes its events.
#[async_trait]
pub trait EventSink: Send + Sync {
    async fn publish(&self, event: Event);
}

/// Publishes nowhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEvents;

#[async_trait]
impl EventSink for NoEvents {
    async fn publish(&self, _event: Event) {}
}

/// Publishes to the kernel's event bus.
#[derive(Clone)]
pub struct BusEvents {
    pub bus: Arc<Bus>,
}

#[async_trait]
impl EventSink for BusEvents {
    async fn publish(&self, event: Event) {
        if let Err(error) = self.bus.publish(&event).await {
            tracing::warn!(event_type = %event.event_type, %error, "MagDS could not publish an event");
        }
    }
}

/// Publishes through a kernel [`EventEmitter`] (the adapter contract's EmitEvent).
#[derive(Clone)]
pub struct EmitterEvents {
    pub emitter: Arc<dyn EventEmitter>,
}

#[async_trait]
impl EventSink for EmitterEvents {
    async fn publish(&self, event: Event) {
        let event_type = event.event_type.clone();
        if let Err(error) = self.emitter.emit(event) {
            tracing::warn!(%event_type, %error, "MagDS could not emit an event");
        }
    }
}

/// The capability a subscriber needs to receive an event of this type.
fn required(event_type: &str) -> Capability {
    match event_type {
        MIGRATION_APPLIED => Capability::DatabaseSchema,
        BACKUP_COMPLETED => Capability::DatabaseAdmin,
        _ => Capability::SystemMetrics,
    }
}

/// A MagDS event of `event_type` about `project_id` (if any).
pub fn magds_event(event_type: &str, project_id: Option<&str>, data: Value) -> Option<Event> {
    let source = Source {
        component: "magds".to_string(),
        extension: None,
    };
    let context = Context {
        project_id: project_id.map(str::to_string),
        user_id: None,
        trace_id: None,
    };
    match Event::new(
        event_type,
        source,
        data,
        context,
        vec![required(event_type)],
    ) {
        Ok(event) => Some(event),
        Err(error) => {
            tracing::error!(%error, "MagDS built an invalid event");
            None
        }
    }
}
