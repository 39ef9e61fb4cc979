//! How MagDS fires its hooks (the MagDS part of the kernel's hook map).
//!
//! Guarantees:
//! * Filters (`before_*`, `on_extension_profile_select`, `on_rls_policy_create`)
//!   run before the operation through [`HookSink::filter`]; a denial stops the
//!   operation before anything changed, with the extension's reason. A filter
//!   may return a modified payload; each operation documents which fields it
//!   takes from it.
//! * Actions (`after_*`, `on_pitr_checkpoint`, `health_check_report`) run after
//!   the operation succeeded, through [`HookSink::action`]; they cannot change
//!   the outcome.
//! * [`KernelHooks`] runs the kernel's synchronous [`Dispatcher`] on a blocking
//!   thread, never on the async runtime. If the dispatch itself fails (a
//!   platform bug such as a payload missing a field the hook map lists), a
//!   filter fails closed, denied by `kernel`; an action's failure is logged.
//! * [`NoHooks`] allows everything unchanged.

use std::sync::Arc;

use async_trait::async_trait;
use magflock_kernel::dispatch::{Dispatched, Dispatcher};
use serde_json::Value;

/// A filter's denial: the extension that denied, and its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub extension: String,
    pub reason: String,
}

/// Where MagDS sends its hooks.
#[async_trait]
pub trait HookSink: Send + Sync {
    /// Runs a filter hook: the (possibly modified) payload, or a denial.
    async fn filter(&self, hook: &'static str, payload: Value) -> Result<Value, Denied>;
    /// Tells the action hook's handlers what happened.
    async fn action(&self, hook: &'static str, payload: Value);
}

/// No extensions: every filter allows the payload unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

#[async_trait]
impl HookSink for NoHooks {
    async fn filter(&self, _hook: &'static str, payload: Value) -> Result<Value, Denied> {
        Ok(payload)
    }

    async fn action(&self, _hook: &'static str, _payload: Value) {}
}

/// The kernel's dispatcher: extensions' handlers, in the registry's order,
/// under the policy gate.
#[derive(Clone)]
pub struct KernelHooks {
    pub dispatcher: Arc<Dispatcher>,
}

impl KernelHooks {
    pub fn new(dispatcher: Arc<Dispatcher>) -> KernelHooks {
        KernelHooks { dispatcher }
    }

    /// Dispatches on a blocking thread (guests are WebAssembly, run synchronously).
    async fn dispatch(&self, hook: &'static str, payload: &Value) -> Result<Dispatched, String> {
        let dispatcher = Arc::clone(&self.dispatcher);
        let text = payload.to_string();
        tokio::task::spawn_blocking(move || dispatcher.dispatch(hook, &text))
            .await
            .map_err(|e| format!("the hook dispatch did not finish: {e}"))?
            .map_err(|e| e.to_string())
    }
}

fn kernel_denial(reason: String) -> Denied {
    Denied {
        extension: "kernel".to_string(),
        reason,
    }
}

#[async_trait]
impl HookSink for KernelHooks {
    async fn filter(&self, hook: &'static str, payload: Value) -> Result<Value, Denied> {
        match self.dispatch(hook, &payload).await.map_err(kernel_denial)? {
            Dispatched::Proceed { payload } => serde_json::from_str(&payload)
                .map_err(|e| kernel_denial(format!("the filtered payload is not JSON: {e}"))),
            Dispatched::Denied { extension, reason } => Err(Denied { extension, reason }),
        }
    }

    async fn action(&self, hook: &'static str, payload: Value) {
        if let Err(error) = self.dispatch(hook, &payload).await {
            tracing::warn!(hook, %error, "MagDS action hook dispatch failed");
        }
    }
}
