//! [`MemoryLog`]: an [`EventLog`] in memory, for tests and tools.
//!
//! Guarantees: the [`EventLog`] contract in full, except durability: everything
//! is lost when it is dropped. Every operation is atomic (one mutex).

use super::BusError;
use super::log::{
    Appended, DeadLetter, EventLog, FailOutcome, LoggedEvent, Origin, PollState, StartAt,
    Subscription,
};
use crate::{Capability, Event, Pattern};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
struct Inner {
    events: BTreeMap<u64, LoggedEvent>,
    ids: HashSet<String>,
    last_seq: u64,
    component_seqs: HashMap<String, u64>,
    subscriptions: BTreeMap<String, Subscription>,
    /// (subscriber, seq) → failed deliveries from the log.
    failures: BTreeMap<(String, u64), u32>,
    /// (subscriber, seq) → dead letter.
    dead: BTreeMap<(String, u64), DeadLetter>,
}

/// A non-durable event log.
#[derive(Default)]
pub struct MemoryLog {
    inner: Mutex<Inner>,
}

impl MemoryLog {
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn unknown(id: &str) -> BusError {
    BusError::UnknownSubscriber(id.to_string())
}

impl Inner {
    fn subscription(&mut self, id: &str) -> Result<&mut Subscription, BusError> {
        self.subscriptions.get_mut(id).ok_or_else(|| unknown(id))
    }

    fn forget_failures(&mut self, id: &str, keep: impl Fn(u64) -> bool) {
        self.failures
            .retain(|(sub, seq), _| sub != id || keep(*seq));
    }
}

#[async_trait]
impl EventLog for MemoryLog {
    async fn append(&self, events: &[Event]) -> Result<Vec<Appended>, BusError> {
        let mut inner = self.lock();
        if let Some(dup) = events.iter().find(|e| inner.ids.contains(&e.event_id)) {
            return Err(BusError::DuplicateEvent(dup.event_id.clone()));
        }
        let mut appended = Vec::with_capacity(events.len());
        for event in events {
            inner.last_seq += 1;
            let seq = inner.last_seq;
            let component_seq = inner
                .component_seqs
                .entry(event.source.component.clone())
                .or_default();
            *component_seq += 1;
            let component_seq = *component_seq;
            inner.ids.insert(event.event_id.clone());
            inner.events.insert(
                seq,
                LoggedEvent {
                    seq,
                    component_seq,
                    event: event.clone(),
                },
            );
            appended.push(Appended { seq, component_seq });
        }
        Ok(appended)
    }

    async fn head(&self) -> Result<u64, BusError> {
        Ok(self.lock().last_seq)
    }

