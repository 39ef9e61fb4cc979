//! Projects from MagUI: list, create, open and delete project databases
//! through MagDS (the twin of MagGate's `/v1/projects` routes), with the
//! `before_project_create` hook.
//!
//! Guarantees:
//! * Every function checks the caller's role first: auditors read, admins
//!   and owners create and delete.
//! * Creating: the name is checked as MagDS will (`[a-z][a-z0-9_]*`, at
//!   most 63 characters) and must be free; then `before_project_create`
//!   (name, owner_id, region) is offered to the extensions through the
//!   kernel's dispatcher. A denial is returned as an error on the `name`
//!   field with the extension's name and reason, and creation is not
//!   attempted. Otherwise MagDS's own operation creates it, so its hooks
//!   (`before_db_create`, ...) fire too.
//! * Deleting needs the name typed again (`confirm`), drops the database
//!   through MagDS and revokes the project's API keys through the gateway's
//!   own key cache, so MagGate refuses them from the very next request.
//! * Each create or delete attempt that reaches the hooks or MagDS leaves
//!   exactly one audit entry (`project.created`, `project.deleted`) with the
//!   user as actor and its outcome: success, denied (with the extension and
//!   its reason) or failure (with the error). Input refused before that
//!   changes nothing and is not audited.
//! * MagDS errors become MagUI errors here ([`magds_error`]) and nowhere else.

use super::audit::record;
use super::console::{Console, capitalised, console};
use super::guard::{Caller, ctx, require};
use crate::AppError;
use crate::api::projects::{DbEngine, MigrationInfo, ProjectDetail, ProjectList, ProjectSummary};
use magflock_kernel::dispatch::Dispatched;
use magflock_magds::{EngineKind, MagDsError, Project};
use magflock_types::{Outcome, Role};
use serde_json::json;

/// A region is a short label such as `eu-west-1`.
const MAX_REGION: usize = 64;

pub(super) fn engine(kind: EngineKind) -> DbEngine {
    match kind {
        EngineKind::Postgres => DbEngine::Postgres,
        EngineKind::Sqlite => DbEngine::Sqlite,
    }
}

fn summary(project: Project) -> ProjectSummary {
    ProjectSummary {
        id: project.id,
        name: project.name,
        owner: project.owner,
        extensions: project.extensions,
        created_at: project.created_at_ms,
    }
}

/// The name an extension's manifest gives it (its id if it is gone).
pub(super) fn extension_name(console: &Console, extension: &str) -> String {
    console
        .kernel
        .registry
        .read()
        .ok()
        .and_then(|r| r.get(extension).map(|m| m.name.clone()))
        .unwrap_or_else(|| extension.to_string())
}

/// The one mapping of MagDS errors to MagUI errors. `field` is the form
/// field a refusal of the input belongs to (`None`: not a form).
pub(super) fn magds_error(console: &Console, err: MagDsError, field: Option<&str>) -> AppError {
    let refused = |message: String| match field {
        Some(field) => AppError::invalid(field, message),
        None => AppError::Conflict(message),
    };
    match err {
        MagDsError::InvalidName { problem, .. } => {
            AppError::invalid("name", format!("This name is not allowed: {problem}."))
        }
        MagDsError::ProjectExists(name) => AppError::invalid(
            "name",
            format!("A project called {name} already exists; choose another name."),
        ),
        MagDsError::UnknownProject(name) => AppError::NotFound(format!(
            "There is no project called {name}; it may have been deleted."
        )),
        MagDsError::MigrationApplied { migration, .. } => AppError::invalid(
            "migration",
            format!(
                "A migration called {migration} was already applied to this project; give this one another name."
            ),
        ),
        MagDsError::UnknownBackup { .. } => AppError::NotFound(capitalised(&err.to_string())),
        MagDsError::Denied {
            hook,
            extension,
            reason,
        } => refused(format!(
            "{} refused this ({hook}): {}",
            extension_name(console, &extension),
            capitalised(&reason)
        )),
        MagDsError::Invalid { problem, .. } => refused(capitalised(&problem)),
        MagDsError::Refused(refusal) => refused(capitalised(&refusal.to_string())),
        MagDsError::UnknownExtension { .. } => refused(capitalised(&err.to_string())),
        MagDsError::Database {
            action, message, ..
        } => refused(format!(
            "The database refused {action}: {}",
            capitalised(&message)
        )),
        MagDsError::NotOnThisEngine(_) => AppError::Conflict(capitalised(&err.to_string())),
        MagDsError::Unavailable { .. } => {
            tracing::warn!(error = %err, "MagDS engine unavailable");
            AppError::Conflict(
                "The project database server cannot be reached right now; try again in a moment."
                    .into(),
            )
        }
        MagDsError::Tool { .. } | MagDsError::Io { .. } => AppError::internal(err),
    }
}

