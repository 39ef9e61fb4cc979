//! The lifecycle manager's state in the control-plane database (the kernel's
//! [`LifecycleStore`]): installations, the operation journal, the approvals
//! queue, monitor alerts and catalog sources.
//!
//! Guarantees: every method is one SQL statement, so it changes all it says or
//! nothing; a journal step is committed before `journal_step` returns (and a
//! step for an unknown operation is an error, never silently lost); a request
//! leaves `pending` at most once (`decide_request` is a compare-and-set on the
//! status, so of two concurrent deciders exactly one wins); a row that cannot
//! be read back (unknown request status) is an error naming it.

use async_trait::async_trait;
use magflock_kernel::KernelError;
use magflock_kernel::lifecycle_store::{
    Alert, CapabilityRequest, CatalogSource, Installation, JournalEntry, LifecycleStore,
    RequestStatus,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::policies::db;
use crate::{SqlStore, now_millis};

const INSTALLATION_COLUMNS: &str = "extension, version, digest, signature_level, key_id, config, \
     installed_by, installed_at, updated_at, previous_version, previous_until";
const JOURNAL_COLUMNS: &str = "id, extension, operation, step, data, started_at, updated_at";
const REQUEST_COLUMNS: &str = "id, kind, extension, plan, requested_by, requested_at, status, \
     decided_by, decided_at, comment, decision";
const ALERT_COLUMNS: &str = "id, extension, kind, message, raised_at, acknowledged_by";

fn installation_from(row: &AnyRow) -> Result<Installation, KernelError> {
    Ok(Installation {
        extension: row.try_get("extension").map_err(db)?,
        version: row.try_get("version").map_err(db)?,
        digest: row.try_get("digest").map_err(db)?,
        signature_level: row.try_get("signature_level").map_err(db)?,
        key_id: row.try_get("key_id").map_err(db)?,
        config: row.try_get("config").map_err(db)?,
        installed_by: row.try_get("installed_by").map_err(db)?,
        installed_at: row.try_get("installed_at").map_err(db)?,
        updated_at: row.try_get("updated_at").map_err(db)?,
        previous_version: row.try_get("previous_version").map_err(db)?,
        previous_until: row.try_get("previous_until").map_err(db)?,
    })
}

fn journal_entry_from(row: &AnyRow) -> Result<JournalEntry, KernelError> {
    Ok(JournalEntry {
        id: row.try_get("id").map_err(db)?,
        extension: row.try_get("extension").map_err(db)?,
        operation: row.try_get("operation").map_err(db)?,
        step: row.try_get("step").map_err(db)?,
        data: row.try_get("data").map_err(db)?,
        started_at: row.try_get("started_at").map_err(db)?,
        updated_at: row.try_get("updated_at").map_err(db)?,
    })
}

fn request_from(row: &AnyRow) -> Result<CapabilityRequest, KernelError> {
    let id: String = row.try_get("id").map_err(db)?;
    let status: String = row.try_get("status").map_err(db)?;
    let status = RequestStatus::parse(&status).ok_or_else(|| {
        KernelError::Storage(format!(
            "capability_requests: '{id}' has unknown status '{status}'"
        ))
    })?;
    Ok(CapabilityRequest {
        kind: row.try_get("kind").map_err(db)?,
        extension: row.try_get("extension").map_err(db)?,
        plan: row.try_get("plan").map_err(db)?,
        requested_by: row.try_get("requested_by").map_err(db)?,
        requested_at: row.try_get("requested_at").map_err(db)?,
        status,
        decided_by: row.try_get("decided_by").map_err(db)?,
        decided_at: row.try_get("decided_at").map_err(db)?,
        comment: row.try_get("comment").map_err(db)?,
        decision: row.try_get("decision").map_err(db)?,
        id,
    })
}

fn alert_from(row: &AnyRow) -> Result<Alert, KernelError> {
    Ok(Alert {
        id: row.try_get("id").map_err(db)?,
        extension: row.try_get("extension").map_err(db)?,
        kind: row.try_get("kind").map_err(db)?,
        message: row.try_get("message").map_err(db)?,
        raised_at: row.try_get("raised_at").map_err(db)?,
        acknowledged_by: row.try_get("acknowledged_by").map_err(db)?,
    })
}

fn catalog_source_from(row: &AnyRow) -> Result<CatalogSource, KernelError> {
    Ok(CatalogSource {
        url: row.try_get("url").map_err(db)?,
        added_by: row.try_get("added_by").map_err(db)?,
        added_at: row.try_get("added_at").map_err(db)?,
    })
}

impl SqlStore {
    async fn fetch_all_as<T>(
        &self,
        sql: &str,
        read: fn(&AnyRow) -> Result<T, KernelError>,
    ) -> Result<Vec<T>, KernelError> {
        let rows = sqlx::query(sql).fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(read).collect()
    }

    async fn fetch_by_key<T>(
        &self,
        sql: &str,
        key: &str,
        read: fn(&AnyRow) -> Result<T, KernelError>,
    ) -> Result<Option<T>, KernelError> {
        let row = sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(read).transpose()
    }
}

#[async_trait]
impl LifecycleStore for SqlStore {
    async fn installations(&self) -> Result<Vec<Installation>, KernelError> {
        let sql = format!(
            "SELECT {INSTALLATION_COLUMNS} FROM extension_installations ORDER BY extension"
        );
        self.fetch_all_as(&sql, installation_from).await
    }

    async fn installation(&self, extension: &str) -> Result<Option<Installation>, KernelError> {
        let sql = format!(
            "SELECT {INSTALLATION_COLUMNS} FROM extension_installations WHERE extension = $1"
        );
        self.fetch_by_key(&sql, extension, installation_from).await
    }

    async fn save_installation(&self, installation: &Installation) -> Result<(), KernelError> {
        sqlx::query(
            "INSERT INTO extension_installations (extension, version, digest, signature_level,
               key_id, config, installed_by, installed_at, updated_at, previous_version, previous_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (extension) DO UPDATE SET version = excluded.version,
               digest = excluded.digest, signature_level = excluded.signature_level,
               key_id = excluded.key_id, config = excluded.config,
               installed_by = excluded.installed_by, installed_at = excluded.installed_at,
               updated_at = excluded.updated_at, previous_version = excluded.previous_version,
               previous_until = excluded.previous_until",
        )
        .bind(&installation.extension)
        .bind(&installation.version)
        .bind(&installation.digest)
        .bind(&installation.signature_level)
        .bind(&installation.key_id)
        .bind(&installation.config)
        .bind(&installation.installed_by)
        .bind(installation.installed_at)
        .bind(installation.updated_at)
        .bind(&installation.previous_version)
        .bind(installation.previous_until)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete_installation(&self, extension: &str) -> Result<(), KernelError> {
        sqlx::query("DELETE FROM extension_installations WHERE extension = $1")
            .bind(extension)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn journal_begin(&self, entry: &JournalEntry) -> Result<(), KernelError> {
        sqlx::query(
            "INSERT INTO lifecycle_journal (id, extension, operation, step, data, started_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&entry.id)
        .bind(&entry.extension)
        .bind(&entry.operation)
        .bind(&entry.step)
        .bind(&entry.data)
        .bind(entry.started_at)
        .bind(entry.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn journal_step(&self, id: &str, step: &str, data: &str) -> Result<(), KernelError> {
        let done = sqlx::query(
            "UPDATE lifecycle_journal SET step = $1, data = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(step)
        .bind(data)
        .bind(now_millis())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(KernelError::Storage(format!(
                "lifecycle_journal: no open operation '{id}' to record step '{step}' in"
            )));
        }
        Ok(())
    }

    async fn journal_finish(&self, id: &str) -> Result<(), KernelError> {
        sqlx::query("DELETE FROM lifecycle_journal WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn journal_open(&self) -> Result<Vec<JournalEntry>, KernelError> {
        let sql =
            format!("SELECT {JOURNAL_COLUMNS} FROM lifecycle_journal ORDER BY started_at, id");
        self.fetch_all_as(&sql, journal_entry_from).await
    }

    async fn request_add(&self, request: &CapabilityRequest) -> Result<(), KernelError> {
        sqlx::query(
            "INSERT INTO capability_requests (id, kind, extension, plan, requested_by, requested_at,
               status, decided_by, decided_at, comment, decision)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&request.id)
        .bind(&request.kind)
        .bind(&request.extension)
        .bind(&request.plan)
        .bind(&request.requested_by)
        .bind(request.requested_at)
        .bind(request.status.as_str())
        .bind(&request.decided_by)
        .bind(request.decided_at)
        .bind(&request.comment)
        .bind(&request.decision)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn request(&self, id: &str) -> Result<Option<CapabilityRequest>, KernelError> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM capability_requests WHERE id = $1");
        self.fetch_by_key(&sql, id, request_from).await
    }

    async fn requests(
        &self,
        status: Option<RequestStatus>,
    ) -> Result<Vec<CapabilityRequest>, KernelError> {
        let newest_first = "ORDER BY requested_at DESC, id DESC";
        match status {
            None => {
                let sql =
                    format!("SELECT {REQUEST_COLUMNS} FROM capability_requests {newest_first}");
                self.fetch_all_as(&sql, request_from).await
            }
            Some(status) => {
                let sql = format!(
                    "SELECT {REQUEST_COLUMNS} FROM capability_requests WHERE status = $1 {newest_first}"
                );
                let rows = sqlx::query(&sql)
                    .bind(status.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter().map(request_from).collect()
            }
        }
    }

    async fn decide_request(
        &self,
        id: &str,
        status: RequestStatus,
        decided_by: Option<&str>,
        comment: Option<&str>,
        decision: Option<&str>,
    ) -> Result<bool, KernelError> {
        if status == RequestStatus::Pending {
            return Err(KernelError::Storage(format!(
                "capability request '{id}' cannot be decided as 'pending'"
            )));
        }
        let done = sqlx::query(
            "UPDATE capability_requests SET status = $1, decided_by = $2, decided_at = $3,
               comment = $4, decision = $5
             WHERE id = $6 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(decided_by)
        .bind(now_millis())
        .bind(comment)
        .bind(decision)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_request(
        &self,
        id: &str,
        status: RequestStatus,
        reason: Option<&str>,
    ) -> Result<(), KernelError> {
        if !matches!(status, RequestStatus::Completed | RequestStatus::Failed) {
            return Err(KernelError::Storage(format!(
                "capability request '{id}' can only finish as 'completed' or 'failed', not '{}'",
                status.as_str()
            )));
        }
        let done = sqlx::query(
            "UPDATE capability_requests SET status = $1, comment = COALESCE($2, comment)
             WHERE id = $3 AND status = 'approved'",
        )
        .bind(status.as_str())
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(KernelError::Storage(format!(
                "capability request '{id}' is not approved, so it cannot be finished"
            )));
        }
        Ok(())
    }

    async fn alert_raise(
        &self,
        extension: &str,
        kind: &str,
        message: &str,
    ) -> Result<i64, KernelError> {
        let row = sqlx::query(
            "INSERT INTO extension_alerts (extension, kind, message, raised_at)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(extension)
        .bind(kind)
        .bind(message)
        .bind(now_millis())
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        row.try_get("id").map_err(db)
    }

    async fn alerts(&self, all: bool) -> Result<Vec<Alert>, KernelError> {
        let filter = if all {
            ""
        } else {
            "WHERE acknowledged_at IS NULL"
        };
        let sql = format!("SELECT {ALERT_COLUMNS} FROM extension_alerts {filter} ORDER BY id DESC");
        self.fetch_all_as(&sql, alert_from).await
    }

    async fn alert_acknowledge(&self, id: i64, by: &str) -> Result<bool, KernelError> {
        let done = sqlx::query(
            "UPDATE extension_alerts SET acknowledged_by = $1, acknowledged_at = $2
             WHERE id = $3 AND acknowledged_at IS NULL",
        )
        .bind(by)
        .bind(now_millis())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn catalog_sources(&self) -> Result<Vec<CatalogSource>, KernelError> {
        self.fetch_all_as(
            "SELECT url, added_by, added_at FROM catalog_sources ORDER BY added_at, url",
            catalog_source_from,
        )
        .await
    }

    async fn catalog_source_add(&self, url: &str, by: Option<&str>) -> Result<bool, KernelError> {
        let done = sqlx::query(
            "INSERT INTO catalog_sources (url, added_by, added_at) VALUES ($1, $2, $3)
             ON CONFLICT (url) DO NOTHING",
        )
        .bind(url)
        .bind(by)
        .bind(now_millis())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn catalog_source_remove(&self, url: &str) -> Result<bool, KernelError> {
        let done = sqlx::query("DELETE FROM catalog_sources WHERE url = $1")
            .bind(url)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }
}
