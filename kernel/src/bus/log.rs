//! [`EventLog`]: what a durable backend of the bus must do, and the records it
//! deals in. The kernel's [`Bus`](super::Bus) holds the rules (validation,
//! pattern and capability filtering, attempt limits); a backend stores, orders
//! and counts.
//!
//! What every implementation guarantees:
//! * [`append`](EventLog::append) is atomic: the whole batch is stored, or none
//!   of it. It assigns each event the next global sequence number and the next
//!   sequence number of its `source.component`, both starting at 1, gap-free and
//!   increasing in publish order, also under concurrent publishers; numbers are
//!   never reused, even after the events are swept. A batch becomes visible to
//!   readers in full, and never before a batch with lower numbers.
//! * A subscription (id, patterns, granted capabilities, cursor) and its cursor
//!   are durable: after a restart, reading resumes after the last acknowledged
//!   sequence number.
//! * An acknowledgement only moves a cursor forward, and never past a delivery
//!   that failed and awaits its retry.
//! * A failed delivery is counted; at the configured limit the event is copied
//!   to the subscriber's dead letters (kept until purged, even after the log
//!   sweeps the event) and the cursor moves past it, in one transaction.

use super::BusError;
use crate::{Capability, Event, Pattern};
use async_trait::async_trait;
use std::collections::BTreeMap;

/// One event as the log holds it: the global sequence number (the log's
/// order) and the sequence number within its component.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedEvent {
    pub seq: u64,
    pub component_seq: u64,
    pub event: Event,
}

/// The numbers [`EventLog::append`] assigned to one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub component_seq: u64,
}

/// Where a new subscription starts reading (ignored when the subscription
/// exists: re-registering keeps its cursor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// Only events published from now on.
    Latest,
    /// Every event still retained.
    Earliest,
    /// Events with a sequence number above this one.
    After(u64),
}

/// A durable subscription.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    pub id: String,
    /// Receives events whose type matches any of these.
    pub patterns: Vec<Pattern>,
    /// The capabilities the policy gate granted the subscriber: it receives only
    /// events all of whose `capabilities_required` are here.
    pub capabilities: Vec<Capability>,
    /// The last sequence number acknowledged (or skipped); reading resumes after it.
    pub acked_seq: u64,
}

impl Subscription {
    /// Is `event` for this subscriber: does it match a pattern, and may the
    /// subscriber see it?
    pub fn wants(&self, event: &Event) -> bool {
        self.patterns.iter().any(|p| p.matches(&event.event_type))
            && event.visible_to(&self.capabilities)
    }
}

/// Where a delivery came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Read from the log after the subscriber's cursor.
    Log,
    /// A dead letter an operator requeued.
    Requeued,
}

/// An event that failed delivery to a subscriber too often.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    pub subscriber: String,
    pub seq: u64,
    pub component_seq: u64,
    pub event: Event,
    /// Failed deliveries so far.
    pub attempts: u32,
    pub last_error: String,
    /// When it was dead-lettered, in milliseconds since the Unix epoch.
    pub dead_at: i64,
    /// Requeued by an operator and waiting for redelivery.
    pub requeued: bool,
}

/// What [`EventLog::poll_state`] returns: everything a poll needs besides
/// the events themselves.
#[derive(Clone, Debug, PartialEq)]
pub struct PollState {
    pub subscription: Subscription,
    /// Failed deliveries so far, by sequence number, of events from the log not
    /// yet acknowledged.
    pub failures: BTreeMap<u64, u32>,
    /// Requeued dead letters, lowest sequence number first.
    pub requeued: Vec<DeadLetter>,
}

/// What happened to a failed delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOutcome {
    /// It will be delivered again (at the next poll); `failures` so far.
    Retry { failures: u32 },
    /// The limit was reached: it is a dead letter now and the subscriber moves on.
    DeadLettered { attempts: u32 },
}

/// A durable event log (the control-plane database today; a distributed log
/// such as NATS JetStream can implement the same contract).
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Stores a batch atomically (validated by the kernel already) and returns
    /// each event's numbers, in input order. A duplicate `event_id` refuses the
    /// whole batch with [`BusError::DuplicateEvent`].
    async fn append(&self, events: &[Event]) -> Result<Vec<Appended>, BusError>;

    /// The highest global sequence number assigned so far (0 for none).
    async fn head(&self) -> Result<u64, BusError>;

    /// Up to `limit` retained events with `seq > after`, in sequence order.
    async fn read(&self, after: u64, limit: usize) -> Result<Vec<LoggedEvent>, BusError>;

    /// The lowest sequence number among retained events whose timestamp is at
    /// or after `millis`.
    async fn first_seq_since(&self, millis: i64) -> Result<Option<u64>, BusError>;

    /// Registers `id`, or updates its patterns and capabilities keeping its cursor.
    async fn put_subscription(
        &self,
        id: &str,
        patterns: &[Pattern],
        capabilities: &[Capability],
        start: StartAt,
        now: i64,
    ) -> Result<Subscription, BusError>;

    /// Every subscription, by id.
    async fn subscriptions(&self) -> Result<Vec<Subscription>, BusError>;

    /// Removes a subscription with its failure counts and dead letters; false if
    /// there was none.
    async fn remove_subscription(&self, id: &str) -> Result<bool, BusError>;

    /// The subscription, its pending failure counts and up to `requeued_limit`
    /// requeued dead letters. [`BusError::UnknownSubscriber`] if none.
    async fn poll_state(&self, id: &str, requeued_limit: usize) -> Result<PollState, BusError>;

    /// Acknowledges a delivery. [`Origin::Log`]: moves the cursor forward to
    /// `seq` (cumulative; never backwards), refusing with
    /// [`BusError::OutOfOrderAck`] if an earlier delivery awaits a retry.
    /// [`Origin::Requeued`]: removes the requeued dead letter.
    async fn ack(&self, id: &str, seq: u64, origin: Origin) -> Result<(), BusError>;

    /// Moves the cursor forward to `seq` past events that are not for this
    /// subscriber, forgetting failure counts up to it.
    async fn skip(&self, id: &str, seq: u64) -> Result<(), BusError>;

    /// Sets the cursor to `acked_seq`, backwards or forwards (replay), and
    /// forgets failure counts after it.
    async fn set_cursor(&self, id: &str, acked_seq: u64) -> Result<(), BusError>;

    /// Counts a failed delivery of `event`; at `max_attempts` failures it becomes
    /// a dead letter (a log delivery also moves the cursor to its sequence
    /// number), all in one transaction. A requeued dead letter that is gone
    /// meanwhile (purged) changes nothing and reports `DeadLettered { attempts: 0 }`.
    async fn record_failure(
        &self,
        id: &str,
        event: &LoggedEvent,
        origin: Origin,
        error: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<FailOutcome, BusError>;

    /// Dead letters not requeued, of one subscriber or all, oldest sequence first.
    async fn dead_letters(
        &self,
        id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BusError>;

    /// Requeues a subscriber's dead letters (one, or all with `seq: None`) with a
    /// fresh attempt count; returns how many.
    async fn requeue_dead_letters(&self, id: &str, seq: Option<u64>) -> Result<u64, BusError>;

    /// Deletes dead letters that are not requeued, of one subscriber or all;
    /// returns how many.
    async fn purge_dead_letters(&self, id: Option<&str>) -> Result<u64, BusError>;

    /// Deletes events whose timestamp is before `cutoff` (milliseconds since the
    /// Unix epoch); returns how many.
    async fn sweep(&self, cutoff: i64) -> Result<u64, BusError>;
}
