//! The extensions' key-value store (the kernel's [`KeyValueStore`]).
//!
//! Guarantees: every query is scoped by extension id; values round-trip
//! byte for byte (stored hex-encoded, portable across both engines); key
//! listing escapes `%` and `_` so a prefix is matched literally. A value read
//! is reused for [`KV_REUSE_FOR`] (an extension reading its settings on every
//! call does not reach the database each time); every write through this
//! store replaces or drops what is reused, and a read racing a write is not
//! reused, so within the process every reader sees every write at once. A
//! write by another process shows within [`KV_REUSE_FOR`].

use async_trait::async_trait;
use magflock_kernel::KernelError;
use magflock_kernel::kv::KeyValueStore;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::policies::db;
use crate::{SqlStore, now_millis};

/// How long a value read is reused without reading it again.
pub const KV_REUSE_FOR: Duration = Duration::from_secs(1);
/// Reused values kept at most.
const KV_REUSED_MAX: usize = 10_000;

type Reused = HashMap<(String, String), (Option<Vec<u8>>, Instant)>;

/// Values read lately, and a count of writes (a read that saw the count
/// change while it ran is not reused).
#[derive(Default)]
pub(crate) struct KvReuse {
    values: Mutex<Reused>,
    writes: AtomicU64,
}

impl KvReuse {
    fn values(&self) -> std::sync::MutexGuard<'_, Reused> {
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self, extension: &str, key: &str) -> Option<Option<Vec<u8>>> {
        let values = self.values();
        let (value, read_at) = values.get(&(extension.to_string(), key.to_string()))?;
        (read_at.elapsed() < KV_REUSE_FOR).then(|| value.clone())
    }

    fn keep(&self, extension: &str, key: &str, value: Option<Vec<u8>>, writes_before: u64) {
        let mut values = self.values();
        if self.writes.load(Ordering::SeqCst) != writes_before {
            return;
        }
        if values.len() >= KV_REUSED_MAX {
            values.retain(|_, (_, read_at)| read_at.elapsed() < KV_REUSE_FOR);
        }
        if values.len() < KV_REUSED_MAX {
            values.insert(
                (extension.to_string(), key.to_string()),
                (value, Instant::now()),
            );
        }
    }

    /// Before a write: no read in flight may keep its value, nothing kept
    /// for `extension` (and `key`, or every key) stays.
    fn written(&self, extension: &str, key: Option<&str>) {
        let mut values = self.values();
        self.writes.fetch_add(1, Ordering::SeqCst);
        match key {
            Some(key) => {
                values.remove(&(extension.to_string(), key.to_string()));
            }
            None => values.retain(|(ext, _), _| ext != extension),
        }
    }
}

#[async_trait]
impl KeyValueStore for SqlStore {
    async fn kv_get(&self, extension: &str, key: &str) -> Result<Option<Vec<u8>>, KernelError> {
        if let Some(value) = self.kv_reuse.fresh(extension, key) {
            return Ok(value);
        }
        let writes_before = self.kv_reuse.writes.load(Ordering::SeqCst);
        let value = self.kv_read(extension, key).await?;
        self.kv_reuse
            .keep(extension, key, value.clone(), writes_before);
        Ok(value)
    }

    async fn kv_set(&self, extension: &str, key: &str, value: &[u8]) -> Result<(), KernelError> {
        self.kv_reuse.written(extension, Some(key));
        let result = self.kv_write(extension, key, value).await;
        self.kv_reuse.written(extension, Some(key));
        result
    }

    async fn kv_delete(&self, extension: &str, key: &str) -> Result<(), KernelError> {
        self.kv_reuse.written(extension, Some(key));
        let result = self.kv_remove(extension, key).await;
        self.kv_reuse.written(extension, Some(key));
        result
    }

    async fn kv_keys(&self, extension: &str, prefix: &str) -> Result<Vec<String>, KernelError> {
        self.kv_list(extension, prefix).await
    }

    async fn kv_clear(&self, extension: &str) -> Result<u64, KernelError> {
        self.kv_reuse.written(extension, None);
        let result = self.kv_remove_all(extension).await;
        self.kv_reuse.written(extension, None);
        result
    }
}

impl SqlStore {
    async fn kv_read(&self, extension: &str, key: &str) -> Result<Option<Vec<u8>>, KernelError> {
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

    async fn kv_write(&self, extension: &str, key: &str, value: &[u8]) -> Result<(), KernelError> {
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

    async fn kv_remove(&self, extension: &str, key: &str) -> Result<(), KernelError> {
        sqlx::query("DELETE FROM extension_kv WHERE extension_id = $1 AND k = $2")
            .bind(extension)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn kv_list(&self, extension: &str, prefix: &str) -> Result<Vec<String>, KernelError> {
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

    async fn kv_remove_all(&self, extension: &str) -> Result<u64, KernelError> {
        let done = sqlx::query("DELETE FROM extension_kv WHERE extension_id = $1")
            .bind(extension)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}
