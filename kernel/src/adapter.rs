//! The component adapter contract (specification section 6).
//!
//! Guarantees: components never see extensions. The kernel checks a
//! capability first, then hands the call to the component's adapter, which
//! only translates it to the component's native API and back. Every
//! component exposes exactly the hooks of the hook map; an adapter cannot
//! invent hooks the registry does not know.

use crate::hooks::{self, Component, HookSpec};
use crate::{Capability, Event};

/// One host call, already allowed by the policy gate, for a component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterCall {
    pub extension: String,
    /// The capability the kernel checked for this call.
    pub capability: Capability,
    /// The operation, e.g. `query`, `execute`, `broadcast`.
    pub operation: String,
    /// Arguments as JSON.
    pub args: String,
}

/// Every platform component implements this to take part.
pub trait Adapter: Send + Sync {
    fn component(&self) -> Component;

    /// RegisterHooks: the hooks this component provides (its part of the hook map).
    fn register_hooks(&self) -> Vec<&'static HookSpec> {
        hooks::of_component(self.component()).collect()
    }

    /// ExecuteHook: carries out an allowed host call on the native API.
    /// `Err` is a message for the extension (not a violation).
    fn execute(&self, call: &AdapterCall) -> Result<String, String>;

    /// ValidateCapability: the component's own, second check (e.g. MagDS runs
    /// the query as a database role that holds only the grant). Defaults to
    /// trusting the kernel's check.
    fn validate_capability(&self, _extension: &str, _capability: Capability) -> bool {
        true
    }
}

/// EmitEvent: how a component publishes to the kernel's bus.
pub trait EventEmitter: Send + Sync {
    fn emit(&self, event: Event) -> Result<(), crate::KernelError>;
}
