//! Typed hook calls: the hook's name and its JSON payload, with helpers to
//! read the payload as the struct documented for that hook.

use crate::bindings::magflock::extension::types;
use serde::de::DeserializeOwned;

/// A hook invocation.
#[derive(Clone, Debug)]
pub struct Hook {
    /// The hook's name from the hook map, e.g. `before_query`.
    pub name: String,
    pub payload: serde_json::Value,
}

impl Hook {
    #[doc(hidden)]
    pub fn from_call(call: types::HookCall) -> Result<Hook, String> {
        let payload = serde_json::from_str(&call.payload)
            .map_err(|e| format!("hook '{}' payload is not JSON: {e}", call.hook))?;
        Ok(Hook {
            name: call.hook,
            payload,
        })
    }

    /// The payload as `T`, with an error naming the hook if it does not fit.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| format!("hook '{}' payload: {e}", self.name))
    }

    /// A string field of the payload, if present.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.payload.get(name).and_then(|v| v.as_str())
    }
}

/// A handler's decision.
#[derive(Clone, Debug, PartialEq)]
pub enum HookOutcome {
    Allow,
    /// Stop the action; the reason is shown to the user.
    Deny(String),
    /// Continue with this payload instead (filters only).
    Modify(serde_json::Value),
}

impl HookOutcome {
    #[doc(hidden)]
    pub fn into_wit(self) -> types::HookOutcome {
        match self {
            HookOutcome::Allow => types::HookOutcome::Allow,
            HookOutcome::Deny(reason) => types::HookOutcome::Deny(reason),
            HookOutcome::Modify(payload) => types::HookOutcome::Modify(payload.to_string()),
        }
    }
}
