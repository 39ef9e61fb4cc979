//! The MagFlock extension SDK (guest side of `magflock:extension@0.1.0`).
//!
//! An extension is a Rust `cdylib` built with `cargo build --target
//! wasm32-wasip2`. Implement [`Extension`] (every method has a sensible
//! default) and export it with [`extension!`]:
//!
//! ```ignore
//! use magflock_sdk::prelude::*;
//!
//! struct Greeter;
//! impl Extension for Greeter {
//!     fn run_command(command: &str, _args: Vec<String>) -> Result<String, String> {
//!         match command {
//!             "greet" => Ok("hello".into()),
//!             other => Err(format!("unknown command '{other}'")),
//!         }
//!     }
//! }
//! magflock_sdk::extension!(Greeter);
//! ```
//!
//! Guarantees: host calls are plain functions in [`host`] (one module per
//! capability). Calling one your extension was not granted does not return an
//! error: the kernel stops the instance and quarantines the extension, so
//! request what you use and nothing more. Hook payloads and events arrive
//! typed ([`Hook`], [`Event`]); widgets return a declarative [`view::View`].

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/v0.1.0",
        world: "extension",
        default_bindings_module: "magflock_sdk::bindings",
        pub_export_macro: true,
        export_macro_name: "export_guest",
    });
}

mod event;
mod hook;
pub mod payloads;
pub mod view;

pub use event::{Event, EventContext, EventSource};
pub use hook::{Hook, HookOutcome};

/// Host imports, one module per capability (plus `log` and `kv`, which every
/// extension has).
pub mod host {
    pub use crate::bindings::magflock::extension::types::{
        Header, HealthReport, HealthStatus, HttpRequest, HttpResponse, LogLevel,
    };
    pub use crate::bindings::magflock::extension::{
        api_endpoints, auth_audit, auth_roles, database_admin, database_read, database_schema,
        database_write, events, filesystem_read, filesystem_temp, filesystem_write, kv, log,
        network_outbound, realtime_broadcast, realtime_channels, system_cron, system_jobs,
        system_metrics, ui_panels, ui_schema, ui_widgets,
    };
}

pub use host::{HealthReport, HealthStatus, HttpRequest, HttpResponse};

impl HttpResponse {
    /// A JSON answer: `status`, `content-type: application/json`, `body` serialised.
    pub fn json(status: u16, body: serde_json::Value) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![host::Header {
                name: "content-type".into(),
                value: "application/json".into(),
            }],
            body: body.to_string().into_bytes(),
        }
    }
}

/// Writes an info line to the platform log.
pub fn log_info(message: &str) {
    host::log::write(host::LogLevel::Info, message);
}

/// Writes a warning to the platform log.
pub fn log_warn(message: &str) {
    host::log::write(host::LogLevel::Warn, message);
}

/// What an extension does. Each method has a default, so implement only what
/// the manifest declares.
pub trait Extension {
    /// Once, at install (after migrations).
    fn install() -> Result<(), String> {
        Ok(())
    }
    /// When an instance is prepared; `config` is the extension's settings (JSON).
    fn init(_config: &str) -> Result<(), String> {
        Ok(())
    }
    fn start() -> Result<(), String> {
        Ok(())
    }
    fn stop() -> Result<(), String> {
        Ok(())
    }
    fn uninstall() -> Result<(), String> {
        Ok(())
    }
    fn health_check() -> HealthReport {
        HealthReport {
            status: HealthStatus::Healthy,
            message: String::new(),
        }
    }
    /// A hook from the manifest. Filters may allow, deny or modify; actions
    /// should return `HookOutcome::Allow`.
    fn handle_hook(_hook: Hook) -> Result<HookOutcome, String> {
        Ok(HookOutcome::Allow)
    }
    /// An event the manifest subscribes to. Delivery is at least once: dedupe
    /// on `event.event_id`.
    fn handle_event(_event: Event) -> Result<(), String> {
        Ok(())
    }
    fn handle_request(_request: HttpRequest) -> Result<HttpResponse, String> {
        Ok(HttpResponse {
            status: 404,
            headers: Vec::new(),
            body: b"not found".to_vec(),
        })
    }
    fn render_widget(widget_id: &str, _props: serde_json::Value) -> Result<view::View, String> {
        Err(format!("unknown widget '{widget_id}'"))
    }
    fn run_command(command: &str, _args: Vec<String>) -> Result<String, String> {
        Err(format!("unknown command '{command}'"))
    }
}

/// Everything an extension usually needs.
pub mod prelude {
    pub use crate::host;
    pub use crate::payloads;
    pub use crate::view::{self, View};
    pub use crate::{
        Event, Extension, HealthReport, HealthStatus, Hook, HookOutcome, HttpRequest, HttpResponse,
        log_info, log_warn,
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::exports::magflock::extension::guest;
    pub use crate::bindings::magflock::extension::types;
    pub use serde_json;
}

/// Exports a type implementing [`Extension`] as the component's guest.
#[macro_export]
macro_rules! extension {
    ($ty:ty) => {
        struct __MagflockGuest;

        impl $crate::__private::guest::Guest for __MagflockGuest {
            fn install() -> Result<(), String> {
                <$ty as $crate::Extension>::install()
            }
            fn init(config: String) -> Result<(), String> {
                <$ty as $crate::Extension>::init(&config)
            }
            fn start() -> Result<(), String> {
                <$ty as $crate::Extension>::start()
            }
            fn stop() -> Result<(), String> {
                <$ty as $crate::Extension>::stop()
            }
            fn uninstall() -> Result<(), String> {
                <$ty as $crate::Extension>::uninstall()
            }
            fn health_check() -> $crate::__private::types::HealthReport {
                <$ty as $crate::Extension>::health_check()
            }
            fn handle_hook(
                call: $crate::__private::types::HookCall,
            ) -> Result<$crate::__private::types::HookOutcome, String> {
                let hook = $crate::Hook::from_call(call)?;
                <$ty as $crate::Extension>::handle_hook(hook).map($crate::HookOutcome::into_wit)
            }
            fn handle_event(event: String) -> Result<(), String> {
                let event = $crate::Event::from_json(&event)?;
                <$ty as $crate::Extension>::handle_event(event)
            }
            fn handle_request(
                request: $crate::__private::types::HttpRequest,
            ) -> Result<$crate::__private::types::HttpResponse, String> {
                <$ty as $crate::Extension>::handle_request(request)
            }
            fn render_widget(widget_id: String, props: String) -> Result<String, String> {
                let props = $crate::__private::serde_json::from_str(&props)
                    .map_err(|e| format!("widget props are not JSON: {e}"))?;
                <$ty as $crate::Extension>::render_widget(&widget_id, props).map(|v| v.to_json())
            }
            fn run_command(command: String, args: Vec<String>) -> Result<String, String> {
                <$ty as $crate::Extension>::run_command(&command, args)
            }
        }

        $crate::bindings::export_guest!(__MagflockGuest with_types_in $crate::bindings);
    };
}
