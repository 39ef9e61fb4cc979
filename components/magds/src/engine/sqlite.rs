//! The embedded SQLite engine: one database file per project under a data
//! folder, for installations without `MAGDS_URL`.
//!
//! Layout: `<dir>/projects.sqlite` (the registry), `<dir>/projects/<database>.sqlite`
//! (one file per project).
//!
//! Guarantees, beyond those of [`super::Engine`]:
//! * Project files use the rollback journal (`journal_mode=DELETE`) and are
//!   opened per operation, so a closed project is exactly one file.
//! * Creating refuses to reuse an existing file; dropping removes the file
//!   and its journal side files.
//! * A backup is `VACUUM INTO` (a consistent snapshot taken online). A restore
//!   copies the backup beside the project file, checks it with
//!   `PRAGMA quick_check`, then renames it over the project file (atomic on
//!   one file system) and removes stale journal side files.
//! * Row-level security and point-in-time recovery do not exist here:
//!   [`MagDsError::NotOnThisEngine`].

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sqlx::Connection;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions,
};

use super::describe::DatabaseSchema;
use super::sql::EngineSql;
use super::{Engine, EngineKind, Health, Migration, Project, publish_file};
use crate::error::{MagDsError, from_sqlx};

const ENGINE: &str = "sqlite";
const REGISTRY: &str = "projects.sqlite";

/// No lock on the ledger: SQLite lets one writer at a time in.
const SQL: EngineSql<Sqlite> = EngineSql::new(
    ENGINE,
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_magds_migrations'",
    None,
);

pub struct SqliteEngine {
    registry: SqlitePool,
    dir: PathBuf,
}

impl SqliteEngine {
    /// Opens (creating if needed) the data folder and its registry.
    pub async fn open(dir: &Path) -> Result<SqliteEngine, MagDsError> {
        let projects = dir.join("projects");
        tokio::fs::create_dir_all(&projects)
            .await
            .map_err(|e| MagDsError::io(&projects, e))?;
        let options = SqliteConnectOptions::new()
            .filename(dir.join(REGISTRY))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let registry = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| from_sqlx(ENGINE, REGISTRY, "open the project registry", e))?;
        SQL.create_registry(&registry, REGISTRY).await?;
        Ok(SqliteEngine {
            registry,
            dir: dir.to_path_buf(),
        })
    }

    /// The file of a project database.
    pub fn file(&self, database: &str) -> PathBuf {
        self.dir.join("projects").join(format!("{database}.sqlite"))
    }

    async fn open_file(path: &Path, create: bool) -> Result<SqliteConnection, sqlx::Error> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Delete)
            .foreign_keys(true);
        SqliteConnection::connect_with(&options).await
    }

    async fn connect(&self, database: &str) -> Result<SqliteConnection, MagDsError> {
        Self::open_file(&self.file(database), false)
            .await
            .map_err(|e| from_sqlx(ENGINE, database, "open the database file", e))
    }

    /// Checks that `path` is an intact SQLite database.
    async fn check_file(database: &str, path: &Path) -> Result<(), MagDsError> {
        let db = |e| from_sqlx(ENGINE, database, "check the backup", e);
        let mut conn = Self::open_file(path, false).await.map_err(db)?;
        let verdict: String = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_one(&mut conn)
            .await
            .map_err(db)?;
        let _ = conn.close().await;
        if verdict == "ok" {
            Ok(())
        } else {
            Err(MagDsError::Database {
                database: database.to_string(),
                action: "check the backup".into(),
                message: verdict,
            })
        }
    }
}

/// Removes the journal side files of `file`, if any.
async fn remove_side_files(file: &Path) {
    for suffix in ["-journal", "-wal", "-shm"] {
        let mut side = file.as_os_str().to_owned();
        side.push(suffix);
        let _ = tokio::fs::remove_file(PathBuf::from(side)).await;
    }
}

