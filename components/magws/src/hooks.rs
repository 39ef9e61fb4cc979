//! How MagWS fires its hooks (the MagWS part of the kernel's hook map).
//!
//! Guarantees:
//! * `broadcast_adapter` (a filter) runs over every message before it is
//!   numbered and fanned out ([`Hooks::filter`]): each handler may replace
//!   the `message` or deny it (the message is dropped and the publisher is
//!   told the extension's reason). A dispatch that fails as such (a
//!   platform bug) fails closed, denied by `kernel`.
//! * `register_channel` authorises a subscription to an extension channel
//!   `ext/<publisher>/<name>/<channel>`: it goes to the **owning extension
//!   only** ([`Hooks::authorise`]), which must be runnable and hold
//!   `realtime.register_channel`; its `deny` refuses the client with its
//!   reason. It is an action in the hook map (no declared failure policy),
//!   but as an authorisation it always *fails closed*: a handler that fails
//!   (error, trap, budget) refuses the client. An owner without a
//!   `register_channel` handler admits every client of the project. The run
//!   is audited like any hook run.
//! * Actions (`subscribe_to_event`, `presence_stream`, `message_history`,
//!   `replay_events`) are told after the fact through a bounded queue
//!   ([`Hooks::action`]), in order, by one worker; nothing waits for them,
//!   and when the queue is full the notification is dropped and counted.
//! * Nothing is dispatched when no extension handles the hook. A filter
//!   from async code goes through MagGate's `GateKernel::dispatch` (on the
//!   worker while every handler has been quick, else on a blocking thread);
//!   the owner's authorisation and the actions always run on blocking
//!   threads, so a slow extension holds no async worker for long.

use magflock_kernel::dispatch::{Dispatched, HookOutcome, HookRunner};
use magflock_kernel::{Capability, audit::Actor};
use magflock_maggate::GateKernel;
use magflock_types::Outcome;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::mpsc;

use crate::WsError;

pub const REGISTER_CHANNEL: &str = "register_channel";
pub const SUBSCRIBE_TO_EVENT: &str = "subscribe_to_event";
pub const BROADCAST_ADAPTER: &str = "broadcast_adapter";
pub const PRESENCE_STREAM: &str = "presence_stream";
pub const MESSAGE_HISTORY: &str = "message_history";
pub const REPLAY_EVENTS: &str = "replay_events";

/// Action notifications waiting for the worker before new ones are dropped.
const ACTION_QUEUE: usize = 4096;

pub struct Hooks {
    kernel: GateKernel,
    actions: mpsc::Sender<(&'static str, Value)>,
    dropped: AtomicU64,
}

fn kernel_denial(reason: String) -> WsError {
    WsError::Denied {
        extension: "kernel".into(),
        reason,
    }
}

impl Hooks {
    /// Starts the action worker on `runtime`; it ends when `Hooks` is dropped.
    pub fn start(kernel: GateKernel, runtime: &tokio::runtime::Handle) -> Hooks {
        let (actions, rx) = mpsc::channel(ACTION_QUEUE);
        runtime.spawn(run_actions(kernel.clone(), rx));
        Hooks {
            kernel,
            actions,
            dropped: AtomicU64::new(0),
        }
    }

    pub fn kernel(&self) -> &GateKernel {
        &self.kernel
    }

    pub fn has(&self, hook: &str) -> bool {
        self.kernel.has_handlers(hook)
    }

    /// Runs a filter here (call on a blocking thread): the payload to go
    /// ahead with, or the denial.
    pub fn filter_blocking(&self, hook: &'static str, payload: &Value) -> Result<Value, WsError> {
        filter_now(&self.kernel, hook, payload)
    }

    /// Runs a filter from async code (on this worker while its handlers
    /// have been quick, else on a blocking thread: MagGate's
    /// [`GateKernel::dispatch`]).
    pub async fn filter(&self, hook: &'static str, payload: Value) -> Result<Value, WsError> {
        if !self.has(hook) {
            return Ok(payload);
        }
        let dispatched = self.kernel.dispatch(hook, &payload).await;
        outcome(dispatched.map_err(|e| e.to_string()))
    }

    /// Tells the action's handlers, later; never waits.
    pub fn action(&self, hook: &'static str, payload: Value) {
        if !self.has(hook) {
            return;
        }
        if self.actions.try_send((hook, payload)).is_err() {
            let before = self.dropped.fetch_add(1, Ordering::Relaxed);
            if before.is_multiple_of(1000) {
                tracing::warn!(hook, dropped = before + 1, "MagWS action queue full");
            }
        }
    }

