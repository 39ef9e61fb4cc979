//! The database engines MagDS runs project databases on: PostgreSQL
//! ([`postgres`]) or embedded SQLite ([`sqlite`]), behind one [`Engine`] trait;
//! the SQL they run alike is written once, in the module `sql`.
//!
//! Guarantees every engine keeps:
//! * The project registry lives in the engine, not in the control plane
//!   (PostgreSQL: table `magds_projects` in the admin database; SQLite:
//!   `projects.sqlite` in the data folder), created if missing.
//! * A migration runs in one transaction together with its row in the
//!   project's `_magds_migrations` table: either both are stored or neither;
//!   a name already recorded is refused and nothing runs.
//! * A backup file appears under its final name only once complete.
//! * Identifiers reaching SQL text were validated by [`crate::ident`] and are
//!   quoted; every value is bound.
//! * Connection failures are [`MagDsError::Unavailable`], the database's own
//!   refusals [`MagDsError::Database`] with its message.

pub mod describe;
pub mod postgres;
mod sql;
pub mod sqlite;

use std::path::Path;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::MagDsError;

/// Which engine MagDS runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Postgres,
    Sqlite,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Postgres => "postgres",
            EngineKind::Sqlite => "sqlite",
        }
    }
}

/// A project as the registry stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// A UUID v7, fixed at creation.
    pub id: String,
    pub name: String,
    /// The database (PostgreSQL) or file stem (SQLite); equal to the name.
    pub database: String,
    pub owner: String,
    /// The PostgreSQL extensions created in the database.
    pub extensions: Vec<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// One applied migration, as `_magds_migrations` records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    pub name: String,
    pub applied_at_ms: i64,
    pub duration_ms: i64,
}

/// A project database's health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Open connections to the database (PostgreSQL); `None` on SQLite.
    pub connections: Option<i64>,
    pub size_bytes: i64,
    /// Largest replay lag of any replica in bytes; `None` without replicas.
    pub replication_lag_bytes: Option<i64>,
}

/// What a MagDS engine does; the [`crate::MagDs`] front runs hooks, checks
/// arguments and publishes events around these calls.
#[async_trait]
pub trait Engine: Send + Sync {
    fn kind(&self) -> EngineKind;

    async fn insert_project(&self, project: &Project) -> Result<(), MagDsError>;
    async fn delete_project(&self, name: &str) -> Result<(), MagDsError>;
    async fn find_project(&self, name: &str) -> Result<Option<Project>, MagDsError>;
    async fn list_projects(&self) -> Result<Vec<Project>, MagDsError>;

    /// Creates the database with `extensions`; nothing remains if it fails.
    async fn create_database(
        &self,
        database: &str,
        extensions: &[String],
    ) -> Result<(), MagDsError>;
    async fn drop_database(&self, database: &str) -> Result<(), MagDsError>;
    /// A URL for connecting to the project database directly.
    fn database_url(&self, database: &str) -> String;

    async fn apply_migration(
        &self,
        database: &str,
        name: &str,
        sql: &str,
    ) -> Result<Migration, MagDsError>;
    async fn migrations(&self, database: &str) -> Result<Vec<Migration>, MagDsError>;
    /// Runs `statements` in one transaction.
    async fn execute_in_transaction(
        &self,
        database: &str,
        statements: &[String],
    ) -> Result<(), MagDsError>;

    /// Writes a complete backup to `path`; returns its size in bytes.
    async fn backup(&self, database: &str, path: &Path) -> Result<u64, MagDsError>;
    async fn restore(&self, database: &str, path: &Path) -> Result<(), MagDsError>;
    /// Creates a named restore point; returns its WAL position.
    async fn checkpoint(&self, database: &str, label: &str) -> Result<String, MagDsError>;
    async fn health(&self, database: &str) -> Result<Health, MagDsError>;
    /// The database's schemas, tables, columns, indexes and (PostgreSQL)
    /// row-level-security policies.
    async fn describe(&self, database: &str) -> Result<describe::DatabaseSchema, MagDsError>;

    /// Closes the engine's pools.
    async fn close(&self);
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Renames `from` to `to` (same folder), so `to` appears complete or not at all.
pub(crate) async fn publish_file(from: &Path, to: &Path) -> Result<u64, MagDsError> {
    tokio::fs::rename(from, to)
        .await
        .map_err(|e| MagDsError::io(to, e))?;
    let meta = tokio::fs::metadata(to)
        .await
        .map_err(|e| MagDsError::io(to, e))?;
    Ok(meta.len())
}
