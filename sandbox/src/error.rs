//! The sandbox's error type. A [`SandboxError::Stopped`] means the guest was
//! terminated and the extension quarantined; the [`Stop`] says why.

use magflock_kernel::{Capability, Denial};

/// Why the kernel stopped a guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A host call outside the live grant.
    CapabilityViolation {
        capability: Capability,
        call: String,
        denial: Denial,
    },
    /// The fuel budget (CPU per call) ran out.
    CpuBudget {
        fuel: u64,
    },
    /// The wall-clock deadline passed.
    Deadline {
        deadline_ms: u64,
    },
    /// The guest tried to grow its memory past its cap.
    MemoryLimit {
        requested_bytes: u64,
        cap_bytes: u64,
    },
    StackOverflow,
    /// The guest panicked (Rust panics abort to an `unreachable` trap).
    Panic,
    /// A result larger than the kernel accepts.
    ResultTooLarge {
        bytes: u64,
        limit: u64,
    },
    /// Any other trap.
    Crash(String),
}

impl Stop {
    /// A short machine-readable name, used in audit entries and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Stop::CapabilityViolation { .. } => "capability_violation",
            Stop::CpuBudget { .. } => "cpu_budget_exceeded",
            Stop::Deadline { .. } => "deadline_exceeded",
            Stop::MemoryLimit { .. } => "memory_limit_exceeded",
            Stop::StackOverflow => "stack_overflow",
            Stop::Panic => "panic",
            Stop::ResultTooLarge { .. } => "result_too_large",
            Stop::Crash(_) => "crash",
        }
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::CapabilityViolation {
                capability,
                call,
                denial,
            } => write!(f, "called {call} ({capability}) but {denial}"),
            Stop::CpuBudget { fuel } => {
                write!(f, "used its whole CPU budget ({fuel} fuel) in one call")
            }
            Stop::Deadline { deadline_ms } => write!(f, "ran past its {deadline_ms} ms deadline"),
            Stop::MemoryLimit {
                requested_bytes,
                cap_bytes,
            } => write!(
                f,
                "tried to grow its memory to {} MiB, over its {} MiB cap",
                requested_bytes >> 20,
                cap_bytes >> 20
            ),
            Stop::StackOverflow => f.write_str("overflowed its stack"),
            Stop::Panic => f.write_str("panicked"),
            Stop::ResultTooLarge { bytes, limit } => {
                write!(f, "returned {bytes} bytes, over the {limit}-byte limit")
            }
            Stop::Crash(trap) => write!(f, "crashed: {trap}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Refused before running: not installed, disabled or quarantined.
    #[error("extension '{extension}' cannot run: {denial}")]
    NotRunnable { extension: String, denial: Denial },
    /// Terminated while running; the extension is now quarantined.
    #[error("extension '{extension}' was stopped and quarantined: it {stop}")]
    Stopped { extension: String, stop: Stop },
    /// The guest answered with an error of its own (it keeps running).
    #[error("extension '{extension}' reported an error: {message}")]
    Guest { extension: String, message: String },
    /// The package's component is not acceptable (invalid, or imports that
    /// exceed what its manifest requests).
    #[error("{0}")]
    Component(String),
    #[error("extension '{0}' is not loaded")]
    NotLoaded(String),
    /// Every instance slot is in use even after idle instances were given
    /// back; the call can be retried. Not the extension's fault: nothing is
    /// quarantined.
    #[error("extension '{extension}' could not start an instance: {limit}")]
    Capacity { extension: String, limit: String },
    #[error("sandbox: {0}")]
    Internal(String),
}
