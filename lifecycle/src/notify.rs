//! How the lifecycle manager tells the world: an audit entry (flushed before
//! the operation answers), an `extension.*` event on the bus, and, for what an
//! admin must look at, an alert.
//!
//! Guarantees: the audit entry is durable before the caller hears back; an
//! event that cannot be published is logged, never fails the operation (the
//! audit entry already records it).

use magflock_kernel::audit::Actor;
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Bus, Event};
use magflock_types::Outcome;
use serde_json::{Value, json};

use crate::LifecycleError;
use crate::manager::Lifecycle;

impl Lifecycle {
    /// Audits `action` on `extension` and waits until it is stored.
    pub(crate) async fn audit(
        &self,
        by: &Actor,
        action: &str,
        extension: &str,
        outcome: Outcome,
        detail: Value,
    ) -> Result<(), LifecycleError> {
        self.audit
            .record(by.entry(action, Some(extension), outcome, detail));
        self.audit.flush().await?;
        Ok(())
    }

    /// Publishes `event_type` about `extension` (data gets the id added).
    pub(crate) async fn publish(&self, event_type: &str, extension: &str, by: &Actor, data: Value) {
        publish(&self.bus, event_type, extension, by, data).await;
    }

    /// Stores an alert for the admins and publishes `extension.health_check.failed`
    /// when the alert is about health.
    pub(crate) async fn alert(&self, extension: &str, kind: &str, message: &str) {
        if let Err(e) = self.store.alert_raise(extension, kind, message).await {
            tracing::error!(extension, kind, "cannot store an alert: {e}");
        }
        tracing::warn!(extension, kind, "{message}");
    }
}

pub(crate) async fn publish(bus: &Bus, event_type: &str, extension: &str, by: &Actor, data: Value) {
    let mut data = if data.is_object() { data } else { json!({}) };
    data["extension"] = json!(extension);
    let context = Context {
        user_id: by
            .id
            .clone()
            .filter(|_| by.kind == magflock_types::ActorKind::User),
        ..Context::default()
    };
    let source = Source {
        component: "kernel".into(),
        extension: Some(extension.to_string()),
    };
    match Event::new(event_type, source, data, context, Vec::new()) {
        Ok(event) => {
            if let Err(e) = bus.publish(&event).await {
                tracing::error!(extension, event_type, "cannot publish: {e}");
            }
        }
        Err(e) => tracing::error!(extension, event_type, "bad event: {e}"),
    }
}
