//! The extensions' key-value store (the kernel's [`KeyValueStore`]).
//!
//! Guarantees: every query is scoped by extension id; values round-trip
//! byte for byte (stored hex-encoded, portable across both engines); key
//! listing escapes `%` and `_` so a prefix is matched literally.

use async_trait::async_trait;
use magflock_kernel::KernelError;
use magflock_kernel::kv::KeyValueStore;
use sqlx::Row;

use crate::policies::db;
use crate::{SqlStore, now_millis};

#[async_trait]
impl KeyValueStore for SqlStore {
    async fn kv_get(&self, extension: &str, key: &str) -> Result<Option<Vec<u8>>, KernelError> {
        let row = sqlx::query("SELECT v FROM extension_kv WHERE extension_id = $1 AND k = $2")
            .bind(extension)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let text: String = row.try_get("v").map_err(db)?;
                hex::decode(text).map(Some).map_err(|e| {
                    KernelError::Storage(format!("extension_kv '{extension}' '{key}': {e}"))
                })
            }
        }
    }

    async fn kv_set(&self, extension: &str, key: &str, value: &[u8]) -> Result<(), KernelError> {
        sqlx::query(
            "INSERT INTO extension_kv (extension_id, k, v, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (extension_id, k) DO UPDATE SET v = excluded.v, updated_at = excluded.updated_at",
        )
        .bind(extension)
        .bind(key)
        .bind(hex::encode(value))
        .bind(now_millis())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn kv_delete(&self, extension: &str, key: &str) -> Result<(), KernelError> {
        sqlx::query("DELETE FROM extension_kv WHERE extension_id = $1 AND k = $2")
            .bind(extension)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn kv_keys(&self, extension: &str, prefix: &str) -> Result<Vec<String>, KernelError> {
        let pattern = format!(
            "{}%",
            prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(
            "SELECT k FROM extension_kv WHERE extension_id = $1 AND k LIKE $2 ESCAPE '\\' ORDER BY k",
        )
        .bind(extension)
        .bind(pattern)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(|r| r.try_get("k").map_err(db)).collect()
    }

    async fn kv_clear(&self, extension: &str) -> Result<u64, KernelError> {
        let done = sqlx::query("DELETE FROM extension_kv WHERE extension_id = $1")
            .bind(extension)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}
