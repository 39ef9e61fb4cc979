//! The package crate's error type; each message names the entry, key or
//! rule concerned.

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{0}")]
    Io(String),
    /// The archive breaks a rule (path, kind, size, count, duplicate).
    #[error("package entry '{entry}': {problem}")]
    Entry { entry: String, problem: String },
    #[error("package: {0}")]
    Malformed(String),
    #[error("{0}")]
    Manifest(#[from] magflock_kernel::ManifestErrors),
    #[error("signature: {0}")]
    Signature(String),
    /// Not installable here (kernel API range, downgrade, same version).
    #[error("{0}")]
    Incompatible(String),
    #[error("key file '{file}': {problem}")]
    Key { file: String, problem: String },
}

impl From<std::io::Error> for PackageError {
    fn from(e: std::io::Error) -> Self {
        PackageError::Io(e.to_string())
    }
}
