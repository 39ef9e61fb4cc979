//! The store's one error type. Each variant says what a caller can do about it;
//! the server maps them to HTTP status in one place.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// The database URL or another connection setting is wrong. Names the setting.
    #[error("{setting}: {problem}")]
    Config {
        setting: &'static str,
        problem: String,
    },
    /// The database cannot be reached right now (refused, timed out, closed).
    #[error("the control-plane database is unreachable: {0}")]
    Unavailable(String),
    /// A migration failed or an applied migration was changed.
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is taken (e.g. an email).
    #[error("{0}")]
    Conflict(String),
    /// First-run setup already happened.
    #[error("this MagFlock instance already has an owner")]
    AlreadySetUp,
    /// The change would leave no active owner.
    #[error("the last active owner cannot be demoted or disabled")]
    LastOwner,
    /// Anything else the database reported.
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound("row"),
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.to_string()),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_string())
            }
            sqlx::Error::Database(db)
                if db.code().as_deref().is_some_and(is_connection_failure) =>
            {
                StoreError::Unavailable(db.message().to_string())
            }
            _ => StoreError::Database(err.to_string()),
        }
    }
}

/// PostgreSQL error codes that mean "cannot talk to the database right now":
/// connection exceptions (class 08), the server shutting down or refusing new
/// connections (57P01-57P03), a database closed to connections (55000, as
/// `ALLOW_CONNECTIONS false` reports it) and rejected credentials (class 28).
fn is_connection_failure(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("28")
        || matches!(code, "57P01" | "57P02" | "57P03" | "55000")
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        match err {
            sqlx::migrate::MigrateError::Execute(inner) => match StoreError::from(inner) {
                StoreError::Unavailable(m) => StoreError::Unavailable(m),
                other => StoreError::Migration(other.to_string()),
            },
            other => StoreError::Migration(other.to_string()),
        }
    }
}
