//! The state of one store (one instance of one extension): whose it is, what
//! it may reach, and what went wrong, if anything.

use magflock_kernel::audit::Actor;
use magflock_kernel::{Capability, Denial};
use magflock_types::Outcome;
use serde_json::json;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::error::Stop;
use crate::limits::MemoryCap;
use crate::services::Services;

pub(crate) struct HostState {
    pub extension: Arc<str>,
    pub actor: Actor,
    pub services: Arc<Services>,
    pub memory: MemoryCap,
    /// The first host call refused by the gate during this call, if any.
    pub violation: Option<Stop>,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    pub fn new(extension: Arc<str>, services: Arc<Services>, memory_mb: u64) -> HostState {
        HostState {
            actor: Actor::extension(&extension),
            extension,
            services,
            memory: MemoryCap::new(memory_mb),
            violation: None,
            // No preopened directories, no environment, no arguments, no
            // sockets: Rust's std imports WASI, and gets nothing from it.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        }
    }

    /// The gate check every capability import makes first. Allowed calls are
    /// audited and go ahead; a refused call is audited, remembered as the
    /// reason to stop, and traps.
    pub fn allow(&mut self, capability: Capability, call: &str) -> wasmtime::Result<()> {
        let decision = self.services.gate.check(&self.extension, capability);
        self.decide(capability, call, decision)
    }

    /// `network.outbound` for one host.
    pub fn allow_host(&mut self, call: &str, host: &str) -> wasmtime::Result<()> {
        let decision = self.services.gate.check_host(&self.extension, host);
        self.decide(Capability::NetworkOutbound, call, decision)
    }

    fn decide(
        &mut self,
        capability: Capability,
        call: &str,
        decision: Result<(), Denial>,
    ) -> wasmtime::Result<()> {
        match decision {
            Ok(()) => {
                self.services.audit.record(self.actor.entry(
                    "extension.host_call",
                    Some(capability.as_str()),
                    Outcome::Success,
                    json!({ "call": call }),
                ));
                Ok(())
            }
            Err(denial) => {
                self.services.audit.record(self.actor.entry(
                    "extension.host_call",
                    Some(capability.as_str()),
                    Outcome::Denied,
                    json!({ "call": call, "denial": denial.to_string() }),
                ));
                let stop = Stop::CapabilityViolation {
                    capability,
                    call: call.to_string(),
                    denial,
                };
                let message = stop.to_string();
                self.violation.get_or_insert(stop);
                Err(wasmtime::Error::msg(message))
            }
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
