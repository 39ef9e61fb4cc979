//! Host imports of `magflock:extension@0.1.0`, one file per capability
//! family. Each capability function starts with the gate check
//! ([`HostState::allow`]); nothing reaches a component, a file or the network
//! before it.

mod always;
mod api;
mod auth;
mod database;
mod filesystem;
mod network;
mod realtime;
mod system;
mod ui;

use magflock_kernel::adapter::AdapterCall;
use magflock_kernel::{Capability, Component};
use serde_json::Value;

use crate::bindings::magflock::extension::types;
use crate::state::HostState;

impl types::Host for HostState {}

impl HostState {
    /// Hands an allowed call to a component's adapter (its own capability
    /// check included). `Err` is a message for the guest.
    fn adapter(
        &self,
        component: Component,
        capability: Capability,
        operation: &str,
        args: Value,
    ) -> Result<String, String> {
        let adapter = self
            .services
            .adapters
            .get(&component)
            .ok_or_else(|| format!("{} is not connected to the kernel", component.name()))?;
        if !adapter.validate_capability(&self.extension, capability) {
            return Err(format!(
                "{} refused '{capability}' for this extension",
                component.name()
            ));
        }
        adapter.execute(&AdapterCall {
            extension: self.extension.to_string(),
            capability,
            operation: operation.to_string(),
            args: args.to_string(),
        })
    }

    /// Like [`HostState::adapter`] for calls whose answer carries nothing.
    fn adapter_unit(
        &self,
        component: Component,
        capability: Capability,
        operation: &str,
        args: Value,
    ) -> Result<(), String> {
        self.adapter(component, capability, operation, args)
            .map(|_| ())
    }
}
