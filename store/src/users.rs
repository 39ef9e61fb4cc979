//! Users: accounts, roles, and the rule that an instance always keeps an active owner.

use crate::{Result, StoreError, now_millis};
use magflock_types::{Millis, NewUser, Role, User};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

const COLUMNS: &str = "id, email, display_name, role, created_at, last_login_at, disabled_at";

fn user_from_row(row: &AnyRow) -> Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        role: role
            .parse()
            .map_err(|e| StoreError::Database(format!("users.role: {e}")))?,
        created_at: row.try_get("created_at")?,
        last_login_at: row.try_get("last_login_at")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

fn email_taken(err: StoreError, email: &str) -> StoreError {
    match err {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("a user with email {email} already exists"))
        }
        other => other,
    }
}

pub(crate) async fn count(pool: &AnyPool) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(pool)
        .await?
        .try_get("n")?)
}

async fn insert<'c, E>(executor: E, user: &NewUser, id: &str, now: Millis) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, role, created_at, updated_at, password_changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $6)",
    )
    .bind(id)
    .bind(&user.email)
    .bind(&user.display_name)
    .bind(&user.password_hash)
    .bind(user.role.as_str())
    .bind(now)
    .execute(executor)
    .await
    .map_err(|e| email_taken(e.into(), &user.email))?;
    Ok(())
}

pub(crate) async fn create_first_owner(pool: &AnyPool, mut user: NewUser) -> Result<User> {
    user.role = Role::Owner;
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_millis();
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO instance_setup (id, completed_at) VALUES (1, $1)")
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::AlreadySetUp,
            other => other,
        })?;
    insert(&mut *tx, &user, &id, now).await?;
    tx.commit().await?;
    by_id(pool, &id).await?.ok_or(StoreError::NotFound("user"))
}

pub(crate) async fn create(pool: &AnyPool, user: NewUser) -> Result<User> {
    let id = uuid::Uuid::now_v7().to_string();
    insert(pool, &user, &id, now_millis()).await?;
    by_id(pool, &id).await?.ok_or(StoreError::NotFound("user"))
}

pub(crate) async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub(crate) async fn with_hash_by_email(
    pool: &AnyPool,
    email: &str,
) -> Result<Option<(User, String)>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, password_hash FROM users WHERE email = $1"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => Ok(Some((user_from_row(&row)?, row.try_get("password_hash")?))),
        None => Ok(None),
    }
}

pub(crate) async fn list(pool: &AnyPool) -> Result<Vec<User>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users ORDER BY created_at, email"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(user_from_row).collect()
}

/// Runs `change` (an UPDATE of one user) in a transaction that is rolled back if
/// it leaves no active owner.
async fn change_keeping_an_owner<'q>(
    pool: &AnyPool,
    id: &str,
    change: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
) -> Result<User> {
    let mut tx = pool.begin().await?;
    let done = change.execute(&mut *tx).await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("user"));
    }
    let owners: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'owner' AND disabled_at IS NULL")
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
    if owners == 0 {
        tx.rollback().await?;
        return Err(StoreError::LastOwner);
    }
    tx.commit().await?;
    by_id(pool, id).await?.ok_or(StoreError::NotFound("user"))
}

pub(crate) async fn set_role(pool: &AnyPool, id: &str, role: Role) -> Result<User> {
    let change = sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str())
        .bind(now_millis())
        .bind(id);
    change_keeping_an_owner(pool, id, change).await
}

pub(crate) async fn set_disabled(
    pool: &AnyPool,
    id: &str,
    disabled_at: Option<Millis>,
) -> Result<User> {
    let change = sqlx::query("UPDATE users SET disabled_at = $1, updated_at = $2 WHERE id = $3")
        .bind(disabled_at)
        .bind(now_millis())
        .bind(id);
    let user = change_keeping_an_owner(pool, id, change).await?;
    if disabled_at.is_some() {
        crate::sessions::delete_for_user(pool, id).await?;
    }
    Ok(user)
}

pub(crate) async fn set_password_hash(pool: &AnyPool, id: &str, hash: &str) -> Result<()> {
    let now = now_millis();
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2 WHERE id = $3",
    )
    .bind(hash)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("user"));
    }
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn record_login(pool: &AnyPool, id: &str, at: Millis) -> Result<()> {
    sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
        .bind(at)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The user an identity (`issuer`, `subject`) is linked to, if any.
pub(crate) async fn identity_user(
    pool: &AnyPool,
    issuer: &str,
    subject: &str,
) -> Result<Option<String>> {
    let row = sqlx::query("SELECT user_id FROM user_identities WHERE issuer = $1 AND subject = $2")
        .bind(issuer)
        .bind(subject)
        .fetch_optional(pool)
        .await?;
    row.map(|r| r.try_get("user_id").map_err(Into::into))
        .transpose()
}

/// Links an identity to a user; `Conflict` if the identity is already linked.
pub(crate) async fn identity_link(
    pool: &AnyPool,
    issuer: &str,
    subject: &str,
    user_id: &str,
    email: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_identities (issuer, subject, user_id, email, linked_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(issuer)
    .bind(subject)
    .bind(user_id)
    .bind(email)
    .bind(now_millis())
    .execute(pool)
    .await?;
    Ok(())
}
