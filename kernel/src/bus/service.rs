//! [`Bus`]: the kernel's side of the event bus, over any [`EventLog`].
//!
//! Guarantees (the rules that belong to the kernel, whatever the backend):
//! * Only valid events are published ([`validate`](super::validate)); a batch
//!   with one invalid event, or one id twice, publishes nothing.
//! * A subscriber receives an event only if its type matches one of the
//!   subscriber's patterns AND the subscriber holds every capability the event
//!   requires ([`Subscription::wants`]), checked at every poll against the
//!   grants stored with the subscription, for log reads and requeued dead
//!   letters alike. Events it may not receive are passed over: they are never
//!   handed out, counted as an attempt or dead-lettered for it.
//! * Deliveries come in log order (requeued dead letters first); each carries
//!   its attempt number (1 + failed deliveries recorded so far).
//! * After `max_attempts` failures ([`BusConfig`], default 5) an event becomes a
//!   dead letter for that subscriber and delivery moves on.

use super::log::{
    Appended, DeadLetter, EventLog, FailOutcome, LoggedEvent, Origin, StartAt, Subscription,
};
use super::{BusError, validate};
use crate::{Capability, Event, Pattern};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Seven days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// 256 KiB of JSON.
pub const DEFAULT_MAX_DATA_BYTES: usize = 256 * 1024;
/// The longest subscriber id.
pub const MAX_SUBSCRIBER_LEN: usize = 200;

/// The bus's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusConfig {
    /// How long events are kept (measured from their own timestamp).
    pub retention: Duration,
    /// Failed deliveries of one event to one subscriber before it is dead-lettered.
    pub max_attempts: u32,
    /// The largest `data` accepted, in bytes of JSON.
    pub max_data_bytes: usize,
    /// The most log events one poll examines while looking for events the
    /// subscriber wants (bounds the work of a poll over a long stretch of
    /// events that are not for it; the next poll continues).
    pub scan_limit: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            retention: DEFAULT_RETENTION,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_data_bytes: DEFAULT_MAX_DATA_BYTES,
            scan_limit: 10_000,
        }
    }
}

/// One event handed to one subscriber. Handle it, then [`Bus::ack`] it, or
/// [`Bus::fail`] it.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub subscriber: String,
    /// Global sequence number.
    pub seq: u64,
    /// Sequence number within `event.source.component`.
    pub component_seq: u64,
    /// 1 for the first delivery, 2 after one recorded failure, and so on.
    pub attempt: u32,
    pub origin: Origin,
    pub event: Event,
}

impl Delivery {
    fn logged(&self) -> LoggedEvent {
        LoggedEvent {
            seq: self.seq,
            component_seq: self.component_seq,
            event: self.event.clone(),
        }
    }
}

/// Where a replay starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayFrom {
    /// From this global sequence number (included).
    Seq(u64),
    /// From the first retained event (in log order) whose timestamp is at or
    /// after this time, in milliseconds since the Unix epoch. Timestamps come
    /// from publishers, so later events in the log may carry earlier times.
    Millis(i64),
}

/// The event bus: publish, subscribe, poll, acknowledge, fail, replay, sweep.
#[derive(Clone)]
pub struct Bus {
    log: Arc<dyn EventLog>,
    config: BusConfig,
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Bus {
    pub fn new(log: Arc<dyn EventLog>) -> Bus {
        Bus::with_config(log, BusConfig::default())
    }

    /// A bus with `config` (`max_attempts` and `scan_limit` of at least 1).
    pub fn with_config(log: Arc<dyn EventLog>, mut config: BusConfig) -> Bus {
        config.max_attempts = config.max_attempts.max(1);
        config.scan_limit = config.scan_limit.max(1);
        Bus { log, config }
    }

    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// The backend.
    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.log
    }

    /// Publishes one event.
    pub async fn publish(&self, event: &Event) -> Result<Appended, BusError> {
        let appended = self.publish_batch(std::slice::from_ref(event)).await?;
        appended
            .into_iter()
            .next()
            .ok_or_else(|| BusError::Backend("append returned no sequence number".into()))
    }

