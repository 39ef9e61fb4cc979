//! Extension areas on PostgreSQL: schema `ext_<publisher>_<name>` (owned by
//! the control plane's user, labelled with the extension id) and a role of the
//! same name, which may only use and create in that schema.
//!
//! Guarantees: `apply` and `revert` run in one transaction on a dedicated
//! connection (closed afterwards) under a per-area advisory lock; the script
//! runs as the area's role inside a `SECURITY DEFINER` function, so it cannot
//! switch back to the control plane's user; the role is never one with login,
//! attributes or memberships (an existing role like that is refused, not used
//! or dropped).

use magflock_kernel::KernelError;
use magflock_kernel::lifecycle_store::AppliedMigration;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};

use super::{Failure, Migration, already_applied, checksum, revertible_down};
use crate::now_millis;

/// PostgreSQL's limit on identifier length, in bytes.
const MAX_IDENTIFIER: usize = 63;
/// First key of the areas' advisory locks (the two-key space, apart from the audit lock).
const AREA_LOCK_CLASS: i32 = 0x6d66_6578;

/// The schema and role name of `extension`: `ext_<publisher>_<name>` with
/// '-' as '_', cut to 63 bytes with a short hash of the id when longer.
pub(super) fn area_name(extension: &str) -> String {
    let name = format!("ext_{}", extension.replace(['/', '-'], "_"));
    if name.len() <= MAX_IDENTIFIER {
        return name;
    }
    let hash = &checksum(extension)[..8];
    let mut cut = MAX_IDENTIFIER - hash.len() - 1;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}", &name[..cut])
}

/// One extension's area.
struct Area<'a> {
    extension: &'a str,
    name: String,
}

