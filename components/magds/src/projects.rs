//! [`MagDs`]: project databases, with their hooks and events.
//!
//! Guarantees:
//! * Every argument that reaches SQL text is validated first ([`crate::ident`]):
//!   a refused argument changes nothing and fires no hook.
//! * Each operation runs its filter hooks before anything changes; a denial
//!   stops it with [`MagDsError::Denied`] and the extension's reason. Taken from
//!   a filter's modified payload: `owner` (`before_db_create`), `profiles`
//!   (`on_extension_profile_select`, checked against the allowlist again) and
//!   `sql` (`before_migration`, checked again for transaction control). Other
//!   modifications are ignored; in particular a policy's SQL is only ever
//!   built from validated parts, never taken from an extension.
//! * Action hooks run only after the operation succeeded (except
//!   `health_check_report`, which also reports a failed check).
//! * Events (`database.migration.applied`, `database.backup.completed`) are
//!   published after success; `database.connection.failed` whenever the engine
//!   cannot be reached.
//! * A project is in the registry only if its database exists: creation
//!   registers last and drops the database again if registering fails;
//!   dropping removes the database first. Backups outlive their project.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::engine::describe::DatabaseSchema;
use crate::engine::postgres::PostgresEngine;
use crate::engine::sqlite::SqliteEngine;
use crate::engine::{Engine, EngineKind, Health, Migration, Project, now_ms};
use crate::error::MagDsError;
use crate::events::{self, EventSink};
use crate::hooks::HookSink;
use crate::ident::{self, quote};

/// The PostgreSQL extensions a project may ask for.
pub const EXTENSION_ALLOWLIST: &[&str] = &["pgcrypto", "uuid-ossp", "pg_trgm", "citext", "hstore"];

/// Where project databases live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineConfig {
    /// An admin connection URL to a PostgreSQL server.
    Postgres { admin_url: String },
    /// A folder for the registry and one SQLite file per project.
    Sqlite { data_dir: PathBuf },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MagDsConfig {
    pub engine: EngineConfig,
    /// Where backups are written, one sub-folder per project database.
    pub backup_dir: PathBuf,
}

impl MagDsConfig {
    pub fn postgres(admin_url: impl Into<String>, backup_dir: impl Into<PathBuf>) -> MagDsConfig {
        MagDsConfig {
            engine: EngineConfig::Postgres {
                admin_url: admin_url.into(),
            },
            backup_dir: backup_dir.into(),
        }
    }

    /// SQLite under `data_dir`, backups in `data_dir/backups`.
    pub fn sqlite(data_dir: impl Into<PathBuf>) -> MagDsConfig {
        let data_dir = data_dir.into();
        MagDsConfig {
            backup_dir: data_dir.join("backups"),
            engine: EngineConfig::Sqlite { data_dir },
        }
    }

    /// PostgreSQL when `MAGDS_URL` is set (and not empty), else SQLite under
    /// `data_dir`; backups go to `data_dir/backups` either way.
    pub fn from_env(data_dir: impl Into<PathBuf>) -> MagDsConfig {
        let data_dir = data_dir.into();
        match std::env::var("MAGDS_URL") {
            Ok(url) if !url.trim().is_empty() => {
                MagDsConfig::postgres(url, data_dir.join("backups"))
            }
            _ => MagDsConfig::sqlite(data_dir),
        }
    }
}

/// The command a row-level-security policy applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PolicyCommand {
    All,
    Select,
    Insert,
    Update,
    Delete,
}

impl PolicyCommand {
    pub fn sql(self) -> &'static str {
        match self {
            PolicyCommand::All => "ALL",
            PolicyCommand::Select => "SELECT",
            PolicyCommand::Insert => "INSERT",
            PolicyCommand::Update => "UPDATE",
            PolicyCommand::Delete => "DELETE",
        }
    }
}

/// A row-level-security policy to create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RlsPolicy {
    /// `table` or `schema.table`.
    pub table: String,
    pub name: String,
    pub command: PolicyCommand,
    /// A role name, or `public` for every role.
    pub role: String,
    /// Which existing rows the policy lets through (one SQL expression).
    pub using: Option<String>,
    /// Which new rows it accepts (one SQL expression).
    pub check: Option<String>,
}

/// A backup MagDS made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    /// A UUID v7; pass it to [`MagDs::restore`].
    pub id: String,
    pub project: String,
    pub database: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub engine: EngineKind,
    pub created_at_ms: i64,
}

/// The MagDS component: project databases on one engine.
pub struct MagDs {
    engine: Box<dyn Engine>,
    backup_dir: PathBuf,
    hooks: Arc<dyn HookSink>,
    events: Arc<dyn EventSink>,
}

