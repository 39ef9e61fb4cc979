//! Extension policies (status and grants) for the kernel's policy gate.
//!
//! Guarantees: one row per extension, replaced whole on every change (a
//! change is never half-stored) unless the stored row has a higher revision,
//! so concurrent writers cannot put an older snapshot back; a row that cannot be read back (unknown
//! status, malformed grants) is an error naming the extension, never a silent
//! default.

use async_trait::async_trait;
use magflock_kernel::KernelError;
use magflock_kernel::policy::{ExtensionPolicy, Grant, Status};
use magflock_kernel::policy_store::PolicyStore;
use sqlx::Row;

use crate::{SqlStore, StoreError, now_millis};

/// A database error as the kernel sees it: unreachable, or anything else.
pub(crate) fn db(e: sqlx::Error) -> KernelError {
    match StoreError::from(e) {
        StoreError::Unavailable(m) => KernelError::Unavailable(m),
        other => KernelError::Storage(other.to_string()),
    }
}

#[async_trait]
impl PolicyStore for SqlStore {
    async fn load_policies(&self) -> Result<Vec<ExtensionPolicy>, KernelError> {
        let rows = sqlx::query(
            "SELECT extension_id, status, reason, grants, revision FROM extension_policies ORDER BY extension_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("extension_id").map_err(db)?;
                let status: String = row.try_get("status").map_err(db)?;
                let reason: Option<String> = row.try_get("reason").map_err(db)?;
                let grants: String = row.try_get("grants").map_err(db)?;
                let revision: i64 = row.try_get("revision").map_err(db)?;
                let status = match status.as_str() {
                    "enabled" => Status::Enabled,
                    "disabled" => Status::Disabled,
                    "quarantined" => Status::Quarantined {
                        reason: reason.unwrap_or_default(),
                    },
                    other => {
                        return Err(KernelError::Storage(format!(
                            "extension_policies: '{id}' has unknown status '{other}'"
                        )));
                    }
                };
                let grants: Vec<Grant> = serde_json::from_str(&grants).map_err(|e| {
                    KernelError::Storage(format!("extension_policies: '{id}' grants: {e}"))
                })?;
                Ok(ExtensionPolicy {
                    extension: id,
                    status,
                    grants,
                    revision: revision.max(0) as u64,
                })
            })
            .collect()
    }

    async fn save_policy(&self, policy: &ExtensionPolicy) -> Result<(), KernelError> {
        let (status, reason) = match &policy.status {
            Status::Enabled => ("enabled", None),
            Status::Disabled => ("disabled", None),
            Status::Quarantined { reason } => ("quarantined", Some(reason.clone())),
        };
        let grants = serde_json::to_string(&policy.grants)
            .map_err(|e| KernelError::Storage(format!("grants: {e}")))?;
        sqlx::query(
            "INSERT INTO extension_policies (extension_id, status, reason, grants, updated_at, revision)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (extension_id) DO UPDATE SET status = excluded.status,
               reason = excluded.reason, grants = excluded.grants,
               updated_at = excluded.updated_at, revision = excluded.revision
             WHERE extension_policies.revision < excluded.revision",
        )
        .bind(&policy.extension)
        .bind(status)
        .bind(reason)
        .bind(grants)
        .bind(now_millis())
        .bind(i64::try_from(policy.revision).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete_policy(&self, extension: &str) -> Result<(), KernelError> {
        sqlx::query("DELETE FROM extension_policies WHERE extension_id = $1")
            .bind(extension)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}
