//! [`LoadedExtension`]: calls into one extension under its budgets.
//!
//! Guarantees: every call checks first that the extension may run; sets the
//! fuel, the epoch deadline and the memory cap; and classifies any failure.
//! A trap, a refused host call or an oversized result stops the call, throws
//! the instance away, quarantines the extension, audits it and publishes
//! `extension.error`. Only an instance whose call succeeded is kept warm.

use magflock_kernel::dispatch::HookOutcome;
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Event, Manifest};
use magflock_types::Outcome;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::{Store, Trap};

use crate::bindings::types::{self, HealthReport, HttpRequest, HttpResponse};
use crate::bindings::{Extension, ExtensionPre};
use crate::error::{SandboxError, Stop};
use crate::services::Services;
use crate::state::HostState;
use crate::stats::{CallStats, Ending, StatsSnapshot};

/// Whether a call may reuse a warm instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallMode {
    /// Reuse an idle instance if there is one (the normal path).
    Warm,
    /// Always instantiate afresh (and discard the instance afterwards).
    Fresh,
}

struct Instance {
    store: Store<HostState>,
    bindings: Extension,
}

pub struct LoadedExtension {
    id: Arc<str>,
    manifest: Manifest,
    pre: ExtensionPre<HostState>,
    imports: Vec<String>,
    services: Arc<Services>,
    idle: Mutex<Vec<Instance>>,
    max_result: u64,
    tick_ms: u64,
    stats: CallStats,
    /// Gives back other extensions' idle instances when the pool is full.
    reclaim: Reclaim,
}

/// Frees idle instances of every loaded extension but the one named;
/// returns how many it freed.
pub(crate) type Reclaim = Arc<dyn Fn(&str) -> usize + Send + Sync>;

/// The size of a result, for the result limit.
trait ResultSize {
    fn size(&self) -> u64;
    /// The guest answered with its own error (counted as a failed call).
    fn is_guest_error(&self) -> bool {
        false
    }
}
impl ResultSize for () {
    fn size(&self) -> u64 {
        0
    }
}
impl ResultSize for String {
    fn size(&self) -> u64 {
        self.len() as u64
    }
}
impl<T: ResultSize, E: ResultSize> ResultSize for Result<T, E> {
    fn size(&self) -> u64 {
        match self {
            Ok(v) => v.size(),
            Err(e) => e.size(),
        }
    }
    fn is_guest_error(&self) -> bool {
        self.is_err()
    }
}
impl ResultSize for types::HookOutcome {
    fn size(&self) -> u64 {
        match self {
            types::HookOutcome::Allow => 0,
            types::HookOutcome::Deny(s) | types::HookOutcome::Modify(s) => s.len() as u64,
        }
    }
}
impl ResultSize for HttpResponse {
    fn size(&self) -> u64 {
        let headers: usize = self
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum();
        (self.body.len() + headers) as u64
    }
}
impl ResultSize for HealthReport {
    fn size(&self) -> u64 {
        self.message.len() as u64
    }
}

impl LoadedExtension {
    pub(crate) fn new(
        manifest: Manifest,
        pre: ExtensionPre<HostState>,
        imports: Vec<String>,
        services: Arc<Services>,
        max_result: u64,
        tick_ms: u64,
        reclaim: Reclaim,
    ) -> LoadedExtension {
        LoadedExtension {
            id: Arc::from(manifest.id.as_str()),
            manifest,
            pre,
            imports,
            services,
            idle: Mutex::new(Vec::new()),
            max_result,
            tick_ms,
            stats: CallStats::default(),
            reclaim,
        }
    }

    /// Drops this extension's idle instances (their slots return to the
    /// pool). Returns how many.
    pub fn drop_idle(&self) -> usize {
        self.idle
            .lock()
            .map(|mut idle| idle.drain(..).count())
            .unwrap_or(0)
    }

    /// Counters of every call since this version was loaded.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The component's import names (WASI and contract interfaces).
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Warm instances kept for the next call.
    pub fn idle_instances(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }

    /// Instantiates `count` instances into the warm pool ahead of calls.
    pub fn prewarm(&self, count: usize) -> Result<(), SandboxError> {
        for _ in 0..count {
            let instance = self.instantiate()?;
            if let Ok(mut idle) = self.idle.lock() {
                idle.push(instance);
            }
        }
        Ok(())
    }

