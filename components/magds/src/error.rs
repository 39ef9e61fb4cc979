//! The crate's one error type, [`MagDsError`].
//!
//! Guarantees: every MagDS operation fails with exactly one variant, and its
//! message names the project (or database), the operation and the problem; the
//! database's own message is kept verbatim where the database refused. An
//! operation that fails with [`MagDsError::Invalid`], [`MagDsError::Denied`],
//! [`MagDsError::NotOnThisEngine`] or any "unknown"/"exists" variant has changed
//! nothing.

use crate::classify::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum MagDsError {
    /// A project name that cannot become a database name.
    #[error("project name '{name}' is not allowed: {problem}")]
    InvalidName { name: String, problem: String },
    #[error("project '{0}' already exists")]
    ProjectExists(String),
    #[error("project '{0}' does not exist")]
    UnknownProject(String),
    /// An extension profile outside the allowlist.
    #[error(
        "project '{project}': extension profile '{profile}' is not allowed (allowed: {allowed})"
    )]
    UnknownExtension {
        project: String,
        profile: String,
        allowed: String,
    },
    #[error("project '{project}': migration '{migration}' has already been applied")]
    MigrationApplied { project: String, migration: String },
    #[error("project '{project}': backup '{backup_id}' does not exist")]
    UnknownBackup { project: String, backup_id: String },
    /// An argument that was refused before anything ran (identifier,
    /// expression, label, migration name, ...).
    #[error("project '{project}': {problem}")]
    Invalid { project: String, problem: String },
    /// The operation does not exist on the engine MagDS runs on.
    #[error(
        "{0} is not available on this engine (embedded SQLite); configure MAGDS_URL to use PostgreSQL"
    )]
    NotOnThisEngine(&'static str),
    /// A filter hook denied the operation; nothing was done.
    #[error("'{hook}' denied by extension '{extension}': {reason}")]
    Denied {
        hook: String,
        extension: String,
        reason: String,
    },
    /// The database refused or failed an operation; `message` is its own.
    #[error("database '{database}': {action} failed: {message}")]
    Database {
        database: String,
        action: String,
        message: String,
    },
    /// The engine cannot be reached (connection refused, timed out, ...).
    #[error("cannot reach the {engine} engine ({target}): {message}")]
    Unavailable {
        engine: &'static str,
        target: String,
        message: String,
    },
    /// An external tool (`pg_dump`, `pg_restore`) is missing or failed.
    #[error("database '{database}': {tool} failed: {message}")]
    Tool {
        database: String,
        tool: &'static str,
        message: String,
    },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// A statement the SQL classifier refused.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl MagDsError {
    /// Is this a failure to reach the engine (and so worth a
    /// `database.connection.failed` event)?
    pub fn is_unavailable(&self) -> bool {
        matches!(self, MagDsError::Unavailable { .. })
    }

    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> MagDsError {
        MagDsError::Io {
            path: path.display().to_string(),
            message: error.to_string(),
        }
    }

    pub(crate) fn invalid(project: &str, problem: impl Into<String>) -> MagDsError {
        MagDsError::Invalid {
            project: project.to_string(),
            problem: problem.into(),
        }
    }
}

/// Maps a sqlx error for `database`/`action`: connection problems become
/// [`MagDsError::Unavailable`], everything else keeps the database's message.
pub(crate) fn from_sqlx(
    engine: &'static str,
    database: &str,
    action: &str,
    error: sqlx::Error,
) -> MagDsError {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => MagDsError::Unavailable {
            engine,
            target: database.to_string(),
            message: error.to_string(),
        },
        sqlx::Error::Database(db) => MagDsError::Database {
            database: database.to_string(),
            action: action.to_string(),
            message: db.message().to_string(),
        },
        other => MagDsError::Database {
            database: database.to_string(),
            action: action.to_string(),
            message: other.to_string(),
        },
    }
}