    async fn read(&self, after: u64, limit: usize) -> Result<Vec<LoggedEvent>, BusError> {
        Ok(self
            .lock()
            .events
            .range(after.saturating_add(1)..)
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn first_seq_since(&self, millis: i64) -> Result<Option<u64>, BusError> {
        Ok(self
            .lock()
            .events
            .values()
            .find(|e| {
                super::validate::timestamp_millis(&e.event.timestamp).is_some_and(|t| t >= millis)
            })
            .map(|e| e.seq))
    }

    async fn put_subscription(
        &self,
        id: &str,
        patterns: &[Pattern],
        capabilities: &[Capability],
        start: StartAt,
        _now: i64,
    ) -> Result<Subscription, BusError> {
        let mut inner = self.lock();
        let acked_seq = match inner.subscriptions.get(id) {
            Some(existing) => existing.acked_seq,
            None => match start {
                StartAt::Latest => inner.last_seq,
                StartAt::Earliest => 0,
                StartAt::After(seq) => seq,
            },
        };
        let subscription = Subscription {
            id: id.to_string(),
            patterns: patterns.to_vec(),
            capabilities: capabilities.to_vec(),
            acked_seq,
        };
        inner
            .subscriptions
            .insert(id.to_string(), subscription.clone());
        Ok(subscription)
    }

    async fn subscriptions(&self) -> Result<Vec<Subscription>, BusError> {
        Ok(self.lock().subscriptions.values().cloned().collect())
    }

    async fn remove_subscription(&self, id: &str) -> Result<bool, BusError> {
        let mut inner = self.lock();
        inner.forget_failures(id, |_| false);
        inner.dead.retain(|(sub, _), _| sub != id);
        Ok(inner.subscriptions.remove(id).is_some())
    }

    async fn poll_state(&self, id: &str, requeued_limit: usize) -> Result<PollState, BusError> {
        let mut inner = self.lock();
        let subscription = inner.subscription(id)?.clone();
        let failures = inner
            .failures
            .iter()
            .filter(|((sub, seq), _)| sub == id && *seq > subscription.acked_seq)
            .map(|((_, seq), n)| (*seq, *n))
            .collect();
        let requeued = inner
            .dead
            .values()
            .filter(|d| d.subscriber == id && d.requeued)
            .take(requeued_limit)
            .cloned()
            .collect();
        Ok(PollState {
            subscription,
            failures,
            requeued,
        })
    }

    async fn ack(&self, id: &str, seq: u64, origin: Origin) -> Result<(), BusError> {
        let mut inner = self.lock();
        inner.subscription(id)?;
        match origin {
            Origin::Requeued => {
                let key = (id.to_string(), seq);
                if inner.dead.get(&key).is_some_and(|d| d.requeued) {
                    inner.dead.remove(&key);
                }
            }
            Origin::Log => {
                let acked = inner.subscription(id)?.acked_seq;
                if let Some(((_, pending), _)) = inner
                    .failures
                    .iter()
                    .find(|((sub, s), _)| sub == id && *s > acked && *s < seq)
                {
                    return Err(BusError::OutOfOrderAck {
                        subscriber: id.to_string(),
                        seq,
                        pending: *pending,
                    });
                }
                let sub = inner.subscription(id)?;
                sub.acked_seq = sub.acked_seq.max(seq);
                inner.forget_failures(id, |s| s > seq);
            }
        }
        Ok(())
    }

    async fn skip(&self, id: &str, seq: u64) -> Result<(), BusError> {
        let mut inner = self.lock();
        let sub = inner.subscription(id)?;
        sub.acked_seq = sub.acked_seq.max(seq);
        inner.forget_failures(id, |s| s > seq);
        Ok(())
    }

    async fn set_cursor(&self, id: &str, acked_seq: u64) -> Result<(), BusError> {
        let mut inner = self.lock();
        inner.subscription(id)?.acked_seq = acked_seq;
        inner.forget_failures(id, |_| false);
        Ok(())
    }

    async fn record_failure(
        &self,
        id: &str,
        event: &LoggedEvent,
        origin: Origin,
        error: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<FailOutcome, BusError> {
        let mut inner = self.lock();
        inner.subscription(id)?;
        let key = (id.to_string(), event.seq);
        let failures = match origin {
            Origin::Log => {
                let n = inner.failures.entry(key.clone()).or_default();
                *n += 1;
                *n
            }
            Origin::Requeued => match inner.dead.get_mut(&key) {
                Some(dead) => {
                    dead.attempts += 1;
                    dead.last_error = error.to_string();
                    dead.attempts
                }
                None => return Ok(FailOutcome::DeadLettered { attempts: 0 }),
            },
        };
        if failures < max_attempts {
            return Ok(FailOutcome::Retry { failures });
        }
        inner.failures.remove(&key);
        inner.dead.insert(
            key,
            DeadLetter {
                subscriber: id.to_string(),
                seq: event.seq,
                component_seq: event.component_seq,
                event: event.event.clone(),
                attempts: failures,
                last_error: error.to_string(),
                dead_at: now,
                requeued: false,
            },
        );
        if origin == Origin::Log {
            let sub = inner.subscription(id)?;
            sub.acked_seq = sub.acked_seq.max(event.seq);
        }
        Ok(FailOutcome::DeadLettered { attempts: failures })
    }

    async fn dead_letters(
        &self,
        id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BusError> {
        let mut found: Vec<DeadLetter> = self
            .lock()
            .dead
            .values()
            .filter(|d| !d.requeued && id.is_none_or(|id| d.subscriber == id))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.seq.cmp(&b.seq).then(a.subscriber.cmp(&b.subscriber)));
        found.truncate(limit);
        Ok(found)
    }

    async fn requeue_dead_letters(&self, id: &str, seq: Option<u64>) -> Result<u64, BusError> {
        let mut count = 0;
        for dead in self.lock().dead.values_mut() {
            if dead.subscriber == id && !dead.requeued && seq.is_none_or(|s| s == dead.seq) {
                dead.requeued = true;
                dead.attempts = 0;
                count += 1;
            }
        }
        Ok(count)
    }

    async fn purge_dead_letters(&self, id: Option<&str>) -> Result<u64, BusError> {
        let mut inner = self.lock();
        let before = inner.dead.len();
        inner
            .dead
            .retain(|_, d| d.requeued || id.is_some_and(|id| d.subscriber != id));
        Ok((before - inner.dead.len()) as u64)
    }

    async fn sweep(&self, cutoff: i64) -> Result<u64, BusError> {
        let mut inner = self.lock();
        let expired: Vec<(u64, String)> = inner
            .events
            .values()
            .filter(|e| {
                super::validate::timestamp_millis(&e.event.timestamp).is_some_and(|t| t < cutoff)
            })
            .map(|e| (e.seq, e.event.event_id.clone()))
            .collect();
        for (seq, id) in &expired {
            inner.events.remove(seq);
            inner.ids.remove(id);
        }
        let retained: HashSet<u64> = inner.events.keys().copied().collect();
        inner.failures.retain(|(_, seq), _| retained.contains(seq));
        Ok(expired.len() as u64)
    }
}
