//! Sessions kept in the control-plane database, for tower-sessions.
//!
//! Guarantees: sessions survive a restart; the database holds only the SHA-256
//! of each session id (a copy of the table gives nobody a live session); the
//! signed-in user id is stored beside the record so disabling a user or
//! resetting a password ends their sessions; expired rows are swept in the
//! background. A database outage is reported as `UNAVAILABLE` so pages can show
//! the outage instead of a generic failure.

use async_trait::async_trait;
use magflock_store::{SessionRow, Store, StoreError};
use session_key::hash_id;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use magflock_app::server::guard::SESSION_STORE_UNAVAILABLE as UNAVAILABLE;

#[derive(Clone)]
pub struct DbSessionStore {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSessionStore")
    }
}

impl DbSessionStore {
    pub fn new(store: Arc<dyn Store>) -> Self {
        DbSessionStore { store }
    }

    /// Deletes expired sessions every `every`, for as long as the server runs.
    pub fn spawn_sweeper(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match store
                    .session_delete_expired(magflock_store::now_millis())
                    .await
                {
                    Ok(n) if n > 0 => tracing::debug!(deleted = n, "expired sessions swept"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "session sweep failed"),
                }
            }
        })
    }

    fn row(record: &Record) -> session_store::Result<SessionRow> {
        let data = serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let user_id = record
            .data
            .get(magflock_app::server::guard::USER_ID)
            .and_then(|v| v.as_str())
            .map(String::from);
        Ok(SessionRow {
            id: hash_id(&record.id),
            data,
            expires_at: (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64,
            user_id,
        })
    }
}

fn backend(err: StoreError) -> session_store::Error {
    match err {
        StoreError::Unavailable(m) => session_store::Error::Backend(format!("{UNAVAILABLE} {m}")),
        other => session_store::Error::Backend(other.to_string()),
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            match self.store.session_create(Self::row(record)?).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict(_)) => record.id = Id::default(),
                Err(e) => return Err(backend(e)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.store
            .session_save(Self::row(record)?)
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(row) = self
            .store
            .session_load(&hash_id(id), magflock_store::now_millis())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data = serde_json::from_str(&row.data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(row.expires_at) * 1_000_000)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store
            .session_delete(&hash_id(id))
            .await
            .map_err(backend)
    }
}

mod session_key {
    //! The stored key of a session id.
    use sha2::{Digest, Sha256};
    use tower_sessions::session::Id;

    pub fn hash_id(id: &Id) -> String {
        hex::encode(Sha256::digest(id.to_string().as_bytes()))
    }
}