impl<'a> Area<'a> {
    fn of(extension: &'a str) -> Area<'a> {
        Area {
            extension,
            name: area_name(extension),
        }
    }

    /// The schema (and role) as a quoted identifier.
    fn ident(&self) -> String {
        quote_ident(&self.name)
    }

    /// The schema's comment: which extension the area belongs to.
    fn label(&self) -> String {
        format!("MagFlock extension {}", self.extension)
    }

    fn migrations_table(&self) -> String {
        format!("{}._migrations", self.ident())
    }

    fn lock_key(&self) -> i32 {
        let digest = Sha256::digest(self.name.as_bytes());
        i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub(super) async fn applied(
    pool: &AnyPool,
    extension: &str,
) -> Result<Vec<AppliedMigration>, KernelError> {
    let area = Area::of(extension);
    let fail = Failure::area(extension);
    let mut conn = pool.acquire().await.map_err(|e| fail.db(e))?;
    if !check_label(
        &area,
        schema_label(&mut conn, &area)
            .await
            .map_err(|e| fail.db(e))?,
    )? {
        return Ok(Vec::new());
    }
    if !migrations_table_exists(&mut conn, &area)
        .await
        .map_err(|e| fail.db(e))?
    {
        return Ok(Vec::new());
    }
    recorded(&mut conn, &area).await.map_err(|e| fail.db(e))
}

pub(super) async fn apply(pool: &AnyPool, migration: &Migration<'_>) -> Result<(), KernelError> {
    let fail = Failure::migration(migration.extension, migration.name);
    let mut conn = dedicated(pool).await.map_err(|e| fail.db(e))?;
    let result = apply_on(&mut conn, migration).await;
    let _ = conn.close().await;
    result
}

pub(super) async fn revert(pool: &AnyPool, extension: &str, name: &str) -> Result<(), KernelError> {
    let fail = Failure::migration(extension, name);
    let mut conn = dedicated(pool).await.map_err(|e| fail.db(e))?;
    let result = revert_on(&mut conn, extension, name).await;
    let _ = conn.close().await;
    result
}

pub(super) async fn drop_area(pool: &AnyPool, extension: &str) -> Result<(), KernelError> {
    let fail = Failure::area(extension);
    let mut conn = dedicated(pool).await.map_err(|e| fail.db(e))?;
    let result = drop_on(&mut conn, extension).await;
    let _ = conn.close().await;
    result
}

/// A connection taken out of the pool for good: whatever an extension's script
/// leaves in the session goes away with it.
async fn dedicated(pool: &AnyPool) -> sqlx::Result<AnyConnection> {
    Ok(pool.acquire().await?.detach())
}

async fn apply_on(conn: &mut AnyConnection, migration: &Migration<'_>) -> Result<(), KernelError> {
    let area = Area::of(migration.extension);
    let fail = Failure::migration(migration.extension, migration.name);
    let mut tx = conn.begin().await.map_err(|e| fail.db(e))?;
    lock(&mut tx, &area).await.map_err(|e| fail.db(e))?;
    let exists = check_label(
        &area,
        schema_label(&mut tx, &area).await.map_err(|e| fail.db(e))?,
    )?;
    prepare_role(&mut tx, &area, fail).await?;
    if !exists {
        create_schema(&mut tx, &area)
            .await
            .map_err(|e| fail.db(e))?;
    }
    let applied = recorded(&mut tx, &area).await.map_err(|e| fail.db(e))?;
    if applied.iter().any(|m| m.name == migration.name) {
        return Err(already_applied(migration.extension, migration.name));
    }
    run_as_role(&mut tx, &area, migration.up)
        .await
        .map_err(|e| fail.db(e))?;
    record(&mut tx, &area, migration)
        .await
        .map_err(|e| fail.db(e))?;
    tx.commit().await.map_err(|e| fail.db(e))
}

async fn revert_on(
    conn: &mut AnyConnection,
    extension: &str,
    name: &str,
) -> Result<(), KernelError> {
    let area = Area::of(extension);
    let fail = Failure::migration(extension, name);
    let mut tx = conn.begin().await.map_err(|e| fail.db(e))?;
    lock(&mut tx, &area).await.map_err(|e| fail.db(e))?;
    let exists = check_label(
        &area,
        schema_label(&mut tx, &area).await.map_err(|e| fail.db(e))?,
    )?;
    let applied = if exists {
        recorded(&mut tx, &area).await.map_err(|e| fail.db(e))?
    } else {
        Vec::new()
    };
    let down = revertible_down(extension, name, &applied)?;
    prepare_role(&mut tx, &area, fail).await?;
    run_as_role(&mut tx, &area, &down)
        .await
        .map_err(|e| fail.db(e))?;
    forget(&mut tx, &area, name).await.map_err(|e| fail.db(e))?;
    tx.commit().await.map_err(|e| fail.db(e))
}

async fn drop_on(conn: &mut AnyConnection, extension: &str) -> Result<(), KernelError> {
    let area = Area::of(extension);
    let fail = Failure::area(extension);
    let mut tx = conn.begin().await.map_err(|e| fail.db(e))?;
    lock(&mut tx, &area).await.map_err(|e| fail.db(e))?;
    check_label(
        &area,
        schema_label(&mut tx, &area).await.map_err(|e| fail.db(e))?,
    )?;
    check_role(
        &area,
        role_is_privileged(&mut tx, &area)
            .await
            .map_err(|e| fail.db(e))?,
    )?;
    drop_schema_and_role(&mut tx, &area)
        .await
        .map_err(|e| fail.db(e))?;
    tx.commit().await.map_err(|e| fail.db(e))
}

/// Runs `sql`: any number of statements, without parameters.
async fn run_script(conn: &mut AnyConnection, sql: &str) -> sqlx::Result<()> {
    (&mut *conn).execute(sqlx::raw_sql(sql)).await?;
    Ok(())
}

/// Serialises apply, revert and drop of one area within this database.
async fn lock(conn: &mut AnyConnection, area: &Area<'_>) -> sqlx::Result<()> {
    sqlx::query("SELECT 1 AS locked FROM (SELECT pg_catalog.pg_advisory_xact_lock($1, $2)) AS l")
        .bind(AREA_LOCK_CLASS)
        .bind(area.lock_key())
        .fetch_one(&mut *conn)
        .await?;
    Ok(())
}

/// The schema's label: `None` if there is no schema, `Some(None)` if it has no comment.
async fn schema_label(
    conn: &mut AnyConnection,
    area: &Area<'_>,
) -> sqlx::Result<Option<Option<String>>> {
    let row = sqlx::query(
        "SELECT pg_catalog.obj_description(n.oid, 'pg_namespace') AS label
         FROM pg_catalog.pg_namespace n WHERE n.nspname = $1",
    )
    .bind(&area.name)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.try_get("label")).transpose()
}

/// Whether the area's schema exists; an error if a schema of that name holds
/// something else (another extension whose id maps to the same name, or not MagFlock's).
fn check_label(area: &Area<'_>, label: Option<Option<String>>) -> Result<bool, KernelError> {
    match label {
        None => Ok(false),
        Some(Some(label)) if label == area.label() => Ok(true),
        Some(other) => Err(KernelError::Storage(format!(
            "schema \"{}\" is not the database area of {} (its label is {})",
            area.name,
            area.extension,
            other.map_or_else(|| "empty".to_string(), |l| format!("'{l}'"))
        ))),
    }
}

/// Whether the role has login, attributes or memberships (`None`: no such role).
async fn role_is_privileged(
    conn: &mut AnyConnection,
    area: &Area<'_>,
) -> sqlx::Result<Option<bool>> {
    let row = sqlx::query(
        "SELECT (r.rolsuper OR r.rolcanlogin OR r.rolcreaterole OR r.rolcreatedb
                 OR r.rolreplication OR r.rolbypassrls
                 OR EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid))
                AS privileged
         FROM pg_catalog.pg_roles r WHERE r.rolname = $1",
    )
    .bind(&area.name)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.try_get("privileged")).transpose()
}

