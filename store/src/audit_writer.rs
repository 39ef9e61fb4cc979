//! [`AuditWriter`]: the kernel's audit sink, writing to the store's audit log.
//!
//! Guarantees: entries are appended in the order they were recorded, in
//! batches (one transaction each, all or none); recording never blocks the
//! caller; [`AuditSink::flush`] returns once every entry recorded before it is
//! stored, or with the storage error (the entries stay queued and are retried
//! with backoff, so an outage delays entries but loses none while the process
//! lives).

use async_trait::async_trait;
use magflock_kernel::KernelError;
use magflock_kernel::audit::AuditSink;
use magflock_types::NewAuditEntry;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use crate::{Store, StoreError};

const BATCH: usize = 512;

enum Message {
    Entry(NewAuditEntry),
    Flush(oneshot::Sender<Result<(), String>>),
}

pub struct AuditWriter {
    queue: mpsc::UnboundedSender<Message>,
}

impl AuditWriter {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn(store: Arc<dyn Store>) -> Arc<AuditWriter> {
        let (queue, inbox) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store, inbox));
        Arc::new(AuditWriter { queue })
    }
}

#[async_trait]
impl AuditSink for AuditWriter {
    fn record(&self, entry: NewAuditEntry) {
        if self.queue.send(Message::Entry(entry)).is_err() {
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

async fn write_loop(store: Arc<dyn Store>, mut inbox: mpsc::UnboundedReceiver<Message>) {
    let mut pending: VecDeque<NewAuditEntry> = VecDeque::new();
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
                Message::Entry(entry) => pending.push_back(entry),
                Message::Flush(done) => flushes.push((pending.len(), done)),
            }
        }
        let mut failure: Option<StoreError> = None;
        while !pending.is_empty() {
            let take = pending.len().min(BATCH);
            let batch: Vec<NewAuditEntry> = pending.iter().take(take).cloned().collect();
            match store.audit_append_batch(batch).await {
                Ok(_) => {
                    pending.drain(..take);
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
