//! How the kernel writes to the platform's one tamper-evident audit log.
//!
//! Guarantees: the kernel records every host call (allowed or denied, with its
//! capability), every hook run and its outcome, and every grant, revocation,
//! quarantine and re-enable, in the same log as the admins' own actions,
//! marked by actor kind (`extension` or `user`). [`AuditSink::record`] never
//! blocks a guest call; [`AuditSink::flush`] returns once everything recorded
//! before it is durable, and admin-facing changes flush before they answer.
//! Entries recorded inside [`unobserved`] (on that thread) are stored like
//! any other but marked, so a sink that tells observers about stored entries
//! (MagAuth's `audit_emitter`) leaves them out: an observer's own work is
//! never reported back to it.

use async_trait::async_trait;
use magflock_types::{ActorKind, NewAuditEntry, Outcome};
use serde_json::Value;
use std::cell::Cell;

use crate::KernelError;

thread_local! {
    static UNOBSERVED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` with every entry this thread records meanwhile marked as not
/// to be told to observers of stored entries (nested calls stay marked).
pub fn unobserved<T>(work: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            UNOBSERVED.with(|u| u.set(self.0));
        }
    }
    let _restore = Restore(UNOBSERVED.with(|u| u.replace(true)));
    work()
}

/// Whether this thread is inside [`unobserved`] (work it hands to another
/// thread should carry the mark there with [`unobserved`]).
pub fn is_unobserved() -> bool {
    UNOBSERVED.with(Cell::get)
}

#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Queues an entry (in order) without waiting.
    fn record(&self, entry: NewAuditEntry);
    /// Waits until every entry recorded so far is stored.
    async fn flush(&self) -> Result<(), KernelError>;
}

/// Who did something: a person (for grants) or an extension (for its calls).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
    pub label: String,
}

impl Actor {
    pub fn user(id: &str, email: &str) -> Actor {
        Actor {
            kind: ActorKind::User,
            id: Some(id.to_string()),
            label: email.to_string(),
        }
    }
    pub fn extension(id: &str) -> Actor {
        Actor {
            kind: ActorKind::Extension,
            id: Some(id.to_string()),
            label: id.to_string(),
        }
    }
    pub fn system() -> Actor {
        Actor {
            kind: ActorKind::System,
            id: None,
            label: "kernel".to_string(),
        }
    }

    /// An entry by this actor; `detail` must be a JSON object without secrets.
    pub fn entry(
        &self,
        action: &str,
        target: Option<&str>,
        outcome: Outcome,
        detail: Value,
    ) -> NewAuditEntry {
        NewAuditEntry {
            actor_kind: self.kind,
            actor_id: self.id.clone(),
            actor_label: self.label.clone(),
            action: action.to_string(),
            target: target.map(str::to_string),
            outcome,
            detail: detail.to_string(),
            ip: None,
        }
    }
}
