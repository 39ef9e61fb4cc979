//! The package crate's error type; each message names the entry, key, file,
//! field or extension concerned. Resolver errors (from [`crate::Resolver`])
//! are each one sentence naming the extensions and versions involved.

use magflock_kernel::semver::{Version, VersionReq};

use crate::catalog::KernelMismatch;
use crate::resolve::{Requirement, Requirer};

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
    /// A catalog file (`index.json`, `index.sig`) breaks a rule; `problem`
    /// names the field (`entries[2].version`) or the line and column.
    #[error("catalog {file}: {problem}")]
    Catalog { file: String, problem: String },
    /// Downloaded package bytes do not match their catalog entry.
    #[error("download of '{id}' {version}: {problem}")]
    Download {
        id: String,
        version: Version,
        problem: String,
    },
    /// No catalog lists the extension at all.
    #[error("{}", unknown_extension(.id, .required_by))]
    UnknownExtension { id: String, required_by: Requirer },
    /// One requirement matches none of the listed versions.
    #[error("{by} requires '{id}' {req} but the catalogs have only {}", list(.available))]
    NoMatchingVersion {
        id: String,
        by: Requirer,
        req: VersionReq,
        available: Vec<Version>,
    },
    /// Versions match every requirement, but none runs on this kernel (the
    /// highest of them is named).
    #[error("{0}")]
    KernelIncompatible(Box<KernelMismatch>),
    /// `path` starts and ends with the same extension.
    #[error("{} is a dependency cycle", cycle(.path))]
    DependencyCycle { path: Vec<String> },
    /// Each requirement alone matches a version, but no version matches them together.
    #[error("{}", conflict(.id, .requirements))]
    Conflict {
        id: String,
        requirements: Vec<Requirement>,
    },
    /// An installed dependency's version is excluded by a requirement
    /// (dependencies are never upgraded implicitly).
    #[error("{by} needs '{id}' {req} but {installed} is installed; upgrade '{id}' first")]
    InstalledExcluded {
        id: String,
        installed: Version,
        by: Requirer,
        req: VersionReq,
    },
    /// The requested range lies below the installed version.
    #[error(
        "'{id}' {installed} is installed and {by} asks for {req}, which would be a downgrade; downgrades are refused (roll back instead)"
    )]
    Downgrade {
        id: String,
        installed: Version,
        by: Requirer,
        req: VersionReq,
    },
}

impl From<std::io::Error> for PackageError {
    fn from(e: std::io::Error) -> Self {
        PackageError::Io(e.to_string())
    }
}

fn unknown_extension(id: &str, required_by: &Requirer) -> String {
    match required_by {
        Requirer::Request => format!("no catalog lists '{id}'"),
        Requirer::Extension(by) => format!("no catalog lists '{id}', which '{by}' requires"),
    }
}

fn list(versions: &[Version]) -> String {
    let texts: Vec<String> = versions.iter().map(ToString::to_string).collect();
    texts.join(", ")
}

fn cycle(path: &[String]) -> String {
    let quoted: Vec<String> = path.iter().map(|id| format!("'{id}'")).collect();
    quoted.join(" → ")
}

fn conflict(id: &str, requirements: &[Requirement]) -> String {
    let needs: Vec<String> = requirements
        .iter()
        .map(|r| format!("{} needs '{id}' {}", r.by, r.req))
        .collect();
    match needs.as_slice() {
        [first, second] => format!("{first} but {second}; no version satisfies both"),
        [rest @ .., last] => format!(
            "{} and {last}; no version satisfies all of them",
            rest.join(", ")
        ),
        [] => format!("the requirements on '{id}' conflict"),
    }
}