impl MagDs {
    /// Opens the configured engine and its registry. If the engine cannot be
    /// reached, `database.connection.failed` is published and the error returned.
    pub async fn open(
        config: MagDsConfig,
        hooks: Arc<dyn HookSink>,
        events: Arc<dyn EventSink>,
    ) -> Result<MagDs, MagDsError> {
        let engine: Result<Box<dyn Engine>, MagDsError> = match &config.engine {
            EngineConfig::Postgres { admin_url } => PostgresEngine::open(admin_url)
                .await
                .map(|e| Box::new(e) as Box<dyn Engine>),
            EngineConfig::Sqlite { data_dir } => SqliteEngine::open(data_dir)
                .await
                .map(|e| Box::new(e) as Box<dyn Engine>),
        };
        match engine {
            Ok(engine) => Ok(MagDs {
                engine,
                backup_dir: config.backup_dir,
                hooks,
                events,
            }),
            Err(error) => {
                if error.is_unavailable() {
                    publish_connection_failed(events.as_ref(), None, &error).await;
                }
                Err(error)
            }
        }
    }

    pub fn engine(&self) -> EngineKind {
        self.engine.kind()
    }

    /// Closes the engine's connection pools.
    pub async fn close(&self) {
        self.engine.close().await;
    }

    // ----- projects -----

