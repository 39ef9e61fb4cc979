//! The PostgreSQL engine: one database per project on the server `MAGDS_URL`
//! points at (an admin connection that may create databases).
//!
//! Guarantees, beyond those of [`super::Engine`]:
//! * The registry is the table `magds_projects` in the admin database.
//! * A project database is created with `CREATE DATABASE` and its extensions
//!   with `CREATE EXTENSION IF NOT EXISTS`; if an extension fails, the new
//!   database is dropped again.
//! * Dropping a project database ends its open sessions (`WITH (FORCE)`).
//! * Backups are `pg_dump --format=custom` files. A restore runs `pg_restore
//!   --clean --if-exists --single-transaction --exit-on-error` into the
//!   project database itself: it is all or nothing (a failed restore leaves
//!   the database as it was), objects in the backup are dropped and recreated
//!   with the backup's contents, and objects created after the backup that the
//!   backup does not know are left in place. (Restoring into a fresh database
//!   and swapping names was rejected: renaming needs every session closed and
//!   takes two steps that can fail in between.)
//! * `pg_dump`/`pg_restore` are taken from `/usr/bin` or else `PATH`; a
//!   password in the URL reaches them through `PGPASSWORD`, never the command line.
//! * Checkpoints are `pg_create_restore_point` (superuser, `wal_level` replica
//!   or higher); the server's refusal is reported with its own message.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, Postgres};
use sqlx::{Connection, Executor, Row};
use tokio::process::Command;

use super::describe::DatabaseSchema;
use super::sql::EngineSql;
use super::{Engine, EngineKind, Health, Migration, Project, publish_file};
use crate::error::{MagDsError, from_sqlx};
use crate::ident::quote;

const ENGINE: &str = "postgres";

const SQL: EngineSql<Postgres> = EngineSql::new(
    ENGINE,
    "SELECT count(*) FROM pg_class WHERE oid = to_regclass('_magds_migrations')",
    Some("LOCK TABLE _magds_migrations IN SHARE ROW EXCLUSIVE MODE"),
);

pub struct PostgresEngine {
    admin: PgPool,
    admin_url: String,
    options: PgConnectOptions,
}

impl PostgresEngine {
    /// Connects to the admin database and creates the registry if missing.
    pub async fn open(admin_url: &str) -> Result<PostgresEngine, MagDsError> {
        let options =
            PgConnectOptions::from_str(admin_url).map_err(|e| MagDsError::Unavailable {
                engine: ENGINE,
                target: "MAGDS_URL".into(),
                message: format!("not a valid PostgreSQL URL: {e}"),
            })?;
        let target = options.get_database().unwrap_or("postgres").to_string();
        let admin = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(|e| unavailable(&target, e))?;
        SQL.create_registry(&admin, &target).await?;
        Ok(PostgresEngine {
            admin,
            admin_url: admin_url.to_string(),
            options,
        })
    }

    fn admin_name(&self) -> &str {
        self.options.get_database().unwrap_or("postgres")
    }

    async fn connect(&self, database: &str) -> Result<PgConnection, MagDsError> {
        let options = self.options.clone().database(database);
        PgConnection::connect_with(&options)
            .await
            .map_err(|e| from_sqlx(ENGINE, database, "connect", e))
    }

    /// The URL for a command-line tool (without password) and the password.
    fn tool_target(&self, database: &str) -> Result<(String, Option<String>), MagDsError> {
        let mut url = url::Url::parse(&self.admin_url).map_err(|e| MagDsError::Tool {
            database: database.to_string(),
            tool: "pg_dump/pg_restore",
            message: format!("the admin URL cannot be parsed as a URL: {e}"),
        })?;
        let password = url.password().map(percent_decode);
        let _ = url.set_password(None);
        url.set_path(&format!("/{database}"));
        Ok((url.to_string(), password))
    }

    async fn create_extensions(
        &self,
        database: &str,
        extensions: &[String],
    ) -> Result<(), MagDsError> {
        let mut conn = self.connect(database).await?;
        for extension in extensions {
            let statement = format!("CREATE EXTENSION IF NOT EXISTS {}", quote(extension));
            if let Err(e) = (&mut conn).execute(sqlx::raw_sql(&statement)).await {
                let _ = conn.close().await;
                let action = format!("create extension '{extension}'");
                return Err(from_sqlx(ENGINE, database, &action, e));
            }
        }
        conn.close()
            .await
            .map_err(|e| from_sqlx(ENGINE, database, "disconnect", e))
    }

