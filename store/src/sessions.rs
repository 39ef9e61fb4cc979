//! Sessions: opaque records with an expiry, so a signed-in admin survives a restart.
//!
//! Guarantees: an expired session is never returned, even before the sweeper
//! deletes it; `create` never overwrites an existing id.

use crate::store::SessionRow;
use crate::{Result, StoreError};
use magflock_types::Millis;
use sqlx::{AnyPool, Row};

pub(crate) async fn load(pool: &AnyPool, id: &str, now: Millis) -> Result<Option<SessionRow>> {
    let row = sqlx::query(
        "SELECT id, data, expires_at, user_id FROM sessions WHERE id = $1 AND expires_at > $2",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(SessionRow {
            id: r.try_get("id")?,
            data: r.try_get("data")?,
            expires_at: r.try_get("expires_at")?,
            user_id: r.try_get("user_id")?,
        })
    })
    .transpose()
}

pub(crate) async fn save(pool: &AnyPool, row: SessionRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, data, expires_at, user_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, user_id = excluded.user_id",
    )
    .bind(row.id)
    .bind(row.data)
    .bind(row.expires_at)
    .bind(row.user_id)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn create(pool: &AnyPool, row: SessionRow) -> Result<()> {
    sqlx::query("INSERT INTO sessions (id, data, expires_at, user_id) VALUES ($1, $2, $3, $4)")
        .bind(row.id)
        .bind(row.data)
        .bind(row.expires_at)
        .bind(row.user_id)
        .execute(pool)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("session id already exists".into()),
            other => other,
        })?;
    Ok(())
}

pub(crate) async fn delete(pool: &AnyPool, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn delete_for_user(pool: &AnyPool, user_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn delete_expired(pool: &AnyPool, now: Millis) -> Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn count_active(pool: &AnyPool, now: Millis) -> Result<i64> {
    Ok(sqlx::query(
        "SELECT COUNT(*) AS n FROM sessions WHERE expires_at > $1 AND user_id IS NOT NULL",
    )
    .bind(now)
    .fetch_one(pool)
    .await?
    .try_get("n")?)
}
