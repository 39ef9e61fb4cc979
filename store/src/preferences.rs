//! Per-user preferences: one value per (user, key), replaced on write, gone
//! with the user. Values are opaque to the store (MagUI writes JSON).

use crate::{Result, now_millis};
use sqlx::{AnyPool, Row};

pub(crate) async fn get(pool: &AnyPool, user_id: &str, key: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT value FROM user_preferences WHERE user_id = $1 AND key = $2")
        .bind(user_id)
        .bind(key)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(row) => Some(row.try_get("value")?),
        None => None,
    })
}

pub(crate) async fn set(pool: &AnyPool, user_id: &str, key: &str, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_preferences (user_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(key)
    .bind(value)
    .bind(now_millis())
    .execute(pool)
    .await?;
    Ok(())
}
