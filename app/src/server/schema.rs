//! The Schema Explorer from MagUI: what a project database holds, migrations
//! run from the explorer, and the tabs extensions add to it.
//!
//! Guarantees:
//! * Every function checks the caller's role first: auditors read (and see
//!   extensions' tabs), admins and owners run migrations.
//! * A migration goes through MagDS's own operation: applied once, in one
//!   transaction with its ledger row, after its `before_migration` filters.
//!   Each attempt that reaches MagDS leaves exactly one audit entry
//!   (`project.migration_applied`: success with the tables it changed,
//!   denied with the extension and reason, or failure with the error); the
//!   SQL itself is not copied into the audit log.
//! * After a migration succeeded, `after_schema_change` (project_id, table,
//!   change; also schema, migration, project) is dispatched once per table
//!   whose shape changed (`created`, `altered`, `dropped`), or once with no
//!   table (`migrated`) when none did, and the call returns after the
//!   handlers ran. What changed is found by comparing the database's
//!   description before and after (a concurrent change made elsewhere in
//!   between would be reported with it).
//! * Opening a table dispatches `extend_schema_explorer` (project_id, schema,
//!   table); then each extension that handles it and holds `ui.modify_schema`
//!   now (enabled, granted) is asked for widget
//!   [`SCHEMA_EXPLORER_WIDGET`] with the props `project_id`, `project`,
//!   `schema`, `table` and `columns`. Its answer is checked as a declarative
//!   view ([`ViewNode::parse`]); a failing or malformed answer is that tab's
//!   error, never the page's.

use super::console::{Console, capitalised, console};
use super::guard::require;
use super::projects::{engine, extension_name, magds_error};
use crate::AppError;
use crate::api::projects::{
    ColumnView, ExplorerContribution, IndexView, MigrationInfo, MigrationOutcome, PolicyView,
    RowSecurityView, SCHEMA_EXPLORER_WIDGET, SchemaView, TableChange, TableView,
};
use crate::view_tree::ViewNode;
use magflock_kernel::Capability;
use magflock_magds::{DatabaseSchema, MagDsError, RelationKind, TableInfo};
use magflock_types::{Outcome, Role};
use serde_json::json;

/// Migrations are typed or pasted by a person; a megabyte is plenty.
const MAX_SQL_BYTES: usize = 1 << 20;

fn table_view(table: TableInfo) -> TableView {
    TableView {
        schema: table.schema,
        name: table.name,
        is_view: table.kind == RelationKind::View,
        columns: table
            .columns
            .into_iter()
            .map(|c| ColumnView {
                name: c.name,
                data_type: c.data_type,
                nullable: c.nullable,
                default: c.default,
                primary_key: c.primary_key,
            })
            .collect(),
        indexes: table
            .indexes
            .into_iter()
            .map(|i| IndexView {
                name: i.name,
                columns: i.columns,
                unique: i.unique,
                primary: i.primary,
                definition: i.definition,
            })
            .collect(),
        row_security: table.row_security.map(|r| RowSecurityView {
            enabled: r.enabled,
            forced: r.forced,
            policies: r
                .policies
                .into_iter()
                .map(|p| PolicyView {
                    name: p.name,
                    command: p.command,
                    permissive: p.permissive,
                    roles: p.roles,
                    using: p.using,
                    check: p.check,
                })
                .collect(),
        }),
    }
}

pub async fn describe(name: String) -> Result<SchemaView, AppError> {
    require(Role::Auditor).await?;
    let console = console()?;
    let described = console
        .magds
        .describe(&name)
        .await
        .map_err(|e| magds_error(&console, e, None))?;
    Ok(SchemaView {
        project: name,
        engine: engine(described.engine),
        schemas: described.schemas,
        tables: described.tables.into_iter().map(table_view).collect(),
    })
}

