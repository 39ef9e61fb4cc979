//! The event bus: components and extensions publish [`Event`](crate::Event)s;
//! subscribers pull them from a durable log, handle them and acknowledge them.
//!
//! Guarantees:
//! * **At-least-once delivery.** Each subscriber has a durable cursor: the last
//!   sequence number it acknowledged. A dispatcher polls ([`Bus::poll`]),
//!   handles each [`Delivery`], and acknowledges it after the handler returns
//!   ([`Bus::ack`]). Whatever was delivered but not acknowledged when the
//!   process stopped (crash, restart) is delivered again after it, so a handler
//!   may see an event more than once: consumers dedupe on `event_id`.
//! * **Ordered within a component.** At publish the log assigns each event a
//!   global sequence number and a per-component sequence number
//!   (`source.component`), both gap-free and increasing in publish order, also
//!   with concurrent publishers. A subscriber receives events in global order,
//!   so the events of one component arrive in their component order.
//! * **No order across components** is promised: a consumer must not rely on
//!   how events of different components interleave (a distributed backend may
//!   deliver them in another interleaving).
//! * **Capabilities and patterns are enforced by the kernel.** A subscriber
//!   receives an event only if the event's type matches one of its patterns
//!   (`*`, `category.*`, an exact type) AND it holds every capability in the
//!   event's `capabilities_required`. Other events are passed over: never handed
//!   out, never counted as delivered to it.
//! * **Retention** is seven days by default ([`BusConfig::retention`]), measured
//!   from each event's timestamp; a sweeper ([`Bus::run_sweeper`], or
//!   [`Bus::sweep_at`]) deletes older events. Sequence numbers are never reused.
//! * **Replay** from a sequence number or a time: [`Bus::rewind`] moves a
//!   subscriber's cursor back (or forward), [`Bus::replay`] reads a range of
//!   the log without touching any subscriber.
//! * **Dead letters.** After `max_attempts` failed deliveries
//!   ([`BusConfig::max_attempts`], default 5) of one event to one subscriber, the
//!   event goes to that subscriber's dead letters and its delivery moves on. Dead
//!   letters can be listed, requeued (delivered again, first) and purged.
//!
//! Validation at publish: an event that breaks the schema is refused with
//! [`BusError::InvalidEvent`] naming the field, and its batch publishes nothing.
//! The backend is any [`EventLog`] (the control-plane database in
//! `magflock-store`; [`MemoryLog`] for tests).
//!
//! A subscriber is one cursor: run one dispatcher per subscriber (two polling
//! the same subscriber are handed the same events). Acknowledgements of log
//! deliveries are cumulative, so handle a poll's deliveries in order; an
//! acknowledgement that would pass a failed delivery awaiting its retry is
//! refused ([`BusError::OutOfOrderAck`]). A dispatcher loop:
//! ```ignore
//! loop {
//!     let batch = bus.poll(&id, 100).await?;
//!     if batch.is_empty() { sleep(idle).await; continue; }
//!     for d in &batch {
//!         match handle(&d.event).await {
//!             Ok(()) => bus.ack(d).await?,
//!             Err(e) => match bus.fail(d, &e.to_string()).await? {
//!                 FailOutcome::Retry { .. } => break, // redelivered at the next poll
//!                 FailOutcome::DeadLettered { .. } => continue,
//!             },
//!         }
//!     }
//! }
//! ```

mod error;
mod log;
mod memory;
mod service;
mod sweeper;
pub mod validate;

pub use error::BusError;
pub use log::{
    Appended, DeadLetter, EventLog, FailOutcome, LoggedEvent, Origin, PollState, StartAt,
    Subscription,
};
pub use memory::MemoryLog;
pub use service::{
    Bus, BusConfig, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_DATA_BYTES, DEFAULT_RETENTION, Delivery,
    MAX_SUBSCRIBER_LEN, ReplayFrom, now_millis,
};

#[cfg(test)]
mod tests;
