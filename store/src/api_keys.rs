//! Project API keys and personal access tokens, as rows. The gateway
//! (`magflock-maggate`) makes them, hashes them and decides what they may do;
//! this module only stores them. A personal token acts for a user
//! (`user_id`, `project` empty) and may expire.
//!
//! Guarantees: only a key's SHA-256 (hex) is ever stored, never the key; a key
//! id and a key hash are each stored once (a second add is a `Conflict`);
//! revoking is idempotent, keeps the row and never un-revokes; a lookup by hash
//! returns revoked keys too (with `revoked_at` set) so the caller can say why a
//! key is refused; lists come back in project, creation order.

use crate::{Result, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

/// One stored API key (without the key itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub project: String,
    pub name: String,
    /// The first 8 characters of the key, shown in lists.
    pub prefix: String,
    /// SHA-256 of the whole key, lowercase hex.
    pub key_hash: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Set for a personal access token: the user it acts for.
    pub user_id: Option<String>,
    /// When a personal token stops working (milliseconds).
    pub expires_at: Option<i64>,
}

impl ApiKeyRow {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

const COLUMNS: &str = "id, project, name, prefix, key_hash, created_by, created_at, last_used_at, revoked_at, user_id, expires_at";

fn from_row(row: &AnyRow) -> Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: row.try_get("id")?,
        project: row.try_get("project")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        key_hash: row.try_get("key_hash")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
        user_id: row.try_get("user_id")?,
        expires_at: row.try_get("expires_at")?,
    })
}

pub(crate) async fn add(pool: &AnyPool, key: &ApiKeyRow) -> Result<ApiKeyRow> {
    sqlx::query(&format!(
        "INSERT INTO api_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&key.id)
    .bind(&key.project)
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(&key.key_hash)
    .bind(&key.created_by)
    .bind(key.created_at)
    .bind(key.last_used_at)
    .bind(key.revoked_at)
    .bind(&key.user_id)
    .bind(key.expires_at)
    .execute(pool)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!(
            "API key {} ({}) already exists",
            key.id, key.prefix
        )),
        other => other,
    })?;
    Ok(key.clone())
}

pub(crate) async fn by_hash(pool: &AnyPool, key_hash: &str) -> Result<Option<ApiKeyRow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1"
    ))
    .bind(key_hash)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub(crate) async fn list(pool: &AnyPool, project: Option<&str>) -> Result<Vec<ApiKeyRow>> {
    let rows = match project {
        Some(project) => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM api_keys WHERE project = $1 ORDER BY created_at, id"
            ))
            .bind(project)
            .fetch_all(pool)
            .await?
        }
        None => sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE user_id IS NULL ORDER BY project, created_at, id"
        ))
        .fetch_all(pool)
        .await?,
    };
    rows.iter().map(from_row).collect()
}

/// The personal tokens of `user_id` (or of everyone), oldest first.
pub(crate) async fn personal(pool: &AnyPool, user_id: Option<&str>) -> Result<Vec<ApiKeyRow>> {
    let rows =
        match user_id {
            Some(user_id) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at, id"
                ))
                .bind(user_id)
                .fetch_all(pool)
                .await?
            }
            None => sqlx::query(&format!(
                "SELECT {COLUMNS} FROM api_keys WHERE user_id IS NOT NULL ORDER BY created_at, id"
            ))
            .fetch_all(pool)
            .await?,
        };
    rows.iter().map(from_row).collect()
}

/// Whether the key was active (and is now revoked).
pub(crate) async fn revoke(pool: &AnyPool, id: &str, at: i64) -> Result<bool> {
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn touch(pool: &AnyPool, id: &str, at: i64) -> Result<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(at)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
