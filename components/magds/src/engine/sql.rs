//! The SQL both engines run alike, written once over the sqlx driver: the
//! project registry (`magds_projects`), the migration ledger
//! (`_magds_migrations`) and statements run in one transaction.
//!
//! Guarantees:
//! * Statements bind their values as `$1…`, which both PostgreSQL and sqlx's
//!   SQLite driver read as numbered parameters.
//! * What differs between the engines is data in [`EngineSql`]: the engine's
//!   name in errors, how to tell whether the ledger exists, and the lock a
//!   migration takes on the ledger.
//! * Methods given a project connection close it when done, whether they
//!   succeed or fail.

use std::marker::PhantomData;
use std::time::Instant;

use sqlx::{
    ColumnIndex, Connection, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type,
};

use super::{Migration, Project, now_ms};
use crate::error::{MagDsError, from_sqlx};

/// The registry table, the same on both engines.
const REGISTRY_DDL: &str = "CREATE TABLE IF NOT EXISTS magds_projects (\
     id TEXT PRIMARY KEY, \
     name TEXT NOT NULL UNIQUE, \
     database TEXT NOT NULL UNIQUE, \
     owner TEXT NOT NULL, \
     extensions TEXT NOT NULL, \
     created_at_ms BIGINT NOT NULL)";

/// The migration ledger in every project database.
const MIGRATIONS_DDL: &str = "CREATE TABLE IF NOT EXISTS _magds_migrations (\
     name TEXT PRIMARY KEY, \
     applied_at_ms BIGINT NOT NULL, \
     duration_ms BIGINT NOT NULL)";

const PROJECT_COLUMNS: &str = "id, name, database, owner, extensions, created_at_ms";

/// One engine's way of running the shared SQL on the sqlx driver `DB`.
pub(crate) struct EngineSql<DB> {
    /// The engine's name in errors.
    engine: &'static str,
    /// Counts the relations named `_magds_migrations` the connection sees (0 or 1).
    ledger_exists: &'static str,
    /// Run in a migration's transaction right after the ledger is created, so
    /// that concurrent migrations of one database take turns; `None` where the
    /// engine serialises writers already.
    lock_ledger: Option<&'static str>,
    driver: PhantomData<fn() -> DB>,
}

impl<DB> EngineSql<DB> {
    pub(crate) const fn new(
        engine: &'static str,
        ledger_exists: &'static str,
        lock_ledger: Option<&'static str>,
    ) -> Self {
        EngineSql {
            engine,
            ledger_exists,
            lock_ledger,
            driver: PhantomData,
        }
    }
}