    /// Publishes a batch atomically: all events or none. Returns each event's
    /// numbers, in input order.
    pub async fn publish_batch(&self, events: &[Event]) -> Result<Vec<Appended>, BusError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = HashSet::with_capacity(events.len());
        for event in events {
            validate::validate(event, self.config.max_data_bytes)?;
            if !ids.insert(event.event_id.as_str()) {
                return Err(BusError::DuplicateEvent(event.event_id.clone()));
            }
        }
        let appended = self.log.append(events).await?;
        if appended.len() != events.len() {
            return Err(BusError::Backend(format!(
                "append stored {} events but returned {} sequence numbers",
                events.len(),
                appended.len()
            )));
        }
        Ok(appended)
    }

    /// Registers subscriber `id` (or updates its patterns and grants, keeping its
    /// cursor). `granted` is what the policy gate granted it now; call again
    /// when grants change.
    pub async fn subscribe<P: AsRef<str> + Sync>(
        &self,
        id: &str,
        patterns: &[P],
        granted: &[Capability],
        start: StartAt,
    ) -> Result<Subscription, BusError> {
        let invalid = |problem: String| BusError::InvalidSubscription {
            id: id.to_string(),
            problem,
        };
        if id.is_empty()
            || id.len() > MAX_SUBSCRIBER_LEN
            || id.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(invalid(format!(
                "the id must be 1 to {MAX_SUBSCRIBER_LEN} characters without spaces or control characters"
            )));
        }
        if patterns.is_empty() {
            return Err(invalid("at least one pattern is needed".into()));
        }
        let patterns = patterns
            .iter()
            .map(|p| Pattern::parse(p.as_ref()).map_err(|e| invalid(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let mut granted = granted.to_vec();
        granted.sort();
        granted.dedup();
        self.log
            .put_subscription(id, &patterns, &granted, start, now_millis())
            .await
    }

    /// Removes a subscriber with its pending failures and dead letters.
    pub async fn unsubscribe(&self, id: &str) -> Result<bool, BusError> {
        self.log.remove_subscription(id).await
    }

    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, BusError> {
        self.log.subscriptions().await
    }

    pub async fn subscription(&self, id: &str) -> Result<Subscription, BusError> {
        Ok(self.log.poll_state(id, 0).await?.subscription)
    }

    /// The highest sequence number published so far.
    pub async fn head(&self) -> Result<u64, BusError> {
        self.log.head().await
    }

    /// Up to `max` deliveries for subscriber `id`: requeued dead letters first,
    /// then events after its cursor, in log order, only those it wants. Empty
    /// when there is nothing new. Handle them in order: [`Bus::ack`] each (or the
    /// last, with [`Bus::ack_batch`]); on a failure call [`Bus::fail`] and, unless
    /// it was dead-lettered, stop and poll again later.
    pub async fn poll(&self, id: &str, max: usize) -> Result<Vec<Delivery>, BusError> {
        let max = max.max(1);
        let state = self.log.poll_state(id, max).await?;
        let sub = &state.subscription;
        let mut out = Vec::with_capacity(max.min(1024));
        for dead in state.requeued {
            if sub.wants(&dead.event) {
                out.push(Delivery {
                    subscriber: sub.id.clone(),
                    seq: dead.seq,
                    component_seq: dead.component_seq,
                    attempt: dead.attempts + 1,
                    origin: Origin::Requeued,
                    event: dead.event,
                });
            } else {
                // No longer for this subscriber (grants or patterns changed).
                self.log.ack(id, dead.seq, Origin::Requeued).await?;
            }
        }
        let mut after = sub.acked_seq;
        let mut scanned = 0;
        // The last event passed over before the first one delivered from the log.
        let mut skip_to = None;
        let mut delivering = false;
        // Pages start small (a poll usually finds its events at once) and grow
        // while the log holds nothing for this subscriber.
        let mut floor = 16;
        while out.len() < max && scanned < self.config.scan_limit {
            let want = (max - out.len())
                .clamp(floor, 4096)
                .min(self.config.scan_limit - scanned);
            floor = (floor * 4).min(4096);
            let page = self.log.read(after, want).await?;
            let end_of_log = page.len() < want;
            for logged in page {
                after = logged.seq;
                scanned += 1;
                if sub.wants(&logged.event) {
                    delivering = true;
                    out.push(Delivery {
                        subscriber: sub.id.clone(),
                        seq: logged.seq,
                        component_seq: logged.component_seq,
                        attempt: state.failures.get(&logged.seq).copied().unwrap_or(0) + 1,
                        origin: Origin::Log,
                        event: logged.event,
                    });
                    if out.len() >= max {
                        break;
                    }
                } else if !delivering {
                    skip_to = Some(logged.seq);
                }
            }
            if end_of_log {
                break;
            }
        }
        if let Some(seq) = skip_to {
            self.log.skip(id, seq).await?;
        }
        Ok(out)
    }

    /// Acknowledges a handled delivery. From the log this is cumulative: every
    /// earlier delivery of the subscriber from the log is acknowledged too.
    pub async fn ack(&self, delivery: &Delivery) -> Result<(), BusError> {
        self.log
            .ack(&delivery.subscriber, delivery.seq, delivery.origin)
            .await
    }

    /// Acknowledges handled deliveries: each requeued one, and the highest from
    /// the log (one write for a whole poll).
    pub async fn ack_batch(&self, deliveries: &[Delivery]) -> Result<(), BusError> {
        for d in deliveries.iter().filter(|d| d.origin == Origin::Requeued) {
            self.ack(d).await?;
        }
        if let Some(last) = deliveries
            .iter()
            .filter(|d| d.origin == Origin::Log)
            .max_by_key(|d| d.seq)
        {
            self.ack(last).await?;
        }
        Ok(())
    }

    /// Records that handling `delivery` failed with `error`. Below the attempt
    /// limit it will be delivered again at the next poll; at the limit it becomes
    /// a dead letter and delivery moves on.
    pub async fn fail(&self, delivery: &Delivery, error: &str) -> Result<FailOutcome, BusError> {
        self.log
            .record_failure(
                &delivery.subscriber,
                &delivery.logged(),
                delivery.origin,
                error,
                self.config.max_attempts,
                now_millis(),
            )
            .await
    }

    /// Dead letters (not requeued) of one subscriber or all.
    pub async fn dead_letters(
        &self,
        id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BusError> {
        self.log.dead_letters(id, limit).await
    }

    /// Requeues one dead letter of `id` (or all with `seq: None`): it is
    /// delivered again, first, at the next poll, with a fresh attempt count.
    pub async fn requeue(&self, id: &str, seq: Option<u64>) -> Result<u64, BusError> {
        self.log.requeue_dead_letters(id, seq).await
    }

    /// Deletes dead letters that are not requeued, of one subscriber or all.
    pub async fn purge_dead_letters(&self, id: Option<&str>) -> Result<u64, BusError> {
        self.log.purge_dead_letters(id).await
    }

    /// Moves subscriber `id`'s cursor so that delivery restarts at `from`
    /// (events already swept are gone; delivery then starts at the oldest
    /// retained one). Returns the new cursor (last acknowledged sequence number).
    pub async fn rewind(&self, id: &str, from: ReplayFrom) -> Result<u64, BusError> {
        let acked = self.replay_cursor(from).await?;
        self.log.set_cursor(id, acked).await?;
        Ok(acked)
    }

    /// Reads up to `limit` retained events from `from` on, in log order, without
    /// touching any subscription (for the kernel's own tools; no filter). To
    /// continue, replay from the last one's `seq + 1`.
    pub async fn replay(
        &self,
        from: ReplayFrom,
        limit: usize,
    ) -> Result<Vec<LoggedEvent>, BusError> {
        let after = self.replay_cursor(from).await?;
        self.log.read(after, limit).await
    }

    /// The cursor (last sequence number not to deliver) for a replay from `from`.
    async fn replay_cursor(&self, from: ReplayFrom) -> Result<u64, BusError> {
        Ok(match from {
            ReplayFrom::Seq(seq) => seq.saturating_sub(1),
            ReplayFrom::Millis(at) => match self.log.first_seq_since(at).await? {
                Some(seq) => seq - 1,
                None => self.log.head().await?,
            },
        })
    }

    /// Deletes events older than the retention at `now` (milliseconds since
    /// the Unix epoch): those with a timestamp before `now - retention`.
    pub async fn sweep_at(&self, now: i64) -> Result<u64, BusError> {
        let retention = i64::try_from(self.config.retention.as_millis()).unwrap_or(i64::MAX);
        self.log.sweep(now.saturating_sub(retention)).await
    }

    /// [`Bus::sweep_at`] now.
    pub async fn sweep(&self) -> Result<u64, BusError> {
        self.sweep_at(now_millis()).await
    }
}
