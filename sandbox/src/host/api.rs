//! `api.register_endpoint` (MagGate adapter) and `api.emit_events` (the
//! kernel's own event bus; the event names the extension as its source).

use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Component, Event};
use serde_json::json;

use crate::bindings::magflock::extension::{api_endpoints, events};
use crate::state::HostState;

const MAX_EVENT_DATA: usize = 256 * 1024;

impl api_endpoints::Host for HostState {
    fn register(&mut self, method: String, path: String) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::ApiRegisterEndpoint, "api-endpoints.register")?;
        Ok(self.adapter_unit(
            Component::MagGate,
            Capability::ApiRegisterEndpoint,
            "register",
            json!({"method": method, "path": path}),
        ))
    }

    fn unregister(&mut self, method: String, path: String) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::ApiRegisterEndpoint, "api-endpoints.unregister")?;
        Ok(self.adapter_unit(
            Component::MagGate,
            Capability::ApiRegisterEndpoint,
            "unregister",
            json!({"method": method, "path": path}),
        ))
    }
}

impl events::Host for HostState {
    fn publish(
        &mut self,
        event_type: String,
        data: String,
    ) -> wasmtime::Result<Result<String, String>> {
        self.allow(Capability::ApiEmitEvents, "events.publish")?;
        if data.len() > MAX_EVENT_DATA {
            return Ok(Err(format!(
                "event data of {} bytes is over the {MAX_EVENT_DATA}-byte limit",
                data.len()
            )));
        }
        let data = match serde_json::from_str(&data) {
            Ok(value) => value,
            Err(e) => return Ok(Err(format!("event data is not JSON: {e}"))),
        };
        let source = Source {
            component: "kernel".into(),
            extension: Some(self.extension.to_string()),
        };
        let event = match Event::new(&event_type, source, data, Context::default(), Vec::new()) {
            Ok(event) => event,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let id = event.event_id.clone();
        Ok(self.services.events.publish(event).map(|_| id))
    }
}
