//! The parts of the running kernel the gateway uses, and hook dispatch from
//! async code.
//!
//! Guarantees: a hook with no handler is answered at once (`Proceed` with the
//! payload unchanged) without leaving the async thread; otherwise the
//! dispatcher, which runs WebAssembly guests synchronously, runs on a blocking
//! thread. The dispatcher applies the capability checks, the order and the
//! failure policies (fail open / fail closed) of each handler.

use magflock_kernel::audit::AuditSink;
use magflock_kernel::bus::Bus;
use magflock_kernel::dispatch::{Dispatched, Dispatcher};
use magflock_kernel::{PolicyGate, Registry};
use magflock_sandbox::Sandbox;
use serde_json::Value;
use std::sync::{Arc, RwLock};

use crate::GateError;

/// What the gateway needs of the kernel (the server's `KernelHost` has all of it).
#[derive(Clone)]
pub struct GateKernel {
    pub dispatcher: Arc<Dispatcher>,
    pub registry: Arc<RwLock<Registry>>,
    pub sandbox: Arc<Sandbox>,
    pub gate: Arc<PolicyGate>,
    pub bus: Arc<Bus>,
    /// The platform's audit log (the gateway records admins' API mutations).
    pub audit: Arc<dyn AuditSink>,
}

impl GateKernel {
    /// Whether any extension handles `hook` (enabled or not: the dispatcher
    /// decides who runs).
    pub fn has_handlers(&self, hook: &str) -> bool {
        self.registry
            .read()
            .map(|r| !r.handlers(hook).is_empty())
            .unwrap_or(false)
    }

    /// Dispatches `hook` with `payload` on a blocking thread.
    pub async fn dispatch(
        &self,
        hook: &'static str,
        payload: &Value,
    ) -> Result<Dispatched, GateError> {
        let text = payload.to_string();
        if !self.has_handlers(hook) {
            return Ok(Dispatched::Proceed { payload: text });
        }
        let dispatcher = self.dispatcher.clone();
        tokio::task::spawn_blocking(move || dispatcher.dispatch(hook, &text))
            .await
            .map_err(|e| GateError::Internal(format!("hook {hook}: {e}")))?
            .map_err(GateError::from)
    }
}