    /// Creates a project and its database with the extensions of `extension_profile`.
    pub async fn create_project(
        &self,
        name: &str,
        owner: &str,
        extension_profile: Vec<String>,
    ) -> Result<Project, MagDsError> {
        ident::project_name(name)?;
        if owner.trim().is_empty() {
            return Err(MagDsError::invalid(name, "the owner must not be empty"));
        }
        let profiles = self.check_profiles(name, extension_profile)?;
        let existing = self.engine.find_project(name).await;
        if self.watch(None, existing).await?.is_some() {
            return Err(MagDsError::ProjectExists(name.to_string()));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let owner = self.filter_owner(&id, name, owner).await?;
        let profiles = self.filter_profiles(&id, name, profiles).await?;
        let project = Project {
            id,
            name: name.to_string(),
            database: name.to_string(),
            owner,
            extensions: profiles,
            created_at_ms: now_ms(),
        };
        self.create_and_register(&project).await?;
        let payload = json!({
            "project_id": project.id, "database": project.database,
            "owner": project.owner, "extensions": project.extensions,
        });
        self.hooks.action("after_db_create", payload).await;
        Ok(project)
    }

    /// Drops the project's database and removes it from the registry. Its
    /// backups are kept.
    pub async fn drop_project(&self, name: &str) -> Result<(), MagDsError> {
        let project = self.project(name).await?;
        let dropped = self.engine.drop_database(&project.database).await;
        self.watch(Some(&project), dropped).await?;
        self.engine.delete_project(name).await
    }

    pub async fn list_projects(&self) -> Result<Vec<Project>, MagDsError> {
        let listed = self.engine.list_projects().await;
        self.watch(None, listed).await
    }

    /// The project called `name`.
    pub async fn project(&self, name: &str) -> Result<Project, MagDsError> {
        let found = self.engine.find_project(name).await;
        self.watch(None, found)
            .await?
            .ok_or_else(|| MagDsError::UnknownProject(name.to_string()))
    }

    /// A URL for connecting to the project's database directly.
    pub async fn database_url(&self, name: &str) -> Result<String, MagDsError> {
        let project = self.project(name).await?;
        Ok(self.engine.database_url(&project.database))
    }

    // ----- migrations and row-level security -----

    /// Applies `sql` as migration `migration`, once: the SQL and its ledger row
    /// commit together or not at all.
    pub async fn apply_migration(
        &self,
        project: &str,
        migration: &str,
        sql: &str,
    ) -> Result<Migration, MagDsError> {
        let p = self.project(project).await?;
        check_migration(project, migration, sql)?;
        let payload = json!({"project_id": p.id, "migration": migration, "sql": sql});
        let filtered = self.filter("before_migration", payload).await?;
        let sql = string_field(&filtered, "sql").unwrap_or_else(|| sql.to_string());
        check_migration(project, migration, &sql)?;
        let applied = self
            .engine
            .apply_migration(&p.database, migration, &sql)
            .await;
        let applied = self.watch(Some(&p), applied).await?;
        let payload = json!({
            "project_id": p.id, "migration": migration, "duration_ms": applied.duration_ms,
        });
        self.hooks.action("after_migration", payload).await;
        let data = json!({
            "database": p.database, "migration": migration, "duration_ms": applied.duration_ms,
        });
        self.publish(events::MIGRATION_APPLIED, Some(&p.id), data)
            .await;
        Ok(applied)
    }

    /// The migrations applied to the project, oldest first.
    pub async fn migrations(&self, project: &str) -> Result<Vec<Migration>, MagDsError> {
        let p = self.project(project).await?;
        let listed = self.engine.migrations(&p.database).await;
        self.watch(Some(&p), listed).await
    }

    /// What the project database holds: schemas, tables and views with their
    /// columns, indexes and (PostgreSQL) row-level-security policies. Read
    /// only; fires no hook.
    pub async fn describe(&self, project: &str) -> Result<DatabaseSchema, MagDsError> {
        let p = self.project(project).await?;
        let described = self.engine.describe(&p.database).await;
        self.watch(Some(&p), described).await
    }

    /// Enables row-level security on the table and creates the policy, in one
    /// transaction (PostgreSQL only). Returns the `CREATE POLICY` statement.
    pub async fn create_rls_policy(
        &self,
        project: &str,
        policy: &RlsPolicy,
    ) -> Result<String, MagDsError> {
        self.require_postgres("row level security")?;
        let p = self.project(project).await?;
        let statements = policy_sql(project, policy)?;
        let payload = json!({
            "project_id": p.id, "table": policy.table, "policy": policy.name,
            "sql": statements.join(";\n"),
        });
        self.filter("on_rls_policy_create", payload).await?;
        let done = self
            .engine
            .execute_in_transaction(&p.database, &statements)
            .await;
        self.watch(Some(&p), done).await?;
        Ok(statements[1].clone())
    }

    // ----- backups, restore, checkpoints, health -----

    /// Backs the project database up into the backup folder.
    pub async fn backup(&self, project: &str) -> Result<BackupInfo, MagDsError> {
        let p = self.project(project).await?;
        let payload = json!({"project_id": p.id, "database": p.database, "kind": "full"});
        self.filter("before_backup", payload).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let path = self.backup_path(&p.database, &id);
        let folder = self.backup_dir.join(&p.database);
        tokio::fs::create_dir_all(&folder)
            .await
            .map_err(|e| MagDsError::io(&folder, e))?;
        let bytes = self.engine.backup(&p.database, &path).await;
        let bytes = self.watch(Some(&p), bytes).await?;
        let info = BackupInfo {
            id,
            project: p.name.clone(),
            database: p.database.clone(),
            path,
            bytes,
            engine: self.engine(),
            created_at_ms: now_ms(),
        };
        let data = json!({
            "database": p.database, "backup_id": info.id,
            "path": info.path.display().to_string(), "bytes": info.bytes,
        });
        self.publish(events::BACKUP_COMPLETED, Some(&p.id), data)
            .await;
        Ok(info)
    }

    /// Restores backup `backup_id` (a [`BackupInfo::id`] of this project) into
    /// the project database. See the engines for how.
    pub async fn restore(&self, project: &str, backup_id: &str) -> Result<(), MagDsError> {
        let p = self.project(project).await?;
        let path = self.existing_backup(&p, backup_id).await?;
        let restored = self.engine.restore(&p.database, &path).await;
        self.watch(Some(&p), restored).await?;
        let payload = json!({"project_id": p.id, "database": p.database, "backup_id": backup_id});
        self.hooks.action("after_restore", payload).await;
        Ok(())
    }

    /// Creates a named restore point for point-in-time recovery (PostgreSQL
    /// only) and returns its WAL position (LSN).
    pub async fn checkpoint(&self, project: &str, label: &str) -> Result<String, MagDsError> {
        self.require_postgres("point-in-time recovery")?;
        let p = self.project(project).await?;
        check_label(project, label)?;
        let lsn = self.engine.checkpoint(&p.database, label).await;
        let lsn = self.watch(Some(&p), lsn).await?;
        let payload = json!({
            "project_id": p.id, "database": p.database, "lsn": lsn,
            "at": rfc3339_now(), "label": label,
        });
        self.hooks.action("on_pitr_checkpoint", payload).await;
        Ok(lsn)
    }

    /// The project database's health; also reported to `health_check_report`.
    pub async fn health(&self, project: &str) -> Result<Health, MagDsError> {
        let p = self.project(project).await?;
        let measured = self.engine.health(&p.database).await;
        let check = match &measured {
            Ok(h) => json!({
                "name": "database", "project_id": p.id, "database": p.database,
                "status": "ok", "connections": h.connections, "size_bytes": h.size_bytes,
                "replication_lag_bytes": h.replication_lag_bytes,
            }),
            Err(e) => json!({
                "name": "database", "project_id": p.id, "database": p.database,
                "status": "failed", "error": e.to_string(),
            }),
        };
        let payload = json!({
            "component": "magds", "healthy": measured.is_ok(), "checks": [check],
            "engine": self.engine().name(),
        });
        self.hooks.action("health_check_report", payload).await;
        self.watch(Some(&p), measured).await
    }

    // ----- helpers -----

    /// Passes `result` through, publishing `database.connection.failed` if
    /// the engine could not be reached.
    async fn watch<T>(
        &self,
        project: Option<&Project>,
        result: Result<T, MagDsError>,
    ) -> Result<T, MagDsError> {
        if let Err(error) = &result
            && error.is_unavailable()
        {
            publish_connection_failed(self.events.as_ref(), project, error).await;
        }
        result
    }

    async fn publish(&self, event_type: &str, project_id: Option<&str>, data: Value) {
        if let Some(event) = events::magds_event(event_type, project_id, data) {
            self.events.publish(event).await;
        }
    }

    async fn filter(&self, hook: &'static str, payload: Value) -> Result<Value, MagDsError> {
        self.hooks
            .filter(hook, payload)
            .await
            .map_err(|denied| MagDsError::Denied {
                hook: hook.to_string(),
                extension: denied.extension,
                reason: denied.reason,
            })
    }

    async fn filter_owner(&self, id: &str, name: &str, owner: &str) -> Result<String, MagDsError> {
        let payload = json!({"project_id": id, "database": name, "owner": owner});
        let filtered = self.filter("before_db_create", payload).await?;
        Ok(string_field(&filtered, "owner")
            .filter(|o| !o.trim().is_empty())
            .unwrap_or_else(|| owner.to_string()))
    }

    async fn filter_profiles(
        &self,
        id: &str,
        name: &str,
        profiles: Vec<String>,
    ) -> Result<Vec<String>, MagDsError> {
        let payload = json!({"project_id": id, "database": name, "profiles": profiles});
        let filtered = self.filter("on_extension_profile_select", payload).await?;
        let chosen = match filtered.get("profiles") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    MagDsError::invalid(name, "a filter returned profiles that are not strings")
                })?,
            _ => profiles,
        };
        self.check_profiles(name, chosen)
    }

    /// The profiles, deduplicated, if all are allowed here.
    fn check_profiles(&self, name: &str, profiles: Vec<String>) -> Result<Vec<String>, MagDsError> {
        let mut unique: Vec<String> = Vec::new();
        for profile in profiles {
            if !EXTENSION_ALLOWLIST.contains(&profile.as_str()) {
                return Err(MagDsError::UnknownExtension {
                    project: name.to_string(),
                    profile,
                    allowed: EXTENSION_ALLOWLIST.join(", "),
                });
            }
            if !unique.contains(&profile) {
                unique.push(profile);
            }
        }
        if !unique.is_empty() && self.engine() != EngineKind::Postgres {
            return Err(MagDsError::NotOnThisEngine("PostgreSQL extension profiles"));
        }
        Ok(unique)
    }

    async fn create_and_register(&self, project: &Project) -> Result<(), MagDsError> {
        let created = self
            .engine
            .create_database(&project.database, &project.extensions)
            .await;
        self.watch(Some(project), created).await?;
        if let Err(error) = self.engine.insert_project(project).await {
            let _ = self.engine.drop_database(&project.database).await;
            return Err(error);
        }
        Ok(())
    }

    fn require_postgres(&self, feature: &'static str) -> Result<(), MagDsError> {
        match self.engine() {
            EngineKind::Postgres => Ok(()),
            EngineKind::Sqlite => Err(MagDsError::NotOnThisEngine(feature)),
        }
    }

    fn backup_path(&self, database: &str, id: &str) -> PathBuf {
        let extension = match self.engine() {
            EngineKind::Postgres => "dump",
            EngineKind::Sqlite => "sqlite",
        };
        self.backup_dir
            .join(database)
            .join(format!("{id}.{extension}"))
    }

    /// The file of `backup_id`, which must be a UUID and exist for this project.
    async fn existing_backup(&self, p: &Project, backup_id: &str) -> Result<PathBuf, MagDsError> {
        let unknown = || MagDsError::UnknownBackup {
            project: p.name.clone(),
            backup_id: backup_id.to_string(),
        };
        let id = uuid::Uuid::parse_str(backup_id).map_err(|_| unknown())?;
        let path = self.backup_path(&p.database, &id.to_string());
        match tokio::fs::try_exists(&path).await {
            Ok(true) => Ok(path),
            _ => Err(unknown()),
        }
    }
}

