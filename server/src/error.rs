//! Why the server could not start (or a CLI command could not run): one variant
//! per kind of cause, each message naming the setting or input at fault.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StartError {
    /// A configuration value is malformed: `setting: problem`.
    #[error("{setting}: {problem}")]
    Config { setting: String, problem: String },
    /// The control-plane database could not be opened or migrated.
    #[error("{0}")]
    Store(#[from] magflock_store::StoreError),
    /// The listening address could not be bound.
    #[error("{setting}: cannot listen on {addr}: {problem}")]
    Bind {
        setting: &'static str,
        addr: String,
        problem: String,
    },
    /// A command-line request was refused (e.g. a weak password).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A command ran and failed (a lifecycle step, a missing file).
    #[error("{0}")]
    Failed(String),
}

impl StartError {
    pub fn config(setting: impl Into<String>, problem: impl Into<String>) -> StartError {
        StartError::Config {
            setting: setting.into(),
            problem: problem.into(),
        }
    }

    /// Process exit code: 2 for configuration and input mistakes, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Config { .. } | StartError::Refused(_) => 2,
            StartError::Store(magflock_store::StoreError::Config { .. }) => 2,
            _ => 1,
        }
    }
}
