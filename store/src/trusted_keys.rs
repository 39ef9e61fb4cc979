//! The trust store's keys, as rows. The package crate turns them into a
//! `TrustStore`; adding and removing is an admin action the caller audits.
//!
//! Guarantees: a key id and a public key are each stored once (a second add
//! is a `Conflict` naming the key); rows come back in publisher, key id order.

use crate::{Result, StoreError, now_millis};
use sqlx::{AnyPool, Row};

/// One trusted public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKeyRow {
    pub key_id: String,
    pub publisher: String,
    /// The ed25519 public key, hex.
    pub public_key: String,
    /// `first_party` or `verified_publisher`.
    pub level: String,
    pub added_by: Option<String>,
    pub added_at: i64,
}

pub(crate) async fn list(pool: &AnyPool) -> Result<Vec<TrustedKeyRow>> {
    let rows = sqlx::query(
        "SELECT key_id, publisher, public_key, level, added_by, added_at FROM trusted_keys ORDER BY publisher, key_id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(TrustedKeyRow {
                key_id: row.try_get("key_id")?,
                publisher: row.try_get("publisher")?,
                public_key: row.try_get("public_key")?,
                level: row.try_get("level")?,
                added_by: row.try_get("added_by")?,
                added_at: row.try_get("added_at")?,
            })
        })
        .collect()
}

pub(crate) async fn add(pool: &AnyPool, key: &TrustedKeyRow) -> Result<TrustedKeyRow> {
    let added_at = now_millis();
    sqlx::query(
        "INSERT INTO trusted_keys (key_id, publisher, public_key, level, added_by, added_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&key.key_id)
    .bind(&key.publisher)
    .bind(&key.public_key)
    .bind(&key.level)
    .bind(&key.added_by)
    .bind(added_at)
    .execute(pool)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("key {} is already trusted", key.key_id)),
        other => other,
    })?;
    Ok(TrustedKeyRow {
        added_at,
        ..key.clone()
    })
}

/// Whether the key was there.
pub(crate) async fn remove(pool: &AnyPool, key_id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM trusted_keys WHERE key_id = $1")
        .bind(key_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