#[async_trait]
impl Engine for SqliteEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Sqlite
    }

    async fn insert_project(&self, project: &Project) -> Result<(), MagDsError> {
        SQL.insert_project(&self.registry, REGISTRY, project).await
    }

    async fn delete_project(&self, name: &str) -> Result<(), MagDsError> {
        SQL.delete_project(&self.registry, REGISTRY, name).await
    }

    async fn find_project(&self, name: &str) -> Result<Option<Project>, MagDsError> {
        SQL.find_project(&self.registry, REGISTRY, name).await
    }

    async fn list_projects(&self) -> Result<Vec<Project>, MagDsError> {
        SQL.list_projects(&self.registry, REGISTRY).await
    }

    async fn create_database(
        &self,
        database: &str,
        extensions: &[String],
    ) -> Result<(), MagDsError> {
        if !extensions.is_empty() {
            return Err(MagDsError::NotOnThisEngine("PostgreSQL extension profiles"));
        }
        let file = self.file(database);
        if tokio::fs::try_exists(&file).await.unwrap_or(true) {
            return Err(MagDsError::Database {
                database: database.to_string(),
                action: "create the database".into(),
                message: format!("the file {} already exists", file.display()),
            });
        }
        let conn = Self::open_file(&file, true)
            .await
            .map_err(|e| from_sqlx(ENGINE, database, "create the database", e))?;
        conn.close()
            .await
            .map_err(|e| from_sqlx(ENGINE, database, "create the database", e))
    }

    async fn drop_database(&self, database: &str) -> Result<(), MagDsError> {
        let file = self.file(database);
        match tokio::fs::remove_file(&file).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(MagDsError::io(&file, e)),
        }
        remove_side_files(&file).await;
        Ok(())
    }

    fn database_url(&self, database: &str) -> String {
        format!("sqlite://{}", self.file(database).display())
    }

    async fn apply_migration(
        &self,
        database: &str,
        name: &str,
        sql: &str,
    ) -> Result<Migration, MagDsError> {
        let conn = self.connect(database).await?;
        SQL.apply_migration(conn, database, name, sql).await
    }

    async fn migrations(&self, database: &str) -> Result<Vec<Migration>, MagDsError> {
        SQL.migrations(self.connect(database).await?, database)
            .await
    }

    async fn execute_in_transaction(
        &self,
        database: &str,
        statements: &[String],
    ) -> Result<(), MagDsError> {
        let conn = self.connect(database).await?;
        SQL.execute_in_transaction(conn, database, statements).await
    }

    async fn backup(&self, database: &str, path: &Path) -> Result<u64, MagDsError> {
        let partial = path.with_extension("partial");
        let mut conn = self.connect(database).await?;
        let result = sqlx::query("VACUUM INTO ?1")
            .bind(partial.to_string_lossy().into_owned())
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(from_sqlx(ENGINE, database, "back up (VACUUM INTO)", e));
        }
        publish_file(&partial, path).await
    }

    async fn restore(&self, database: &str, path: &Path) -> Result<(), MagDsError> {
        let file = self.file(database);
        let staged = file.with_extension("restoring");
        tokio::fs::copy(path, &staged)
            .await
            .map_err(|e| MagDsError::io(path, e))?;
        if let Err(error) = Self::check_file(database, &staged).await {
            let _ = tokio::fs::remove_file(&staged).await;
            return Err(error);
        }
        tokio::fs::rename(&staged, &file)
            .await
            .map_err(|e| MagDsError::io(&file, e))?;
        remove_side_files(&file).await;
        Ok(())
    }

    async fn checkpoint(&self, _database: &str, _label: &str) -> Result<String, MagDsError> {
        Err(MagDsError::NotOnThisEngine("point-in-time recovery"))
    }

    async fn health(&self, database: &str) -> Result<Health, MagDsError> {
        let file = self.file(database);
        let meta = tokio::fs::metadata(&file)
            .await
            .map_err(|e| MagDsError::io(&file, e))?;
        Ok(Health {
            connections: None,
            size_bytes: meta.len() as i64,
            replication_lag_bytes: None,
        })
    }

    async fn describe(&self, database: &str) -> Result<DatabaseSchema, MagDsError> {
        let mut conn = self.connect(database).await?;
        let described = super::describe::sqlite(&mut conn, database).await;
        let _ = conn.close().await;
        described
    }

    async fn close(&self) {
        self.registry.close().await;
    }
}