/// Checks a project name as MagDS will, with the reason on the `name` field.
fn check_name(name: &str) -> Result<(), AppError> {
    if name.is_empty() {
        return Err(AppError::invalid("name", "Enter a name for the project."));
    }
    magflock_magds::ident::project_name(name).map_err(|e| match e {
        MagDsError::InvalidName { problem, .. } => {
            AppError::invalid("name", format!("This name is not allowed: {problem}."))
        }
        other => AppError::invalid("name", capitalised(&other.to_string())),
    })
}

/// An optional region label: letters, digits and `-`/`_`, at most 64.
fn check_region(region: &str) -> Result<Option<String>, AppError> {
    let region = region.trim();
    if region.is_empty() {
        return Ok(None);
    }
    if region.len() > MAX_REGION
        || !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(AppError::invalid(
            "region",
            format!(
                "A region is a short label such as eu-west-1: letters, digits, '-' and '_', at most {MAX_REGION} characters."
            ),
        ));
    }
    Ok(Some(region.to_string()))
}

pub async fn list() -> Result<ProjectList, AppError> {
    require(Role::Auditor).await?;
    let console = console()?;
    let projects = console
        .magds
        .list_projects()
        .await
        .map_err(|e| magds_error(&console, e, None))?;
    Ok(ProjectList {
        engine: engine(console.magds.engine()),
        projects: projects.into_iter().map(summary).collect(),
    })
}

async fn audit_create(
    caller: &Caller,
    name: &str,
    outcome: Outcome,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    record(
        &caller.actor(),
        "project.created",
        Some(name),
        outcome,
        detail,
    )
    .await
}

pub async fn create(name: String, region: String) -> Result<ProjectSummary, AppError> {
    let caller = require(Role::Admin).await?;
    let name = name.trim().to_string();
    check_name(&name)?;
    let region = check_region(&region)?;
    let console = console()?;
    match console.magds.project(&name).await {
        Ok(_) => return Err(magds_error(&console, MagDsError::ProjectExists(name), None)),
        Err(MagDsError::UnknownProject(_)) => {}
        Err(other) => return Err(magds_error(&console, other, None)),
    }
    let payload = json!({"name": name, "owner_id": caller.user.id, "region": region});
    match console
        .kernel
        .dispatch("before_project_create", &payload)
        .await
    {
        Ok(Dispatched::Proceed { .. }) => {}
        Ok(Dispatched::Denied { extension, reason }) => {
            audit_create(
                &caller,
                &name,
                Outcome::Denied,
                json!({"hook": "before_project_create", "extension": extension, "reason": reason, "region": region}),
            )
            .await?;
            return Err(AppError::invalid(
                "name",
                format!(
                    "{} refused this name: {}",
                    extension_name(&console, &extension),
                    capitalised(&reason)
                ),
            ));
        }
        Err(error) => return Err(AppError::internal(error)),
    }
    let created = console
        .magds
        .create_project(&name, &caller.user.email, Vec::new())
        .await;
    let engine_name = console.magds.engine().name();
    match created {
        Ok(project) => {
            audit_create(
                &caller,
                &name,
                Outcome::Success,
                json!({"project_id": project.id, "engine": engine_name, "region": region}),
            )
            .await?;
            Ok(summary(project))
        }
        Err(error) => {
            let (outcome, detail) = match &error {
                MagDsError::Denied {
                    hook,
                    extension,
                    reason,
                } => (
                    Outcome::Denied,
                    json!({"hook": hook, "extension": extension, "reason": reason, "region": region}),
                ),
                other => (
                    Outcome::Failure,
                    json!({"error": other.to_string(), "engine": engine_name, "region": region}),
                ),
            };
            audit_create(&caller, &name, outcome, detail).await?;
            Err(magds_error(&console, error, Some("name")))
        }
    }
}