    /// Runs `tool` with `args` against `database`; its stderr is the message on failure.
    async fn run_tool(
        &self,
        tool: &'static str,
        database: &str,
        args: &[&std::ffi::OsStr],
    ) -> Result<(), MagDsError> {
        let program = find_tool(tool).ok_or_else(|| MagDsError::Tool {
            database: database.to_string(),
            tool,
            message: format!("{tool} was not found at /usr/bin/{tool} or on PATH"),
        })?;
        let (url, password) = self.tool_target(database)?;
        let mut command = Command::new(program);
        command
            .args(args)
            .arg("--no-password")
            .arg("--dbname")
            .arg(url);
        if let Some(password) = password {
            command.env("PGPASSWORD", password);
        }
        let output = command.output().await.map_err(|e| MagDsError::Tool {
            database: database.to_string(),
            tool,
            message: e.to_string(),
        })?;
        if output.status.success() {
            return Ok(());
        }
        Err(MagDsError::Tool {
            database: database.to_string(),
            tool,
            message: format!(
                "{} ({})",
                String::from_utf8_lossy(&output.stderr).trim(),
                output.status
            ),
        })
    }
}

fn unavailable(target: &str, error: sqlx::Error) -> MagDsError {
    MagDsError::Unavailable {
        engine: ENGINE,
        target: target.to_string(),
        message: error.to_string(),
    }
}

/// Decodes `%XX` escapes (as in a URL's password).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/usr/bin/<tool>`, else the first `<tool>` on `PATH`.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    let usr_bin = Path::new("/usr/bin").join(tool);
    if usr_bin.is_file() {
        return Some(usr_bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

#[async_trait]
impl Engine for PostgresEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Postgres
    }

    async fn insert_project(&self, project: &Project) -> Result<(), MagDsError> {
        SQL.insert_project(&self.admin, self.admin_name(), project)
            .await
    }

    async fn delete_project(&self, name: &str) -> Result<(), MagDsError> {
        SQL.delete_project(&self.admin, self.admin_name(), name)
            .await
    }

    async fn find_project(&self, name: &str) -> Result<Option<Project>, MagDsError> {
        SQL.find_project(&self.admin, self.admin_name(), name).await
    }

    async fn list_projects(&self) -> Result<Vec<Project>, MagDsError> {
        SQL.list_projects(&self.admin, self.admin_name()).await
    }

    async fn create_database(
        &self,
        database: &str,
        extensions: &[String],
    ) -> Result<(), MagDsError> {
        let statement = format!("CREATE DATABASE {}", quote(database));
        sqlx::raw_sql(&statement)
            .execute(&self.admin)
            .await
            .map_err(|e| from_sqlx(ENGINE, database, "create the database", e))?;
        if extensions.is_empty() {
            return Ok(());
        }
        if let Err(error) = self.create_extensions(database, extensions).await {
            let _ = self.drop_database(database).await;
            return Err(error);
        }
        Ok(())
    }

    async fn drop_database(&self, database: &str) -> Result<(), MagDsError> {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(database));
        sqlx::raw_sql(&statement)
            .execute(&self.admin)
            .await
            .map_err(|e| from_sqlx(ENGINE, database, "drop the database", e))?;
        Ok(())
    }

    fn database_url(&self, database: &str) -> String {
        match url::Url::parse(&self.admin_url) {
            Ok(mut url) => {
                url.set_path(&format!("/{database}"));
                url.to_string()
            }
            Err(_) => self.admin_url.clone(),
        }
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
        let args = [
            "--format=custom".as_ref(),
            "--file".as_ref(),
            partial.as_os_str(),
        ];
        if let Err(error) = self.run_tool("pg_dump", database, &args).await {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(error);
        }
        publish_file(&partial, path).await
    }

    async fn restore(&self, database: &str, path: &Path) -> Result<(), MagDsError> {
        let args = [
            "--clean".as_ref(),
            "--if-exists".as_ref(),
            "--single-transaction".as_ref(),
            "--exit-on-error".as_ref(),
            path.as_os_str(),
        ];
        self.run_tool("pg_restore", database, &args).await
    }

    async fn checkpoint(&self, database: &str, label: &str) -> Result<String, MagDsError> {
        sqlx::query_scalar("SELECT pg_create_restore_point($1)::text")
            .bind(label)
            .fetch_one(&self.admin)
            .await
            .map_err(|e| from_sqlx(ENGINE, database, "create a restore point", e))
    }

    async fn health(&self, database: &str) -> Result<Health, MagDsError> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = $1) AS connections, \
                    pg_database_size($1) AS size_bytes, \
                    CASE WHEN pg_is_in_recovery() THEN NULL ELSE \
                      (SELECT max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))::bigint \
                       FROM pg_stat_replication) END AS lag",
        )
        .bind(database)
        .fetch_one(&self.admin)
        .await
        .map_err(|e| from_sqlx(ENGINE, database, "read health", e))?;
        let db = |e| from_sqlx(ENGINE, database, "read health", e);
        Ok(Health {
            connections: Some(row.try_get("connections").map_err(db)?),
            size_bytes: row.try_get("size_bytes").map_err(db)?,
            replication_lag_bytes: row.try_get("lag").map_err(db)?,
        })
    }

    async fn describe(&self, database: &str) -> Result<DatabaseSchema, MagDsError> {
        let mut conn = self.connect(database).await?;
        let described = super::describe::postgres(&mut conn, database).await;
        let _ = conn.close().await;
        described
    }

    async fn close(&self) {
        self.admin.close().await;
    }
}