/// How the tables differ between `before` and `after`.
pub fn changes(before: &DatabaseSchema, after: &DatabaseSchema) -> Vec<TableChange> {
    let find = |schema: &DatabaseSchema, t: &TableInfo| {
        schema
            .tables
            .iter()
            .find(|o| o.schema == t.schema && o.name == t.name)
            .cloned()
    };
    let change = |t: &TableInfo, what: &str| TableChange {
        schema: Some(t.schema.clone()),
        table: Some(t.name.clone()),
        change: what.to_string(),
    };
    let mut found = Vec::new();
    for table in &after.tables {
        match find(before, table) {
            None => found.push(change(table, "created")),
            Some(old) if old != *table => found.push(change(table, "altered")),
            Some(_) => {}
        }
    }
    for table in &before.tables {
        if find(after, table).is_none() {
            found.push(change(table, "dropped"));
        }
    }
    found
}

fn check_migration_input(migration: &str, sql: &str) -> Result<(), AppError> {
    if migration.is_empty() {
        return Err(AppError::invalid(
            "migration",
            "Give the migration a name, such as 001_create_orders.",
        ));
    }
    if migration.len() > 255 || migration.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "migration",
            "A migration name is 1 to 255 printable characters.",
        ));
    }
    if sql.trim().is_empty() {
        return Err(AppError::invalid("sql", "Enter the SQL to run."));
    }
    if sql.len() > MAX_SQL_BYTES {
        return Err(AppError::invalid(
            "sql",
            "The SQL is longer than 1 MB; split it into several migrations.",
        ));
    }
    Ok(())
}

pub async fn migrate(
    project: String,
    migration: String,
    sql: String,
) -> Result<MigrationOutcome, AppError> {
    let caller = require(Role::Admin).await?;
    let migration = migration.trim().to_string();
    check_migration_input(&migration, &sql)?;
    let console = console()?;
    let failed = |e| magds_error(&console, e, None);
    let p = console.magds.project(&project).await.map_err(failed)?;
    let before = console.magds.describe(&project).await.map_err(failed)?;
    let applied = console
        .magds
        .apply_migration(&project, &migration, &sql)
        .await;
    let (outcome, detail, result) = match applied {
        Ok(applied) => {
            let found = match console.magds.describe(&project).await {
                Ok(after) => changes(&before, &after),
                Err(_) => Vec::new(),
            };
            (
                Outcome::Success,
                json!({"project_id": p.id, "migration": migration, "duration_ms": applied.duration_ms,
                       "changes": found}),
                Ok((applied, found)),
            )
        }
        Err(error) => {
            let (outcome, detail) = match &error {
                MagDsError::Denied {
                    hook,
                    extension,
                    reason,
                } => (
                    Outcome::Denied,
                    json!({"project_id": p.id, "migration": migration, "hook": hook,
                           "extension": extension, "reason": reason}),
                ),
                other => (
                    Outcome::Failure,
                    json!({"project_id": p.id, "migration": migration, "error": other.to_string()}),
                ),
            };
            (
                outcome,
                detail,
                Err(magds_error(&console, error, Some("sql"))),
            )
        }
    };
    super::audit::record(
        &caller.actor(),
        "project.migration_applied",
        Some(&project),
        outcome,
        detail,
    )
    .await?;
    let (applied, mut found) = result?;
    if found.is_empty() {
        found.push(TableChange {
            schema: None,
            table: None,
            change: "migrated".into(),
        });
    }
    for change in &found {
        let payload = json!({
            "project_id": p.id, "project": p.name, "schema": change.schema,
            "table": change.table, "change": change.change, "migration": migration,
        });
        if let Err(error) = console
            .kernel
            .dispatch("after_schema_change", &payload)
            .await
        {
            tracing::warn!(%error, "after_schema_change dispatch failed");
        }
    }
    Ok(MigrationOutcome {
        migration: MigrationInfo {
            name: applied.name,
            applied_at: applied.applied_at_ms,
            duration_ms: applied.duration_ms,
        },
        changes: found,
    })
}

/// The extensions that may contribute to the explorer now: they handle
/// `extend_schema_explorer` and hold `ui.modify_schema` (which also means
/// they may run). In dispatch order.
fn contributors(console: &Console) -> Vec<String> {
    let handlers: Vec<String> = match console.kernel.registry.read() {
        Ok(registry) => registry
            .handlers("extend_schema_explorer")
            .into_iter()
            .map(|(id, _)| id.to_string())
            .collect(),
        Err(_) => Vec::new(),
    };
    handlers
        .into_iter()
        .filter(|id| {
            console
                .kernel
                .gate
                .check(id, Capability::UiModifySchema)
                .is_ok()
        })
        .collect()
}

