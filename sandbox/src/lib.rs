//! The sandbox enforcer: extension code runs here and nowhere else.
//!
//! Guarantees:
//! * Each call runs under the extension's budgets: fuel per call (CPU), an
//!   epoch deadline (wall clock) and a memory cap; it has no ambient authority
//!   (WASI is linked with no directories, sockets or environment).
//! * Every host import checks the live grant through the kernel's policy gate
//!   at call time. A call outside the grant traps: the instance is discarded
//!   at once, the extension is quarantined, the attempt is audited and an
//!   `extension.error` event is published. So is any other trap (budget,
//!   deadline, memory, stack overflow, panic) and an oversized result.
//! * A trap in one guest never affects the host or another extension: each
//!   call has its own store, and a failed store is never reused.
//! * A component whose imports are unknown or exceed its manifest's requests
//!   is refused at load, before any of its code runs.
//! * Compiled components are cached on disk by the engine's compatibility hash
//!   and the component's SHA-256; a cached artifact is only ever one this
//!   process wrote.

mod bindings;
mod bridge;
mod cache;
mod delivery;
mod error;
mod extension;
mod host;
mod limits;
mod runner;
mod sandbox;
mod services;
mod state;
mod stats;

pub use bindings::types::{Header, HealthReport, HealthStatus, HttpRequest, HttpResponse};
pub use bridge::{BusPublisher, DurableKeyValue, PolicyRecorder, durable_services, wait_for};
pub use delivery::{EventDelivery, Round, subscriber_id};
pub use error::{SandboxError, Stop};
pub use extension::{CallMode, LoadedExtension};
pub use sandbox::{Sandbox, SandboxConfig};
pub use services::{
    EventPublisher, Job, KeyValue, MemoryScheduler, Metrics, QuarantineRecorder, Scheduler,
    Services,
};
pub use stats::{LATENCY_BUCKETS_US, StatsSnapshot};