    pub fn install(&self) -> Result<(), SandboxError> {
        self.guest_result("install", CallMode::Fresh, |g, s| g.call_install(s))
    }
    pub fn init(&self, config: &str) -> Result<(), SandboxError> {
        self.guest_result("init", CallMode::Warm, |g, s| g.call_init(s, config))
    }
    pub fn start(&self) -> Result<(), SandboxError> {
        self.guest_result("start", CallMode::Warm, |g, s| g.call_start(s))
    }
    pub fn stop(&self) -> Result<(), SandboxError> {
        self.guest_result("stop", CallMode::Warm, |g, s| g.call_stop(s))
    }
    pub fn uninstall(&self) -> Result<(), SandboxError> {
        self.guest_result("uninstall", CallMode::Fresh, |g, s| g.call_uninstall(s))
    }
    pub fn health_check(&self) -> Result<HealthReport, SandboxError> {
        self.call("health-check", CallMode::Warm, |g, s| {
            g.call_health_check(s)
        })
    }

    pub fn handle_hook(
        &self,
        hook: &str,
        payload: &str,
        mode: CallMode,
    ) -> Result<HookOutcome, SandboxError> {
        let call = types::HookCall {
            hook: hook.to_string(),
            payload: payload.to_string(),
        };
        let outcome =
            self.guest_result("handle-hook", mode, |g, s| g.call_handle_hook(s, &call))?;
        Ok(match outcome {
            types::HookOutcome::Allow => HookOutcome::Allow,
            types::HookOutcome::Deny(reason) => HookOutcome::Deny(reason),
            types::HookOutcome::Modify(payload) => HookOutcome::Modify(payload),
        })
    }

    pub fn handle_event(&self, event_json: &str) -> Result<(), SandboxError> {
        self.guest_result("handle-event", CallMode::Warm, |g, s| {
            g.call_handle_event(s, event_json)
        })
    }

    pub fn handle_request(&self, request: &HttpRequest) -> Result<HttpResponse, SandboxError> {
        self.guest_result("handle-request", CallMode::Warm, |g, s| {
            g.call_handle_request(s, request)
        })
    }

    pub fn render_widget(&self, widget: &str, props: &str) -> Result<String, SandboxError> {
        self.guest_result("render-widget", CallMode::Warm, |g, s| {
            g.call_render_widget(s, widget, props)
        })
    }

    pub fn run_command(
        &self,
        command: &str,
        args: &[String],
        mode: CallMode,
    ) -> Result<String, SandboxError> {
        self.guest_result("run-command", mode, |g, s| {
            g.call_run_command(s, command, args)
        })
    }