/// Asks `extension` for its explorer view (on a blocking thread: guests run
/// synchronously) and checks the answer.
async fn render(console: &Console, extension: &str, props: &str) -> Result<ViewNode, String> {
    let loaded = console
        .kernel
        .sandbox
        .get(extension)
        .map_err(|e| capitalised(&e.to_string()))?;
    let props = props.to_string();
    let answer =
        tokio::task::spawn_blocking(move || loaded.render_widget(SCHEMA_EXPLORER_WIDGET, &props))
            .await
            .map_err(|e| format!("The extension's view did not finish: {e}."))?
            .map_err(|e| capitalised(&e.to_string()))?;
    ViewNode::parse(&answer).map_err(|e| capitalised(&e))
}

pub async fn explorer_views(
    project: String,
    schema: String,
    table: String,
) -> Result<Vec<ExplorerContribution>, AppError> {
    require(Role::Auditor).await?;
    let console = console()?;
    let failed = |e| magds_error(&console, e, None);
    let p = console.magds.project(&project).await.map_err(failed)?;
    let described = console.magds.describe(&project).await.map_err(failed)?;
    let Some(found) = described
        .tables
        .iter()
        .find(|t| t.schema == schema && t.name == table)
    else {
        return Err(AppError::NotFound(format!(
            "There is no table {schema}.{table} in project {project}."
        )));
    };
    let payload = json!({"project_id": p.id, "schema": schema, "table": table});
    if let Err(error) = console
        .kernel
        .dispatch("extend_schema_explorer", &payload)
        .await
    {
        tracing::warn!(%error, "extend_schema_explorer dispatch failed");
    }
    let columns: Vec<&str> = found.columns.iter().map(|c| c.name.as_str()).collect();
    let props = json!({
        "project_id": p.id, "project": p.name, "schema": schema, "table": table,
        "columns": columns,
    })
    .to_string();
    let mut views = Vec::new();
    for extension in contributors(&console) {
        views.push(ExplorerContribution {
            title: extension_name(&console, &extension),
            view: render(&console, &extension, &props).await,
            extension,
        });
    }
    Ok(views)
}

#[cfg(test)]
mod tests {
    use super::*;
    use magflock_magds::{ColumnInfo, EngineKind};

    fn table(name: &str, columns: &[&str]) -> TableInfo {
        TableInfo {
            schema: "public".into(),
            name: name.into(),
            kind: RelationKind::Table,
            columns: columns
                .iter()
                .map(|c| ColumnInfo {
                    name: c.to_string(),
                    data_type: "text".into(),
                    nullable: true,
                    default: None,
                    primary_key: false,
                })
                .collect(),
            indexes: Vec::new(),
            row_security: None,
        }
    }

    fn schema(tables: Vec<TableInfo>) -> DatabaseSchema {
        DatabaseSchema {
            engine: EngineKind::Postgres,
            schemas: vec!["public".into()],
            tables,
        }
    }

    #[test]
    fn created_altered_and_dropped_tables_are_told_apart() {
        let before = schema(vec![
            table("a", &["x"]),
            table("b", &["x"]),
            table("c", &["x"]),
        ]);
        let after = schema(vec![
            table("a", &["x"]),
            table("b", &["x", "y"]),
            table("d", &[]),
        ]);
        let found: Vec<(String, String)> = changes(&before, &after)
            .into_iter()
            .map(|c| (c.table.unwrap(), c.change))
            .collect();
        assert_eq!(
            found,
            [
                ("b".to_string(), "altered".to_string()),
                ("d".into(), "created".into()),
                ("c".into(), "dropped".into()),
            ]
        );
        assert!(changes(&before, &before).is_empty());
    }

    #[test]
    fn migration_input_names_its_field() {
        assert_eq!(
            check_migration_input("", "select 1").unwrap_err().field(),
            Some("migration")
        );
        assert_eq!(
            check_migration_input("001", "  ").unwrap_err().field(),
            Some("sql")
        );
        assert!(check_migration_input("001", "CREATE TABLE t (x int)").is_ok());
    }
}
