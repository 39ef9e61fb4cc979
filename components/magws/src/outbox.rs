//! Each connection's bounded send queue: fan-out puts frames in
//! ([`Outbox::offer`], never waiting), the connection's task takes them out
//! and writes them to the socket ([`Inbox`]).
//!
//! Guarantees:
//! * Frames leave in the order they were offered.
//! * Memory is bounded per connection: at most `frames` queued frames and at
//!   most `max_bytes` of queued live messages (frames are shared with the
//!   channel's history and with the other recipients, so a queued frame
//!   costs a slot, not a copy). A replay or history batch is one queue item
//!   whose frames the channel keeps anyway; it is not counted in the bytes.
//! * A consumer that falls behind is dropped, not waited for: the first offer
//!   that finds the queue full closes the outbox with
//!   [`WsError::SlowConsumer`]; later offers are refused at once, the task is
//!   woken ([`Inbox::closed`]) to close the socket with that reason and
//!   frees the queue.
//! * An offer never blocks and never fails the sender (the publisher carries on).

use axum::extract::ws::Utf8Bytes;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::sync::{Notify, mpsc};

use crate::WsError;

/// One queue item.
#[derive(Debug)]
pub enum Out {
    Frame(Utf8Bytes),
    /// Frames sent back to back (a replay); not counted in the byte budget.
    Batch(Vec<Utf8Bytes>),
}

#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Out>,
    queued_bytes: AtomicUsize,
    max_bytes: usize,
    closed: AtomicBool,
    reason: Mutex<Option<WsError>>,
    wake: Notify,
}

/// The receiving end, owned by the connection's task.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::Receiver<Out>,
}

impl Outbox {
    /// A queue of at most `frames` items and `max_bytes` of live frames.
    pub fn new(frames: usize, max_bytes: usize) -> (std::sync::Arc<Outbox>, Inbox) {
        let (tx, rx) = mpsc::channel(frames.max(1));
        let outbox = Outbox {
            tx,
            queued_bytes: AtomicUsize::new(0),
            max_bytes: max_bytes.max(1),
            closed: AtomicBool::new(false),
            reason: Mutex::new(None),
            wake: Notify::new(),
        };
        (std::sync::Arc::new(outbox), Inbox { rx })
    }

    /// Queues a frame; `false` if the connection is closed or was just
    /// dropped as a slow consumer.
    pub fn offer(&self, frame: Utf8Bytes) -> bool {
        if self.is_closed() {
            return false;
        }
        let len = frame.len();
        let before = self.queued_bytes.fetch_add(len, Ordering::AcqRel);
        // One frame always fits an empty queue (frames are capped elsewhere).
        if before > 0 && before + len > self.max_bytes {
            self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            self.close(WsError::SlowConsumer);
            return false;
        }
        match self.tx.try_send(Out::Frame(frame)) {
            Ok(()) => true,
            Err(e) => {
                self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                if matches!(e, mpsc::error::TrySendError::Full(_)) {
                    self.close(WsError::SlowConsumer);
                }
                false
            }
        }
    }

    /// Queues frames to go back to back (outside the byte budget).
    pub fn offer_batch(&self, frames: Vec<Utf8Bytes>) -> bool {
        if frames.is_empty() {
            return true;
        }
        if self.is_closed() {
            return false;
        }
        match self.tx.try_send(Out::Batch(frames)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(WsError::SlowConsumer);
                false
            }
            Err(_) => false,
        }
    }

    /// Queues a JSON frame.
    pub fn offer_json(&self, frame: &serde_json::Value) -> bool {
        self.offer(Utf8Bytes::from(frame.to_string()))
    }

    /// Closes the outbox: nothing more is queued, and the connection's task
    /// closes the socket with `reason` (the first reason given wins).
    pub fn close(&self, reason: WsError) {
        {
            let mut slot = self.reason.lock().expect("outbox reason");
            if slot.is_none() {
                *slot = Some(reason);
            }
        }
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Why the outbox was closed, if it was.
    pub fn reason(&self) -> Option<WsError> {
        self.reason.lock().expect("outbox reason").clone()
    }

    /// Bytes of live frames waiting now.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Acquire)
    }

    /// Resolves once [`Outbox::close`] was called (at once if it was already).
    pub async fn closed(&self) {
        loop {
            let notified = self.wake.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    fn took(&self, out: &Out) {
        if let Out::Frame(frame) = out {
            self.queued_bytes.fetch_sub(frame.len(), Ordering::AcqRel);
        }
    }
}

impl Inbox {
    /// The next item, waiting for one.
    pub async fn recv(&mut self, outbox: &Outbox) -> Option<Out> {
        let out = self.rx.recv().await?;
        outbox.took(&out);
        Some(out)
    }

    /// The next item if one is waiting.
    pub fn try_recv(&mut self, outbox: &Outbox) -> Option<Out> {
        let out = self.rx.try_recv().ok()?;
        outbox.took(&out);
        Some(out)
    }

    /// Drops everything queued (frees the memory at once).
    pub fn discard(&mut self) {
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Utf8Bytes {
        Utf8Bytes::from("x".repeat(n))
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_consumer_instead_of_growing() {
        let (outbox, mut inbox) = Outbox::new(4, 1 << 20);
        for _ in 0..4 {
            assert!(outbox.offer(frame(10)));
        }
        assert!(!outbox.offer(frame(10)), "the fifth frame does not fit");
        assert_eq!(outbox.reason(), Some(WsError::SlowConsumer));
        assert!(!outbox.offer(frame(1)), "closed: refused at once");
        outbox.closed().await;
        inbox.discard();
        assert!(inbox.try_recv(&outbox).is_none());
    }

    #[tokio::test]
    async fn the_byte_budget_bounds_queued_frames() {
        let (outbox, mut inbox) = Outbox::new(100, 100);
        assert!(outbox.offer(frame(60)));
        assert_eq!(outbox.queued_bytes(), 60);
        assert!(matches!(inbox.recv(&outbox).await, Some(Out::Frame(_))));
        assert_eq!(outbox.queued_bytes(), 0);
        assert!(outbox.offer(frame(60)));
        assert!(!outbox.offer(frame(60)), "120 bytes > 100");
        assert!(outbox.is_closed());
    }

    #[tokio::test]
    async fn frames_leave_in_order_and_batches_are_not_counted() {
        let (outbox, mut inbox) = Outbox::new(10, 10);
        assert!(outbox.offer(frame(1)));
        assert!(outbox.offer_batch(vec![frame(50), frame(50)]));
        assert!(outbox.offer(frame(2)));
        let mut lens = Vec::new();
        while let Some(out) = inbox.try_recv(&outbox) {
            match out {
                Out::Frame(f) => lens.push(f.len()),
                Out::Batch(b) => lens.extend(b.iter().map(|f| f.len())),
            }
        }
        assert_eq!(lens, vec![1, 50, 50, 2]);
        assert!(!outbox.is_closed());
    }
}
