//! The parts of the running kernel the gateway uses, and hook dispatch from
//! async code.
//!
//! Guarantees: a hook with no handler is answered at once (`Proceed` with the
//! payload unchanged) without leaving the async thread. Otherwise the
//! dispatcher runs the WebAssembly guests synchronously: on the async thread
//! when every handler has been quick so far (no kernel stop, at most 1 call in
//! 100 over a millisecond: handing a microsecond call to another thread costs
//! more than the call), else on a blocking thread, so a slow or stopped
//! extension holds an async worker for at most one call. The dispatcher applies the capability checks, the order and the
//! failure policies (fail open / fail closed) of each handler.
//! [`GateKernel::resolve_permission`] is the platform's one reading of a
//! `permission_resolver` answer (MagUI's role checks use it too): handlers
//! may narrow an allowed call to a refusal, never widen one.

use magflock_kernel::audit::AuditSink;
use magflock_kernel::bus::Bus;
use magflock_kernel::dispatch::{Dispatched, Dispatcher};
use magflock_kernel::{PolicyGate, Registry};
use magflock_sandbox::{LoadedExtension, Sandbox};
use serde_json::Value;
use std::sync::{Arc, RwLock};

use crate::GateError;

/// Whether a call into `loaded` may run on this async thread: the
/// extension has been quick, and this is a multi-thread runtime's worker
/// (its host calls wait with `block_in_place`, which needs one).
pub(crate) fn runs_inline(loaded: &LoadedExtension) -> bool {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    multi_thread && loaded.stats().is_quick()
}

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

/// A `permission_resolver` handler's refusal of a call the platform allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionDenial {
    /// The extension that denied (`None`: a handler changed the decision).
    pub extension: Option<String>,
    pub reason: String,
}

impl GateKernel {
    /// Offers a call the platform allowed (`payload`: `user_id`, `roles`,
    /// `permission`, `resource`, `decision: "allow"`) to `permission_resolver`
    /// handlers. `Some` when one denies it or leaves a decision other than
    /// "allow" (only narrowing counts; never offer a platform refusal). A
    /// failed dispatch leaves the platform's decision (logged).
    pub async fn resolve_permission(&self, payload: &Value) -> Option<PermissionDenial> {
        match self.dispatch("permission_resolver", payload).await {
            Ok(Dispatched::Denied { extension, reason }) => Some(PermissionDenial {
                extension: Some(extension),
                reason,
            }),
            Ok(Dispatched::Proceed { payload }) => {
                let decision = serde_json::from_str::<Value>(&payload)
                    .ok()
                    .and_then(|v| v["decision"].as_str().map(str::to_string));
                (decision.as_deref() != Some("allow")).then(|| PermissionDenial {
                    extension: None,
                    reason: format!(
                        "a permission_resolver handler changed the decision to {}",
                        decision.as_deref().unwrap_or("nothing")
                    ),
                })
            }
            Err(e) => {
                tracing::warn!("permission_resolver hook: {e}; the platform's decision stands");
                None
            }
        }
    }

    /// Whether any extension handles `hook` (enabled or not: the dispatcher
    /// decides who runs).
    pub fn has_handlers(&self, hook: &str) -> bool {
        self.registry
            .read()
            .map(|r| !r.handlers(hook).is_empty())
            .unwrap_or(false)
    }

    /// Whether every extension handling `hook` has been quick so far.
    fn all_quick(&self, hook: &str) -> bool {
        let Ok(registry) = self.registry.read() else {
            return false;
        };
        registry.handlers(hook).iter().all(|(id, _)| {
            self.sandbox
                .get(id)
                .is_ok_and(|loaded| runs_inline(&loaded))
        })
    }

    /// Offers `hook` to its handlers with the payload `make` builds, only
    /// when there are any: `None` (and no payload built) when nobody handles
    /// the hook, so a request path pays nothing for filters nobody installed.
    /// The payload is built at once; the dispatch is the returned future.
    pub fn offer(
        &self,
        hook: &'static str,
        make: impl FnOnce() -> Value,
    ) -> Option<impl Future<Output = Result<Dispatched, GateError>> + Send + '_> {
        if !self.has_handlers(hook) {
            return None;
        }
        let payload = make();
        Some(async move { self.dispatch(hook, &payload).await })
    }

    /// Dispatches `hook` with `payload` (see the module's guarantees).
    pub async fn dispatch(
        &self,
        hook: &'static str,
        payload: &Value,
    ) -> Result<Dispatched, GateError> {
        let text = payload.to_string();
        if !self.has_handlers(hook) {
            return Ok(Dispatched::Proceed { payload: text });
        }
        if self.all_quick(hook) {
            return self
                .dispatcher
                .dispatch(hook, &text)
                .map_err(GateError::from);
        }
        let dispatcher = self.dispatcher.clone();
        tokio::task::spawn_blocking(move || dispatcher.dispatch(hook, &text))
            .await
            .map_err(|e| GateError::Internal(format!("hook {hook}: {e}")))?
            .map_err(GateError::from)
    }
}