    /// A call whose guest answers `result<T, string>`: the guest's own error
    /// becomes [`SandboxError::Guest`] (the extension keeps running).
    fn guest_result<T: ResultSize>(
        &self,
        what: &str,
        mode: CallMode,
        call: impl FnOnce(
            &crate::bindings::guest::Guest,
            &mut Store<HostState>,
        ) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<T, SandboxError> {
        self.call(what, mode, call)?
            .map_err(|message| SandboxError::Guest {
                extension: self.id.to_string(),
                message,
            })
    }

    fn call<R: ResultSize>(
        &self,
        what: &str,
        mode: CallMode,
        call: impl FnOnce(&crate::bindings::guest::Guest, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, SandboxError> {
        self.services
            .gate
            .may_run(&self.id)
            .map_err(|denial| SandboxError::NotRunnable {
                extension: self.id.to_string(),
                denial,
            })?;
        let mut instance = match mode {
            CallMode::Warm => self.idle.lock().ok().and_then(|mut idle| idle.pop()),
            CallMode::Fresh => None,
        }
        .map(Ok)
        .unwrap_or_else(|| self.instantiate())?;
        self.arm(&mut instance.store)?;
        let started = Instant::now();
        let result = call(
            instance.bindings.magflock_extension_guest(),
            &mut instance.store,
        );
        let fuel = self
            .manifest
            .budgets
            .fuel_per_call
            .saturating_sub(instance.store.get_fuel().unwrap_or(0));
        let memory = instance.store.data().memory.current_bytes;
        let record = |ending| self.stats.record(ending, fuel, started.elapsed(), memory);
        match result {
            Ok(value) if value.size() > self.max_result => {
                record(Ending::Stopped);
                Err(self.terminate(
                    what,
                    Stop::ResultTooLarge {
                        bytes: value.size(),
                        limit: self.max_result,
                    },
                ))
            }
            Ok(value) => {
                record(if value.is_guest_error() {
                    Ending::GuestError
                } else {
                    Ending::Ok
                });
                if mode == CallMode::Warm
                    && let Ok(mut idle) = self.idle.lock()
                {
                    idle.push(instance);
                }
                Ok(value)
            }
            Err(error) => {
                record(Ending::Stopped);
                let stop = classify(&mut instance.store, &error, &self.manifest);
                Err(self.terminate(what, stop))
            }
        }
    }

    /// A new instance. When every pool slot is taken, other extensions'
    /// idle instances are given back and it is tried once more; a pool that
    /// is still full is [`SandboxError::Capacity`], not the guest's fault.
    fn instantiate(&self) -> Result<Instance, SandboxError> {
        match self.try_instantiate()? {
            Ok(instance) => Ok(instance),
            Err(_) if (self.reclaim)(&self.id) > 0 => match self.try_instantiate()? {
                Ok(instance) => Ok(instance),
                Err(limit) => Err(self.capacity(limit)),
            },
            Err(limit) => Err(self.capacity(limit)),
        }
    }

    fn capacity(&self, limit: String) -> SandboxError {
        tracing::warn!(extension = &*self.id, "instance pool full: {limit}");
        SandboxError::Capacity {
            extension: self.id.to_string(),
            limit,
        }
    }

    /// `Ok(Err(the limit reached))` when the pool is full.
    fn try_instantiate(&self) -> Result<Result<Instance, String>, SandboxError> {
        let state = HostState::new(
            self.id.clone(),
            self.services.clone(),
            self.manifest.budgets.memory_mb,
        );
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.memory);
        self.arm(&mut store)?;
        match self.pre.instantiate(&mut store) {
            Ok(bindings) => Ok(Ok(Instance { store, bindings })),
            Err(error) => {
                if let Some(full) = error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
                    return Ok(Err(full.to_string()));
                }
                let stop = classify(&mut store, &error, &self.manifest);
                Err(self.terminate("instantiate", stop))
            }
        }
    }

    /// Sets this call's budgets (a store starts with none and would trap at once).
    fn arm(&self, store: &mut Store<HostState>) -> Result<(), SandboxError> {
        let budgets = &self.manifest.budgets;
        store
            .set_fuel(budgets.fuel_per_call)
            .map_err(|e| SandboxError::Internal(format!("setting fuel: {e}")))?;
        store.set_epoch_deadline(budgets.deadline_ms.div_ceil(self.tick_ms).max(1));
        store.epoch_deadline_trap();
        let state = store.data_mut();
        state.violation = None;
        state.memory.refused = None;
        Ok(())
    }

    /// Quarantines the extension for `stop`, audits it and publishes
    /// `extension.error`; returns the error for the caller.
    fn terminate(&self, what: &str, stop: Stop) -> SandboxError {
        let reason = stop.to_string();
        let newly = self.services.gate.quarantine(&self.id, &reason);
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
        let capability = match &stop {
            Stop::CapabilityViolation { capability, .. } => Some(capability.as_str()),
            _ => None,
        };
        let detail = json!({
            "call": what,
            "kind": stop.kind(),
            "reason": reason,
            "capability": capability,
        });
        let actor = magflock_kernel::audit::Actor::system();
        self.services.audit.record(actor.entry(
            "extension.quarantined",
            Some(&self.id),
            Outcome::Denied,
            detail.clone(),
        ));
        let source = Source {
            component: "kernel".into(),
            extension: Some(self.id.to_string()),
        };
        let mut data = detail;
        data["extension"] = json!(&*self.id);
        match Event::new(
            "extension.error",
            source,
            data,
            Context::default(),
            Vec::new(),
        ) {
            Ok(event) => self.services.events.publish_later(event),
            Err(e) => tracing::error!("extension.error event: {e}"),
        }
        if newly {
            self.services.quarantines.quarantined(&self.id);
        }
        tracing::warn!(
            extension = &*self.id,
            call = what,
            "extension stopped and quarantined: {reason}"
        );
        SandboxError::Stopped {
            extension: self.id.to_string(),
            stop,
        }
    }
}

/// What made a call fail: a refused host call first (its trap is the
/// consequence), then a refused memory growth (Rust aborts when allocation
/// fails), then the trap itself.
fn classify(store: &mut Store<HostState>, error: &wasmtime::Error, manifest: &Manifest) -> Stop {
    let state = store.data_mut();
    if let Some(violation) = state.violation.take() {
        return violation;
    }
    if let Some(requested) = state.memory.refused.take() {
        return Stop::MemoryLimit {
            requested_bytes: requested,
            cap_bytes: state.memory.cap_bytes,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Stop::CpuBudget {
            fuel: manifest.budgets.fuel_per_call,
        },
        Some(Trap::Interrupt) => Stop::Deadline {
            deadline_ms: manifest.budgets.deadline_ms,
        },
        Some(Trap::StackOverflow) => Stop::StackOverflow,
        Some(Trap::UnreachableCodeReached) => Stop::Panic,
        Some(trap) => Stop::Crash(trap.to_string()),
        None => Stop::Crash(format!("{error:#}")),
    }
}