pub async fn detail(name: String) -> Result<ProjectDetail, AppError> {
    require(Role::Auditor).await?;
    let console = console()?;
    let failed = |e| magds_error(&console, e, None);
    let project = console.magds.project(&name).await.map_err(failed)?;
    let migrations = console.magds.migrations(&name).await.map_err(failed)?;
    let (size_bytes, connections, health_error) = match console.magds.health(&name).await {
        Ok(health) => (Some(health.size_bytes), health.connections, None),
        Err(error) => (None, None, Some(capitalised(&error.to_string()))),
    };
    let live_keys = ctx()?
        .store
        .api_keys(Some(&name))
        .await?
        .iter()
        .filter(|k| !k.is_revoked())
        .count();
    Ok(ProjectDetail {
        project: summary(project),
        engine: engine(console.magds.engine()),
        size_bytes,
        connections,
        health_error,
        migrations: migrations
            .into_iter()
            .map(|m| MigrationInfo {
                name: m.name,
                applied_at: m.applied_at_ms,
                duration_ms: m.duration_ms,
            })
            .collect(),
        live_keys,
    })
}

pub async fn delete(name: String, confirm: String) -> Result<String, AppError> {
    let caller = require(Role::Admin).await?;
    if confirm.trim() != name {
        return Err(AppError::invalid(
            "confirm",
            format!("Type the project's name, {name}, to confirm."),
        ));
    }
    let console = console()?;
    let project = console
        .magds
        .project(&name)
        .await
        .map_err(|e| magds_error(&console, e, None))?;
    let dropped = console.magds.drop_project(&name).await;
    let (outcome, detail, result) = match dropped {
        Ok(()) => {
            let revoked = revoke_keys(&name).await?;
            (
                Outcome::Success,
                json!({"project_id": project.id, "keys_revoked": revoked}),
                Ok(name.clone()),
            )
        }
        Err(error) => (
            Outcome::Failure,
            json!({"project_id": project.id, "error": error.to_string()}),
            Err(magds_error(&console, error, None)),
        ),
    };
    record(
        &caller.actor(),
        "project.deleted",
        Some(&name),
        outcome,
        detail,
    )
    .await?;
    result
}

/// Revokes every live API key of `project` through the gateway's own
/// [`ApiKeys`](magflock_maggate::ApiKeys), so it forgets them at once; how many.
async fn revoke_keys(project: &str) -> Result<usize, AppError> {
    let keys = console()?.keys;
    let mut revoked = 0;
    for key in keys.list(Some(project)).await? {
        if !key.is_revoked() && keys.revoke(&key.id).await? {
            revoked += 1;
        }
    }
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_regions_are_checked_before_anything_runs() {
        assert!(check_name("sales_eu").is_ok());
        for bad in [
            "",
            "Sales",
            "1sales",
            "sales-eu",
            "postgres",
            &"a".repeat(64),
        ] {
            let err = check_name(bad).unwrap_err();
            assert_eq!(err.field(), Some("name"), "{bad}: {err}");
        }
        assert_eq!(check_region("  ").unwrap(), None);
        assert_eq!(
            check_region(" eu-west-1 ").unwrap().as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(check_region("eu west").unwrap_err().field(), Some("region"));
    }
}
