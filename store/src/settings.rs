//! Settings: a small key-value table of instance settings; validation of values is
//! the caller's (the server knows what each key means).

use crate::{Result, now_millis};
use sqlx::{AnyPool, Row};

pub(crate) async fn all(pool: &AnyPool) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT key, value FROM settings ORDER BY key")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("key")?, r.try_get("value")?)))
        .collect()
}

pub(crate) async fn set(pool: &AnyPool, key: &str, value: &str, by: Option<&str>) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(key)
    .bind(value)
    .bind(now_millis())
    .bind(by)
    .execute(pool)
    .await?;
    Ok(())
}
