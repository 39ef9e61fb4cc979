//! MagWS's events on the kernel's bus: `realtime.connection.opened`,
//! `realtime.subscription.created`, `realtime.message.sent` and
//! `realtime.connection.closed`, published off the connection path.
//!
//! Guarantees: emitting never blocks or fails a connection: events go
//! through a bounded queue to one writer task that publishes them in batches,
//! in emission order (so the bus's per-component order is MagWS's order).
//! When the queue is full, or the bus refuses a batch, those events are
//! dropped, counted ([`EventSink::dropped`]) and logged. Every event has
//! source component `magws` and requires `realtime.subscribe_events` to
//! receive; event data never holds an API key or a message's content (only
//! its size).

use magflock_kernel::bus::Bus;
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Event};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

pub const CONNECTION_OPENED: &str = "realtime.connection.opened";
pub const SUBSCRIPTION_CREATED: &str = "realtime.subscription.created";
pub const MESSAGE_SENT: &str = "realtime.message.sent";
pub const CONNECTION_CLOSED: &str = "realtime.connection.closed";

/// The source component of MagWS's events.
pub const COMPONENT: &str = "magws";

/// The most events one bus write carries.
const BATCH: usize = 256;

pub struct EventSink {
    queue: mpsc::Sender<Event>,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    /// Starts the writer task on `runtime`; it ends when the sink is
    /// dropped, after publishing what was queued.
    pub fn spawn(bus: Arc<Bus>, capacity: usize, runtime: &tokio::runtime::Handle) -> EventSink {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        runtime.spawn(write(bus, rx, dropped.clone()));
        EventSink { queue, dropped }
    }

    /// Queues an event of MagWS (`extension`: the extension that caused it).
    pub fn emit(&self, event_type: &str, data: Value, context: Context, extension: Option<&str>) {
        let source = Source {
            component: COMPONENT.into(),
            extension: extension.map(str::to_string),
        };
        let event = match Event::new(
            event_type,
            source,
            data,
            context,
            vec![Capability::RealtimeSubscribeEvents],
        ) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!("magws built an invalid event: {e}");
                return;
            }
        };
        if self.queue.try_send(event).is_err() {
            let before = self.dropped.fetch_add(1, Ordering::Relaxed);
            if before == 0 || (before + 1).is_multiple_of(1000) {
                tracing::warn!(dropped = before + 1, "magws is dropping realtime events");
            }
        }
    }

    /// Events dropped so far (queue full or refused by the bus).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn write(bus: Arc<Bus>, mut rx: mpsc::Receiver<Event>, dropped: Arc<AtomicU64>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        if let Err(e) = bus.publish_batch(&batch).await {
            dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
            tracing::error!(events = batch.len(), "cannot publish realtime events: {e}");
        }
        batch.clear();
    }
}