/// Refuses to use (or drop) a role of the area's name that can do more than a plain role.
fn check_role(area: &Area<'_>, privileged: Option<bool>) -> Result<(), KernelError> {
    match privileged {
        Some(true) => Err(KernelError::Storage(format!(
            "role \"{}\" for {} already exists with login, attributes or memberships; \
             extension migrations will not run as it",
            area.name, area.extension
        ))),
        _ => Ok(()),
    }
}

/// Creates the area's role if missing (concurrent creation from another
/// database of the cluster is tolerated), checks it is a plain role, and makes
/// the current user a member so it can switch to it.
async fn prepare_role(
    conn: &mut AnyConnection,
    area: &Area<'_>,
    fail: Failure<'_>,
) -> Result<(), KernelError> {
    let (role, role_text) = (area.ident(), quote_literal(&area.name));
    let create = format!(
        "DO $mf$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {role_text}) THEN
             BEGIN
               CREATE ROLE {role} NOLOGIN;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN
               NULL;
             END;
           END IF;
         END $mf$"
    );
    run_script(conn, &create).await.map_err(|e| fail.db(e))?;
    check_role(
        area,
        role_is_privileged(conn, area)
            .await
            .map_err(|e| fail.db(e))?,
    )?;
    let join = format!(
        "DO $mf$ BEGIN
           IF NOT pg_catalog.pg_has_role(current_user, {role_text}, 'MEMBER') THEN
             EXECUTE pg_catalog.format('GRANT %I TO %I', {role_text}, current_user);
           END IF;
         END $mf$"
    );
    run_script(conn, &join).await.map_err(|e| fail.db(e))?;
    Ok(())
}

/// The schema (labelled, the role may use and create in it) and its `_migrations`.
async fn create_schema(conn: &mut AnyConnection, area: &Area<'_>) -> sqlx::Result<()> {
    let (schema, role, table) = (area.ident(), area.ident(), area.migrations_table());
    let label = quote_literal(&area.label());
    let sql = format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         COMMENT ON SCHEMA {schema} IS {label};
         GRANT USAGE, CREATE ON SCHEMA {schema} TO {role};
         CREATE TABLE IF NOT EXISTS {table} (
             name       TEXT PRIMARY KEY,
             checksum   TEXT NOT NULL,
             down       TEXT,
             applied_at BIGINT NOT NULL,
             seq        BIGINT NOT NULL UNIQUE
         );"
    );
    run_script(conn, &sql).await?;
    Ok(())
}

async fn migrations_table_exists(conn: &mut AnyConnection, area: &Area<'_>) -> sqlx::Result<bool> {
    sqlx::query("SELECT pg_catalog.to_regclass($1) IS NOT NULL AS present")
        .bind(area.migrations_table())
        .fetch_one(&mut *conn)
        .await?
        .try_get("present")
}

