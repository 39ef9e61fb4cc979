//! The gateway's events (`api.*`), published to the kernel's bus off the
//! request path.
//!
//! Guarantees: emitting never blocks or fails a request: events go through a
//! bounded queue (capacity set by [`crate::GateConfig::event_queue`]) to one
//! writer task that publishes them in batches, in emission order (so the bus's
//! per-component order is the gateway's order). When the queue is full, or
//! the bus refuses a batch, those events are dropped, counted
//! ([`EventSink::dropped`]) and logged. Every event has source component
//! `maggate` and requires `api.intercept_request` to receive (it names request
//! paths and clients); event data never holds an API key or a query string.

use magflock_kernel::bus::Bus;
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Event};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

pub const REQUEST_RECEIVED: &str = "api.request.received";
pub const RESPONSE_SENT: &str = "api.response.sent";
pub const ERROR_OCCURRED: &str = "api.error.occurred";
pub const RATE_LIMIT_EXCEEDED: &str = "api.rate_limit.exceeded";

/// The most events one bus write carries.
const BATCH: usize = 256;

pub struct EventSink {
    queue: mpsc::Sender<Event>,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    /// Starts the writer task (needs a Tokio runtime); it ends when the sink
    /// is dropped, after publishing what was queued.
    pub fn spawn(bus: Arc<Bus>, capacity: usize) -> EventSink {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write(bus, rx, dropped.clone()));
        EventSink { queue, dropped }
    }

    /// Queues an event of the gateway.
    pub fn emit(&self, event_type: &str, data: Value, context: Context) {
        let source = Source {
            component: "maggate".into(),
            extension: None,
        };
        let event = match Event::new(
            event_type,
            source,
            data,
            context,
            vec![Capability::ApiInterceptRequest],
        ) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!("maggate built an invalid event: {e}");
                return;
            }
        };
        if self.queue.try_send(event).is_err() {
            self.count_dropped(1);
        }
    }

    /// Events dropped so far (queue full or refused by the bus).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn count_dropped(&self, n: u64) {
        let before = self.dropped.fetch_add(n, Ordering::Relaxed);
        if before == 0 || (before + n) / 1000 > before / 1000 {
            tracing::warn!(dropped = before + n, "maggate is dropping API events");
        }
    }
}

async fn write(bus: Arc<Bus>, mut rx: mpsc::Receiver<Event>, dropped: Arc<AtomicU64>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        if let Err(e) = bus.publish_batch(&batch).await {
            dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
            tracing::error!(events = batch.len(), "cannot publish API events: {e}");
        }
        batch.clear();
    }
}
