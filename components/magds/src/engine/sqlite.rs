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
use std::time::Instant;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
};
use sqlx::{Connection, Executor};

use super::{
    Engine, EngineKind, Health, MIGRATIONS_DDL, Migration, PROJECT_COLUMNS, Project, REGISTRY_DDL,
    migration_from_row, now_ms, project_from_row, publish_file,
};
use crate::error::{MagDsError, from_sqlx};

const ENGINE: &str = "sqlite";
const REGISTRY: &str = "projects.sqlite";

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
        sqlx::raw_sql(REGISTRY_DDL)
            .execute(&registry)
            .await
            .map_err(|e| from_sqlx(ENGINE, REGISTRY, "create the project registry", e))?;
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

    async fn migrate(
        conn: &mut SqliteConnection,
        database: &str,
        name: &str,
        sql: &str,
    ) -> Result<Migration, MagDsError> {
        let action = format!("migration '{name}'");
        let db = |e| from_sqlx(ENGINE, database, &action, e);
        let mut tx = conn.begin().await.map_err(db)?;
        (&mut *tx)
            .execute(sqlx::raw_sql(MIGRATIONS_DDL))
            .await
            .map_err(db)?;
        let seen = sqlx::query("SELECT 1 FROM _magds_migrations WHERE name = ?1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if seen.is_some() {
            return Err(MagDsError::MigrationApplied {
                project: database.to_string(),
                migration: name.to_string(),
            });
        }
        let started = Instant::now();
        (&mut *tx).execute(sqlx::raw_sql(sql)).await.map_err(db)?;
        let migration = Migration {
            name: name.to_string(),
            applied_at_ms: now_ms(),
            duration_ms: started.elapsed().as_millis() as i64,
        };
        sqlx::query(
            "INSERT INTO _magds_migrations (name, applied_at_ms, duration_ms) VALUES (?1, ?2, ?3)",
        )
        .bind(&migration.name)
        .bind(migration.applied_at_ms)
        .bind(migration.duration_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(migration)
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
        let extensions = serde_json::to_string(&project.extensions).unwrap_or_default();
        sqlx::query(&format!(
            "INSERT INTO magds_projects ({PROJECT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ))
        .bind(&project.id)
        .bind(&project.name)
        .bind(&project.database)
        .bind(&project.owner)
        .bind(extensions)
        .bind(project.created_at_ms)
        .execute(&self.registry)
        .await
        .map_err(|e| from_sqlx(ENGINE, REGISTRY, "register the project", e))?;
        Ok(())
    }

    async fn delete_project(&self, name: &str) -> Result<(), MagDsError> {
        sqlx::query("DELETE FROM magds_projects WHERE name = ?1")
            .bind(name)
            .execute(&self.registry)
            .await
            .map_err(|e| from_sqlx(ENGINE, REGISTRY, "unregister the project", e))?;
        Ok(())
    }

    async fn find_project(&self, name: &str) -> Result<Option<Project>, MagDsError> {
        let db = |e| from_sqlx(ENGINE, REGISTRY, "read the project registry", e);
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM magds_projects WHERE name = ?1"
        ))
        .bind(name)
        .fetch_optional(&self.registry)
        .await
        .map_err(db)?;
        row.map(|r| project_from_row(&r)).transpose().map_err(db)
    }

    async fn list_projects(&self) -> Result<Vec<Project>, MagDsError> {
        let db = |e| from_sqlx(ENGINE, REGISTRY, "read the project registry", e);
        let rows = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM magds_projects ORDER BY name"
        ))
        .fetch_all(&self.registry)
        .await
        .map_err(db)?;
        rows.iter()
            .map(project_from_row)
            .collect::<Result<_, _>>()
            .map_err(db)
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
        let mut conn = self.connect(database).await?;
        let result = Self::migrate(&mut conn, database, name, sql).await;
        let _ = conn.close().await;
        result
    }

    async fn migrations(&self, database: &str) -> Result<Vec<Migration>, MagDsError> {
        let mut conn = self.connect(database).await?;
        let db = |e| from_sqlx(ENGINE, database, "read the migrations", e);
        let exists: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_magds_migrations'",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(db)?;
        let rows = if exists > 0 {
            sqlx::query("SELECT name, applied_at_ms, duration_ms FROM _magds_migrations ORDER BY applied_at_ms, name")
                .fetch_all(&mut conn)
                .await
                .map_err(db)?
        } else {
            Vec::new()
        };
        let _ = conn.close().await;
        rows.iter()
            .map(migration_from_row)
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    async fn execute_in_transaction(
        &self,
        database: &str,
        statements: &[String],
    ) -> Result<(), MagDsError> {
        let mut conn = self.connect(database).await?;
        let db = |e| from_sqlx(ENGINE, database, "the transaction", e);
        let mut tx = conn.begin().await.map_err(db)?;
        for statement in statements {
            (&mut *tx)
                .execute(sqlx::raw_sql(statement))
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        let _ = conn.close().await;
        Ok(())
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

    async fn close(&self) {
        self.registry.close().await;
    }
}