async fn recorded(
    conn: &mut AnyConnection,
    area: &Area<'_>,
) -> sqlx::Result<Vec<AppliedMigration>> {
    let sql = format!(
        "SELECT name, checksum, down, applied_at FROM {} ORDER BY seq",
        area.migrations_table()
    );
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    rows.iter().map(applied_from).collect()
}

fn applied_from(row: &AnyRow) -> sqlx::Result<AppliedMigration> {
    Ok(AppliedMigration {
        name: row.try_get("name")?,
        checksum: row.try_get("checksum")?,
        down: row.try_get("down")?,
        applied_at: row.try_get("applied_at")?,
    })
}

/// Runs `script` as the area's role with the area as search path, inside a
/// `SECURITY DEFINER` function owned by the role: PostgreSQL refuses role and
/// session-authorization changes there, so the script cannot leave the role.
/// The function exists only inside this transaction.
async fn run_as_role(conn: &mut AnyConnection, area: &Area<'_>, script: &str) -> sqlx::Result<()> {
    let schema = area.ident();
    let runner = format!(
        "{schema}.{}",
        quote_ident(&format!("_magflock_run_{}", uuid::Uuid::new_v4().simple()))
    );
    let enter = format!(
        "SET LOCAL ROLE {schema};
         SET LOCAL search_path TO {schema};
         CREATE FUNCTION {runner}(script pg_catalog.text) RETURNS pg_catalog.void
           LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp
           AS $mf$ BEGIN EXECUTE script; END $mf$;"
    );
    run_script(conn, &enter).await?;
    sqlx::query(&format!("SELECT {runner}($1)"))
        .bind(script)
        .execute(&mut *conn)
        .await?;
    let leave = format!(
        "DROP FUNCTION IF EXISTS {runner}(pg_catalog.text);
         RESET ROLE;
         SET LOCAL search_path TO DEFAULT;"
    );
    run_script(conn, &leave).await?;
    Ok(())
}

async fn record(
    conn: &mut AnyConnection,
    area: &Area<'_>,
    migration: &Migration<'_>,
) -> sqlx::Result<()> {
    let sql = format!(
        "INSERT INTO {table} (name, checksum, down, applied_at, seq)
         SELECT $1, $2, $3, $4, COALESCE(MAX(seq), 0) + 1 FROM {table}",
        table = area.migrations_table()
    );
    sqlx::query(&sql)
        .bind(migration.name)
        .bind(checksum(migration.up))
        .bind(migration.down)
        .bind(now_millis())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn forget(conn: &mut AnyConnection, area: &Area<'_>, name: &str) -> sqlx::Result<()> {
    let sql = format!("DELETE FROM {} WHERE name = $1", area.migrations_table());
    sqlx::query(&sql).bind(name).execute(&mut *conn).await?;
    Ok(())
}

/// Drops the schema with everything in it, then the role, if they exist. The
/// role is kept while another database of the cluster still uses it (an area
/// of the same extension in another MagFlock database).
async fn drop_schema_and_role(conn: &mut AnyConnection, area: &Area<'_>) -> sqlx::Result<()> {
    let (role, role_text) = (area.ident(), quote_literal(&area.name));
    let sql = format!(
        "DROP SCHEMA IF EXISTS {role} CASCADE;
         DO $mf$ BEGIN
           IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {role_text}) THEN
             DROP OWNED BY {role};
             BEGIN
               DROP ROLE {role};
             EXCEPTION WHEN dependent_objects_still_exist THEN
               NULL;
             END;
           END IF;
         END $mf$;"
    );
    run_script(conn, &sql).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_names_follow_the_id_and_fit_postgres() {
        assert_eq!(area_name("acme/report-pdf"), "ext_acme_report_pdf");
        let long = format!("acme/{}", "x".repeat(80));
        let name = area_name(&long);
        assert_eq!(name.len(), 63, "{name}");
        assert!(name.starts_with("ext_acme_xxx"), "{name}");
        assert_ne!(name, area_name(&format!("acme/{}", "x".repeat(81))));
    }
}
