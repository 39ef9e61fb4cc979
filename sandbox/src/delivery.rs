//! Delivers bus events to the extensions that subscribe to them.
//!
//! Guarantees: an extension is a durable bus subscriber (`ext:<id>`) with the
//! patterns of its manifest and the capabilities granted to it now (so it
//! never receives an event whose required capabilities it lacks). Events reach
//! it only while it may run and holds `realtime.subscribe_events`; until then
//! they wait at its cursor. Each event is acknowledged only after the guest's
//! `handle-event` returned; a guest error is a failed delivery (retried, then
//! dead-lettered by the bus); a stopped guest leaves the event unacknowledged
//! for redelivery after an admin re-enables it.

use magflock_kernel::Capability;
use magflock_kernel::bus::{Bus, StartAt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::{Sandbox, SandboxError};

pub struct EventDelivery {
    bus: Arc<Bus>,
    sandbox: Arc<Sandbox>,
    /// The grants each subscription was last registered with.
    registered: Mutex<HashMap<String, Vec<Capability>>>,
    batch: usize,
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub delivered: usize,
    pub failed: usize,
}

pub fn subscriber_id(extension: &str) -> String {
    format!("ext:{extension}")
}

impl EventDelivery {
    pub fn new(bus: Arc<Bus>, sandbox: Arc<Sandbox>) -> EventDelivery {
        EventDelivery {
            bus,
            sandbox,
            registered: Mutex::new(HashMap::new()),
            batch: 64,
        }
    }

    /// One pass over every loaded extension with subscriptions.
    pub async fn run_once(&self) -> Result<Round, SandboxError> {
        let mut round = Round::default();
        for loaded in self.sandbox.loaded() {
            let manifest = loaded.manifest();
            if manifest.subscriptions.is_empty() {
                continue;
            }
            let id = loaded.id().to_string();
            let gate = &self.sandbox.services().gate;
            if gate
                .check(&id, Capability::RealtimeSubscribeEvents)
                .is_err()
            {
                continue;
            }
            let subscriber = subscriber_id(&id);
            let granted = gate.granted(&id);
            let stale = self.registered.lock().expect("delivery lock").get(&id) != Some(&granted);
            if stale {
                self.bus
                    .subscribe(
                        &subscriber,
                        &manifest.subscriptions,
                        &granted,
                        StartAt::Latest,
                    )
                    .await
                    .map_err(|e| SandboxError::Internal(format!("subscribing {id}: {e}")))?;
                self.registered
                    .lock()
                    .expect("delivery lock")
                    .insert(id.clone(), granted);
            }
            let deliveries = self
                .bus
                .poll(&subscriber, self.batch)
                .await
                .map_err(|e| SandboxError::Internal(format!("polling for {id}: {e}")))?;
            for delivery in deliveries {
                let json = serde_json::to_string(&delivery.event)
                    .map_err(|e| SandboxError::Internal(e.to_string()))?;
                let guest = loaded.clone();
                let outcome = tokio::task::spawn_blocking(move || guest.handle_event(&json))
                    .await
                    .map_err(|e| SandboxError::Internal(format!("event handler thread: {e}")))?;
                let recorded = match outcome {
                    Ok(()) => {
                        round.delivered += 1;
                        self.bus.ack(&delivery).await
                    }
                    Err(SandboxError::Guest { message, .. }) => {
                        round.failed += 1;
                        self.bus.fail(&delivery, &message).await.map(|_| ())
                    }
                    Err(_) => {
                        round.failed += 1;
                        break;
                    }
                };
                recorded.map_err(|e| {
                    SandboxError::Internal(format!("recording delivery to {id}: {e}"))
                })?;
            }
        }
        Ok(round)
    }
}
