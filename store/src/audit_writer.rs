//! [`AuditWriter`]: the kernel's audit sink, writing to the store's audit log.
//!
//! Guarantees: entries are appended in the order they were recorded, in
//! batches (one transaction each, all or none); recording never blocks the
//! caller; [`AuditSink::flush`] returns once every entry recorded before it is
//! stored, or with the storage error (the entries stay queued and are retried
//! with backoff, so an outage delays entries but loses none while the process
//! lives). Once a batch is stored, its entries are told, in order, to the
//! [`AuditWriter::subscribe`]rs (a bounded broadcast: the writer never waits
//! for them; a subscriber that falls behind loses the oldest and is told how
//! many), except those recorded inside `magflock_kernel::audit::unobserved`.

use async_trait::async_trait;
use magflock_kernel::KernelError;
use magflock_kernel::audit::{AuditSink, is_unobserved};
use magflock_types::{AuditEntry, NewAuditEntry};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::{Store, StoreError};

const BATCH: usize = 512;
/// Stored entries a subscriber may fall behind by before it loses the oldest.
const STORED_FEED: usize = 1024;

enum Message {
    /// An entry, and whether subscribers are told of it once stored.
    Entry(NewAuditEntry, bool),
    Flush(oneshot::Sender<Result<(), String>>),
}

pub struct AuditWriter {
    queue: mpsc::UnboundedSender<Message>,
    stored: broadcast::Sender<AuditEntry>,
}

impl AuditWriter {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn(store: Arc<dyn Store>) -> Arc<AuditWriter> {
        let (queue, inbox) = mpsc::unbounded_channel();
        let (stored, _) = broadcast::channel(STORED_FEED);
        tokio::spawn(write_loop(store, inbox, stored.clone()));
        Arc::new(AuditWriter { queue, stored })
    }

    /// The entries stored from now on (see the module's guarantees); a
    /// receiver that falls behind gets `Lagged(n)` for the `n` it lost.
    pub fn subscribe(&self) -> broadcast::Receiver<AuditEntry> {
        self.stored.subscribe()
    }
}

#[async_trait]
impl AuditSink for AuditWriter {
    fn record(&self, entry: NewAuditEntry) {
        let observed = !is_unobserved();
        if self.queue.send(Message::Entry(entry, observed)).is_err() {
            tracing::error!("audit writer has stopped; an entry could not be queued");
        }
    }

    async fn flush(&self) -> Result<(), KernelError> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send(Message::Flush(done))
            .map_err(|_| KernelError::Storage("the audit writer has stopped".into()))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(KernelError::Unavailable(format!("audit log: {e}"))),
            Err(_) => Err(KernelError::Storage("the audit writer has stopped".into())),
        }
    }
}

async fn write_loop(
    store: Arc<dyn Store>,
    mut inbox: mpsc::UnboundedReceiver<Message>,
    stored: broadcast::Sender<AuditEntry>,
) {
    let mut pending: VecDeque<(NewAuditEntry, bool)> = VecDeque::new();
    let mut received = Vec::with_capacity(BATCH);
    let mut backoff = Duration::from_millis(50);
    loop {
        if pending.is_empty() {
            if inbox.recv_many(&mut received, BATCH).await == 0 {
                return;
            }
        } else {
            while let Ok(message) = inbox.try_recv() {
                received.push(message);
            }
        }
        let mut flushes = Vec::new();
        for message in received.drain(..) {
            match message {
                Message::Entry(entry, observed) => pending.push_back((entry, observed)),
                Message::Flush(done) => flushes.push((pending.len(), done)),
            }
        }
        let mut failure: Option<StoreError> = None;
        while !pending.is_empty() {
            let take = pending.len().min(BATCH);
            let batch: Vec<NewAuditEntry> =
                pending.iter().take(take).map(|(e, _)| e.clone()).collect();
            match store.audit_append_batch(batch).await {
                Ok(appended) => {
                    for ((_, observed), entry) in pending.drain(..take).zip(appended) {
                        // Nobody subscribed is not an error.
                        if observed && stored.receiver_count() > 0 {
                            let _ = stored.send(entry);
                        }
                    }
                    for (remaining, _) in flushes.iter_mut() {
                        *remaining = remaining.saturating_sub(take);
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        for (remaining, done) in flushes {
            let _ = done.send(match (&failure, remaining) {
                (Some(e), n) if n > 0 => Err(e.to_string()),
                _ => Ok(()),
            });
        }
        if let Some(e) = failure {
            tracing::error!("audit log write failed, retrying in {backoff:?}: {e}");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        } else {
            backoff = Duration::from_millis(50);
        }
    }
}