    /// Action notifications dropped so far (queue full).
    pub fn dropped_actions(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Asks the owning extension (only) whether a client may join its
    /// channel (call on a blocking thread).
    pub fn authorise_blocking(&self, owner: &str, payload: &Value) -> Result<(), WsError> {
        authorise_now(&self.kernel, owner, payload)
    }

    /// [`Hooks::authorise_blocking`] on a blocking thread.
    pub async fn authorise(&self, owner: &str, payload: Value) -> Result<(), WsError> {
        let kernel = self.kernel.clone();
        let owner = owner.to_string();
        tokio::task::spawn_blocking(move || authorise_now(&kernel, &owner, &payload))
            .await
            .map_err(|e| WsError::Internal(format!("hook {REGISTER_CHANNEL}: {e}")))?
    }
}

fn filter_now(kernel: &GateKernel, hook: &'static str, payload: &Value) -> Result<Value, WsError> {
    if !kernel.has_handlers(hook) {
        return Ok(payload.clone());
    }
    let dispatched = kernel.dispatcher.dispatch(hook, &payload.to_string());
    outcome(dispatched.map_err(|e| e.to_string()))
}

/// A filter's dispatch as the payload to go ahead with, or the denial (a
/// dispatch that failed as such is denied by `kernel`).
fn outcome(dispatched: Result<Dispatched, String>) -> Result<Value, WsError> {
    match dispatched {
        Ok(Dispatched::Proceed { payload }) => serde_json::from_str(&payload)
            .map_err(|e| kernel_denial(format!("the filtered payload is not JSON: {e}"))),
        Ok(Dispatched::Denied { extension, reason }) => Err(WsError::Denied { extension, reason }),
        Err(e) => Err(kernel_denial(e)),
    }
}

fn authorise_now(kernel: &GateKernel, owner: &str, payload: &Value) -> Result<(), WsError> {
    kernel
        .gate
        .check(owner, Capability::RealtimeRegisterChannel)
        .map_err(|denial| {
            WsError::Unavailable(format!(
                "extension '{owner}' cannot serve its channels now: {denial}"
            ))
        })?;
    let handles = {
        let registry = kernel.registry.read().expect("registry lock");
        let manifest = registry
            .get(owner)
            .ok_or_else(|| WsError::Unavailable(format!("extension '{owner}' is not running")))?;
        manifest
            .hooks
            .iter()
            .any(|h| h.hook.name == REGISTER_CHANNEL)
    };
    if !handles {
        return Ok(());
    }
    let started = Instant::now();
    let result = kernel
        .sandbox
        .run_hook(owner, REGISTER_CHANNEL, &payload.to_string());
    let micros = started.elapsed().as_micros() as u64;
    let audit = |outcome: Outcome, detail: Value| {
        kernel.audit.record(Actor::extension(owner).entry(
            "extension.hook_run",
            Some(REGISTER_CHANNEL),
            outcome,
            detail,
        ));
    };
    match result {
        Ok(HookOutcome::Allow) | Ok(HookOutcome::Modify(_)) => {
            audit(
                Outcome::Success,
                json!({"result": "allow", "micros": micros}),
            );
            Ok(())
        }
        Ok(HookOutcome::Deny(reason)) => {
            audit(
                Outcome::Denied,
                json!({"result": "deny", "reason": reason, "micros": micros}),
            );
            Err(WsError::Denied {
                extension: owner.to_string(),
                reason,
            })
        }
        Err(error) => {
            audit(
                Outcome::Failure,
                json!({"result": "failed_closed", "error": error, "micros": micros}),
            );
            Err(WsError::Denied {
                extension: owner.to_string(),
                reason: format!(
                    "the extension failed to decide, so the channel stays closed: {error}"
                ),
            })
        }
    }
}

async fn run_actions(kernel: GateKernel, mut rx: mpsc::Receiver<(&'static str, Value)>) {
    let mut batch = Vec::with_capacity(64);
    while rx.recv_many(&mut batch, 64).await > 0 {
        let dispatcher = kernel.dispatcher.clone();
        let work = std::mem::take(&mut batch);
        let done = tokio::task::spawn_blocking(move || {
            for (hook, payload) in work {
                if let Err(error) = dispatcher.dispatch(hook, &payload.to_string()) {
                    tracing::warn!(hook, %error, "MagWS action hook dispatch failed");
                }
            }
        })
        .await;
        if let Err(e) = done {
            tracing::error!("MagWS action hooks: {e}");
        }
    }
}
