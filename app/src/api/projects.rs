//! Projects and the Schema Explorer: the project databases MagDS keeps
//! (list, create, open, delete), what a database holds (schemas, tables,
//! columns, indexes, row-level-security policies), migrations run from
//! MagUI, and the explorer tabs extensions contribute.
//!
//! The hooks fire on the server (`crate::server::projects` and `::schema`):
//! `before_project_create` before a project is created (a denial comes back
//! as an error on the `name` field), `after_schema_change` after a migration
//! succeeded, `extend_schema_explorer` when a table is opened.

use super::Access;
use crate::AppError;
use crate::view_tree::ViewNode;
use leptos::prelude::*;
use magflock_types::{Millis, Role};
use serde::{Deserialize, Serialize};

/// This module's server functions: (path, access).
pub const ENDPOINTS: &[(&str, Access)] = &[
    ("/api/list_projects", Access::AtLeast(Role::Auditor)),
    ("/api/create_project", Access::AtLeast(Role::Admin)),
    ("/api/get_project", Access::AtLeast(Role::Auditor)),
    ("/api/delete_project", Access::AtLeast(Role::Admin)),
    ("/api/describe_schema", Access::AtLeast(Role::Auditor)),
    ("/api/run_migration", Access::AtLeast(Role::Admin)),
    ("/api/schema_explorer_views", Access::AtLeast(Role::Auditor)),
];

/// The widget id MagUI asks an extension for when it contributes to the
/// schema explorer (props: `project_id`, `project`, `schema`, `table`,
/// `columns`).
pub const SCHEMA_EXPLORER_WIDGET: &str = "schema-explorer";

/// The engine project databases live on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbEngine {
    Postgres,
    Sqlite,
}

impl DbEngine {
    pub fn label(self) -> &'static str {
        match self {
            DbEngine::Postgres => "PostgreSQL",
            DbEngine::Sqlite => "SQLite (embedded)",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSummary {
    pub id: String,
    pub name: String,
    /// The email of the admin who created it.
    pub owner: String,
    /// PostgreSQL extensions created in its database.
    pub extensions: Vec<String>,
    pub created_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectList {
    pub engine: DbEngine,
    /// By name.
    pub projects: Vec<ProjectSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationInfo {
    pub name: String,
    pub applied_at: Millis,
    pub duration_ms: i64,
}

/// A project opened: its database's health, migrations and API keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectDetail {
    pub project: ProjectSummary,
    pub engine: DbEngine,
    pub size_bytes: Option<i64>,
    /// Open connections (PostgreSQL only).
    pub connections: Option<i64>,
    /// Why the health could not be read, when it could not.
    pub health_error: Option<String>,
    /// Oldest first.
    pub migrations: Vec<MigrationInfo>,
    /// Live (unrevoked) API keys of the project.
    pub live_keys: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnView {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    pub primary_key: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexView {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    pub primary: bool,
    pub definition: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    pub name: String,
    pub command: String,
    pub permissive: bool,
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub check: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowSecurityView {
    pub enabled: bool,
    pub forced: bool,
    pub policies: Vec<PolicyView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableView {
    pub schema: String,
    pub name: String,
    pub is_view: bool,
    pub columns: Vec<ColumnView>,
    pub indexes: Vec<IndexView>,
    /// `None` on SQLite, which has no row-level security.
    pub row_security: Option<RowSecurityView>,
}

impl TableView {
    /// `schema.table`, as the explorer's address names it.
    pub fn key(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// What a project database holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaView {
    pub project: String,
    pub engine: DbEngine,
    /// Every schema, also empty ones.
    pub schemas: Vec<String>,
    /// By schema, then name.
    pub tables: Vec<TableView>,
}

/// How a migration changed one table (`table` is `None` when the migration
/// changed no table's shape, e.g. it only moved data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableChange {
    pub schema: Option<String>,
    pub table: Option<String>,
    /// `created`, `altered`, `dropped`, or `migrated` (no table changed).
    pub change: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationOutcome {
    pub migration: MigrationInfo,
    pub changes: Vec<TableChange>,
}

/// One extension's contribution to the explorer (a tab): its declarative
/// view, or why it cannot be shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExplorerContribution {
    pub extension: String,
    /// The extension's name, the tab's label.
    pub title: String,
    pub view: Result<ViewNode, String>,
}

#[server(endpoint = "list_projects", output = crate::api::codec::Json)]
pub async fn list_projects() -> Result<ProjectList, AppError> {
    crate::server::respond(crate::server::projects::list().await)
}

/// Creates project `name` (and its database). `region` is optional (empty:
/// none); it is passed to `before_project_create` handlers.
#[server(endpoint = "create_project", output = crate::api::codec::Json)]
pub async fn create_project(name: String, region: String) -> Result<ProjectSummary, AppError> {
    crate::server::respond(crate::server::projects::create(name, region).await)
}

#[server(endpoint = "get_project", output = crate::api::codec::Json)]
pub async fn get_project(name: String) -> Result<ProjectDetail, AppError> {
    crate::server::respond(crate::server::projects::detail(name).await)
}

/// Drops the project's database and revokes its API keys; `confirm` must
/// repeat the name. Returns the name.
#[server(endpoint = "delete_project", output = crate::api::codec::Json)]
pub async fn delete_project(name: String, confirm: String) -> Result<String, AppError> {
    crate::server::respond(crate::server::projects::delete(name, confirm).await)
}

#[server(endpoint = "describe_schema", output = crate::api::codec::Json)]
pub async fn describe_schema(name: String) -> Result<SchemaView, AppError> {
    crate::server::respond(crate::server::schema::describe(name).await)
}

/// Applies `sql` to the project's database as migration `migration` (once,
/// atomically, recorded in the project's migration ledger).
#[server(endpoint = "run_migration", output = crate::api::codec::Json)]
pub async fn run_migration(
    project: String,
    migration: String,
    sql: String,
) -> Result<MigrationOutcome, AppError> {
    crate::server::respond(crate::server::schema::migrate(project, migration, sql).await)
}

/// The tabs extensions add to the explorer for one table.
#[server(endpoint = "schema_explorer_views", output = crate::api::codec::Json)]
pub async fn schema_explorer_views(
    project: String,
    schema: String,
    table: String,
) -> Result<Vec<ExplorerContribution>, AppError> {
    crate::server::respond(crate::server::schema::explorer_views(project, schema, table).await)
}