async fn publish_connection_failed(
    events: &dyn EventSink,
    project: Option<&Project>,
    error: &MagDsError,
) {
    let data = json!({
        "database": project.map(|p| p.database.clone()),
        "error": error.to_string(),
    });
    let project_id = project.map(|p| p.id.as_str());
    if let Some(event) = events::magds_event(events::CONNECTION_FAILED, project_id, data) {
        events.publish(event).await;
    }
}

fn string_field(payload: &Value, field: &str) -> Option<String> {
    payload.get(field)?.as_str().map(str::to_string)
}

/// A migration needs a name (printable, at most 255 characters) and SQL that
/// does not control the transaction it runs in.
fn check_migration(project: &str, migration: &str, sql: &str) -> Result<(), MagDsError> {
    if migration.trim().is_empty()
        || migration.len() > 255
        || migration.chars().any(char::is_control)
    {
        return Err(MagDsError::invalid(
            project,
            format!("migration name '{migration}' must be 1 to 255 printable characters"),
        ));
    }
    if sql.trim().is_empty() {
        return Err(MagDsError::invalid(
            project,
            format!("migration '{migration}' has no SQL"),
        ));
    }
    match ident::transaction_control(sql) {
        Ok(None) => Ok(()),
        Ok(Some(word)) => Err(MagDsError::invalid(
            project,
            format!(
                "migration '{migration}' contains {word}: MagDS runs each migration in its own transaction"
            ),
        )),
        Err(problem) => Err(MagDsError::invalid(
            project,
            format!("migration '{migration}' cannot be read: {problem}"),
        )),
    }
}

