//! Hook dispatch: runs the handlers of a hook in the registry's order.
//!
//! Guarantees:
//! * Only extensions that may run (enabled, not quarantined) and that hold the
//!   hook's capability (requested and granted, checked now) are called, in
//!   priority order, then by extension id.
//! * Filters: each handler sees the payload as modified by those before it; the
//!   first denial stops the dispatch and its reason, with the extension's id,
//!   is returned. A failing filter (error, trap, budget or deadline exceeded)
//!   follows its declared failure policy: fail open (the default) skips it,
//!   fail closed denies.
//! * Actions are told after the fact: their outcome cannot change anything, and
//!   a failure never stops the other handlers.
//! * A payload must have every field the hook map lists for the hook; so must
//!   a filter's modified payload (otherwise its failure policy applies).
//! * Every run is audited with the hook, the extension, its outcome and time.

use magflock_types::Outcome;
use serde_json::json;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::audit::{Actor, AuditSink};
use crate::hooks::{self, HookKind, HookSpec};
use crate::manifest::FailurePolicy;
use crate::policy::PolicyGate;
use crate::{KernelError, Registry};

/// The payload must be a JSON object with every field the hook map lists.
fn missing_fields(spec: &HookSpec, payload: &serde_json::Value) -> Result<(), String> {
    let object = payload
        .as_object()
        .ok_or_else(|| "the payload must be a JSON object".to_string())?;
    let missing: Vec<&str> = spec
        .payload
        .iter()
        .copied()
        .filter(|field| !object.contains_key(*field))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("missing field(s): {}", missing.join(", ")))
    }
}

/// A handler's answer, as the guest gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookOutcome {
    Allow,
    Deny(String),
    /// The replacement payload (JSON).
    Modify(String),
}

/// Runs one extension's handler for a hook (the sandbox implements this).
/// `Err` is a failure of the handler: its message says what happened.
pub trait HookRunner: Send + Sync {
    fn run_hook(&self, extension: &str, hook: &str, payload: &str) -> Result<HookOutcome, String>;
}

/// The result of dispatching a hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dispatched {
    /// Go ahead, with this (possibly modified) payload.
    Proceed { payload: String },
    /// A filter denied the action.
    Denied { extension: String, reason: String },
}

pub struct Dispatcher {
    registry: Arc<RwLock<Registry>>,
    gate: Arc<PolicyGate>,
    runner: Arc<dyn HookRunner>,
    audit: Arc<dyn AuditSink>,
}

impl Dispatcher {
    pub fn new(
        registry: Arc<RwLock<Registry>>,
        gate: Arc<PolicyGate>,
        runner: Arc<dyn HookRunner>,
        audit: Arc<dyn AuditSink>,
    ) -> Dispatcher {
        Dispatcher {
            registry,
            gate,
            runner,
            audit,
        }
    }

    /// Dispatches `hook` with a JSON `payload`.
    pub fn dispatch(&self, hook: &str, payload: &str) -> Result<Dispatched, KernelError> {
        let spec = hooks::find(hook).ok_or_else(|| KernelError::UnknownHook(hook.to_string()))?;
        let value = serde_json::from_str::<serde_json::Value>(payload).map_err(|e| {
            KernelError::BadPayload {
                hook: hook.to_string(),
                problem: e.to_string(),
            }
        })?;
        missing_fields(spec, &value).map_err(|problem| KernelError::BadPayload {
            hook: hook.to_string(),
            problem,
        })?;
        let handlers: Vec<(String, FailurePolicy)> = {
            let registry = self.registry.read().expect("registry lock");
            registry
                .handlers(hook)
                .into_iter()
                .map(|(id, handler)| (id.to_string(), handler.failure))
                .collect()
        };
        let mut payload = payload.to_string();
        for (extension, failure) in handlers {
            let allowed = match spec.capability {
                Some(cap) => self.gate.check(&extension, cap),
                None => self.gate.may_run(&extension),
            };
            if allowed.is_err() {
                continue;
            }
            let started = Instant::now();
            let result = self.runner.run_hook(&extension, hook, &payload);
            let micros = started.elapsed().as_micros() as u64;
            let actor = Actor::extension(&extension);
            let audit = |outcome: Outcome, detail: serde_json::Value| {
                self.audit
                    .record(actor.entry("extension.hook_run", Some(hook), outcome, detail));
            };
            match (spec.kind, result) {
                (HookKind::Filter, Ok(HookOutcome::Allow))
                | (HookKind::Action, Ok(HookOutcome::Allow)) => {
                    audit(
                        Outcome::Success,
                        json!({"result": "allow", "micros": micros}),
                    );
                }
                (HookKind::Filter, Ok(HookOutcome::Modify(next))) => {
                    let valid = serde_json::from_str::<serde_json::Value>(&next)
                        .map_err(|e| e.to_string())
                        .and_then(|v| missing_fields(spec, &v));
                    if valid.is_err() {
                        audit(
                            Outcome::Failure,
                            json!({"result": "invalid_modification", "micros": micros}),
                        );
                        if failure == FailurePolicy::Closed {
                            return Ok(Dispatched::Denied {
                                extension,
                                reason: "the extension returned an invalid payload".into(),
                            });
                        }
                        continue;
                    }
                    audit(
                        Outcome::Success,
                        json!({"result": "modify", "micros": micros}),
                    );
                    payload = next;
                }
                (HookKind::Filter, Ok(HookOutcome::Deny(reason))) => {
                    audit(
                        Outcome::Denied,
                        json!({"result": "deny", "reason": reason, "micros": micros}),
                    );
                    return Ok(Dispatched::Denied { extension, reason });
                }
                (HookKind::Action, Ok(other)) => {
                    audit(
                        Outcome::Failure,
                        json!({
                            "result": "ignored",
                            "error": format!("an action hook cannot change the outcome (returned {other:?})"),
                            "micros": micros,
                        }),
                    );
                }
                (kind, Err(error)) => {
                    let closed = kind == HookKind::Filter && failure == FailurePolicy::Closed;
                    audit(
                        Outcome::Failure,
                        json!({
                            "result": if closed { "failed_closed" } else { "failed_open" },
                            "error": error,
                            "micros": micros,
                        }),
                    );
                    if closed {
                        return Ok(Dispatched::Denied {
                            extension,
                            reason: format!(
                                "the extension failed and its filter fails closed: {error}"
                            ),
                        });
                    }
                }
            }
        }
        Ok(Dispatched::Proceed { payload })
    }
}