impl<DB> EngineSql<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    String: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    for<'s> &'s str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    // -- The project registry, in `pool`; `target` names it in errors.

    pub(crate) async fn create_registry(
        &self,
        pool: &Pool<DB>,
        target: &str,
    ) -> Result<(), MagDsError> {
        sqlx::raw_sql(REGISTRY_DDL)
            .execute(pool)
            .await
            .map_err(|e| from_sqlx(self.engine, target, "create the project registry", e))?;
        Ok(())
    }

    pub(crate) async fn insert_project(
        &self,
        pool: &Pool<DB>,
        target: &str,
        project: &Project,
    ) -> Result<(), MagDsError> {
        let extensions = serde_json::to_string(&project.extensions).unwrap_or_default();
        sqlx::query(&format!(
            "INSERT INTO magds_projects ({PROJECT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(project.id.clone())
        .bind(project.name.clone())
        .bind(project.database.clone())
        .bind(project.owner.clone())
        .bind(extensions)
        .bind(project.created_at_ms)
        .execute(pool)
        .await
        .map_err(|e| from_sqlx(self.engine, target, "register the project", e))?;
        Ok(())
    }

    pub(crate) async fn delete_project(
        &self,
        pool: &Pool<DB>,
        target: &str,
        name: &str,
    ) -> Result<(), MagDsError> {
        sqlx::query("DELETE FROM magds_projects WHERE name = $1")
            .bind(name.to_string())
            .execute(pool)
            .await
            .map_err(|e| from_sqlx(self.engine, target, "unregister the project", e))?;
        Ok(())
    }

    pub(crate) async fn find_project(
        &self,
        pool: &Pool<DB>,
        target: &str,
        name: &str,
    ) -> Result<Option<Project>, MagDsError> {
        let db = |e| from_sqlx(self.engine, target, "read the project registry", e);
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM magds_projects WHERE name = $1"
        ))
        .bind(name.to_string())
        .fetch_optional(pool)
        .await
        .map_err(db)?;
        row.map(|r| Self::project(&r)).transpose().map_err(db)
    }

    pub(crate) async fn list_projects(
        &self,
        pool: &Pool<DB>,
        target: &str,
    ) -> Result<Vec<Project>, MagDsError> {
        let db = |e| from_sqlx(self.engine, target, "read the project registry", e);
        let rows = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM magds_projects ORDER BY name"
        ))
        .fetch_all(pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(Self::project)
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    // -- A project database, through `conn`, which is closed afterwards.

    /// Runs `sql` and records it in the ledger, in one transaction; a name
    /// already recorded is refused and nothing runs.
    pub(crate) async fn apply_migration(
        &self,
        mut conn: DB::Connection,
        database: &str,
        name: &str,
        sql: &str,
    ) -> Result<Migration, MagDsError> {
        let result = self.migrate(&mut conn, database, name, sql).await;
        let _ = conn.close().await;
        result
    }

    /// The ledger, oldest first; empty when the database has none yet.
    pub(crate) async fn migrations(
        &self,
        mut conn: DB::Connection,
        database: &str,
    ) -> Result<Vec<Migration>, MagDsError> {
        let result = self.read_ledger(&mut conn, database).await;
        let _ = conn.close().await;
        result
    }

    /// Runs `statements` in one transaction.
    pub(crate) async fn execute_in_transaction(
        &self,
        mut conn: DB::Connection,
        database: &str,
        statements: &[String],
    ) -> Result<(), MagDsError> {
        let result = self.run_all(&mut conn, database, statements).await;
        let _ = conn.close().await;
        result
    }

    async fn migrate(
        &self,
        conn: &mut DB::Connection,
        database: &str,
        name: &str,
        sql: &str,
    ) -> Result<Migration, MagDsError> {
        let action = format!("migration '{name}'");
        let db = |e| from_sqlx(self.engine, database, &action, e);
        let mut tx = conn.begin().await.map_err(db)?;
        (&mut *tx)
            .execute(sqlx::raw_sql(MIGRATIONS_DDL))
            .await
            .map_err(db)?;
        if let Some(lock) = self.lock_ledger {
            (&mut *tx).execute(sqlx::raw_sql(lock)).await.map_err(db)?;
        }
        let seen = sqlx::query("SELECT 1 FROM _magds_migrations WHERE name = $1")
            .bind(name.to_string())
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
            "INSERT INTO _magds_migrations (name, applied_at_ms, duration_ms) VALUES ($1, $2, $3)",
        )
        .bind(migration.name.clone())
        .bind(migration.applied_at_ms)
        .bind(migration.duration_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(migration)
    }

    async fn read_ledger(
        &self,
        conn: &mut DB::Connection,
        database: &str,
    ) -> Result<Vec<Migration>, MagDsError> {
        let db = |e| from_sqlx(self.engine, database, "read the migrations", e);
        let exists: i64 = sqlx::query(self.ledger_exists)
            .fetch_one(&mut *conn)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db)?;
        if exists == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT name, applied_at_ms, duration_ms FROM _magds_migrations \
             ORDER BY applied_at_ms, name",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        rows.iter()
            .map(Self::migration)
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    async fn run_all(
        &self,
        conn: &mut DB::Connection,
        database: &str,
        statements: &[String],
    ) -> Result<(), MagDsError> {
        let db = |e| from_sqlx(self.engine, database, "the transaction", e);
        let mut tx = conn.begin().await.map_err(db)?;
        for statement in statements {
            (&mut *tx)
                .execute(sqlx::raw_sql(statement))
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    /// A [`Project`] from a registry row.
    fn project(row: &DB::Row) -> Result<Project, sqlx::Error> {
        let extensions: String = row.try_get("extensions")?;
        Ok(Project {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            database: row.try_get("database")?,
            owner: row.try_get("owner")?,
            extensions: serde_json::from_str(&extensions).map_err(|e| {
                sqlx::Error::ColumnDecode {
                    index: "extensions".into(),
                    source: Box::new(e),
                }
            })?,
            created_at_ms: row.try_get("created_at_ms")?,
        })
    }

    /// A [`Migration`] from a ledger row.
    fn migration(row: &DB::Row) -> Result<Migration, sqlx::Error> {
        Ok(Migration {
            name: row.try_get("name")?,
            applied_at_ms: row.try_get("applied_at_ms")?,
            duration_ms: row.try_get("duration_ms")?,
        })
    }
}