/// A restore-point label: 1 to 63 bytes (PostgreSQL's limit), printable.
fn check_label(project: &str, label: &str) -> Result<(), MagDsError> {
    if label.is_empty() || label.len() > 63 || label.chars().any(char::is_control) {
        return Err(MagDsError::invalid(
            project,
            format!("checkpoint label '{label}' must be 1 to 63 printable bytes"),
        ));
    }
    Ok(())
}

/// `table` or `schema.table`, validated and quoted.
fn qualified_table(project: &str, table: &str) -> Result<String, MagDsError> {
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() > 2 {
        return Err(MagDsError::invalid(
            project,
            format!("table '{table}' must be 'table' or 'schema.table'"),
        ));
    }
    for part in &parts {
        ident::identifier(project, "table", part)?;
    }
    Ok(parts.iter().map(|p| quote(p)).collect::<Vec<_>>().join("."))
}

fn role_sql(project: &str, role: &str) -> Result<String, MagDsError> {
    if role.eq_ignore_ascii_case("public") {
        return Ok("PUBLIC".to_string());
    }
    ident::identifier(project, "role", role)?;
    Ok(quote(role))
}

/// The two statements of a policy: enable row-level security, create the policy.
fn policy_sql(project: &str, policy: &RlsPolicy) -> Result<Vec<String>, MagDsError> {
    let table = qualified_table(project, &policy.table)?;
    ident::identifier(project, "policy name", &policy.name)?;
    let role = role_sql(project, &policy.role)?;
    let command = policy.command;
    let using = policy
        .using
        .as_deref()
        .map(|e| ident::expression(project, "the USING expression", e))
        .transpose()?;
    let check = policy
        .check
        .as_deref()
        .map(|e| ident::expression(project, "the WITH CHECK expression", e))
        .transpose()?;
    check_policy_clauses(project, command, using.is_some(), check.is_some())?;
    let mut create = format!(
        "CREATE POLICY {} ON {table} AS PERMISSIVE FOR {} TO {role}",
        quote(&policy.name),
        command.sql()
    );
    if let Some(using) = using {
        create.push_str(&format!(" USING ({using})"));
    }
    if let Some(check) = check {
        create.push_str(&format!(" WITH CHECK ({check})"));
    }
    Ok(vec![
        format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"),
        create,
    ])
}

/// PostgreSQL's rules: INSERT takes no USING, SELECT and DELETE no WITH
/// CHECK; a policy needs at least one expression.
fn check_policy_clauses(
    project: &str,
    command: PolicyCommand,
    using: bool,
    check: bool,
) -> Result<(), MagDsError> {
    let problem = match command {
        _ if !using && !check => Some("a policy needs a USING or a WITH CHECK expression"),
        PolicyCommand::Insert if using => Some("an INSERT policy takes no USING expression"),
        PolicyCommand::Select | PolicyCommand::Delete if check => {
            Some("SELECT and DELETE policies take no WITH CHECK expression")
        }
        _ => None,
    };
    match problem {
        Some(p) => Err(MagDsError::invalid(project, p)),
        None => Ok(()),
    }
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
