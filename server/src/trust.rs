//! The trust store as the lifecycle manager sees it: the keys in the
//! control-plane database (first-party and publishers an admin added) and the
//! development setting that admits unsigned packages.
//!
//! Guarantees: read fresh for every decision (a key removed by an admin is
//! refused at the very next install); at first start the build's first-party
//! key (`<catalog dir>/first-party.pub`) is trusted once, audited, and never
//! replaced behind an admin's back.

use async_trait::async_trait;
use magflock_lifecycle::{LifecycleError, TrustSource};
use magflock_package::{SignatureLevel, TrustStore, TrustedKey};
use magflock_store::{SqlStore, Store, TrustedKeyRow};
use magflock_types::{ActorKind, NewAuditEntry, Outcome};
use std::path::Path;
use std::sync::Arc;

/// The setting (in the settings table) that admits unsigned packages.
pub use magflock_app::api::trust::ALLOW_UNSIGNED;
/// The first-party public key the build writes beside the local catalog.
pub const FIRST_PARTY_KEY_FILE: &str = "first-party.pub";

pub struct StoreTrust {
    pub store: Arc<SqlStore>,
}

/// A stored key's level (the table admits only the two signed levels).
fn level_of(row: &TrustedKeyRow) -> SignatureLevel {
    SignatureLevel::from_code(&row.level).unwrap_or(SignatureLevel::VerifiedPublisher)
}

fn storage(e: impl std::fmt::Display) -> LifecycleError {
    LifecycleError::Kernel(magflock_kernel::KernelError::Storage(e.to_string()))
}

#[async_trait]
impl TrustSource for StoreTrust {
    async fn trust_store(&self) -> Result<TrustStore, LifecycleError> {
        let mut trust = TrustStore::new();
        for row in self.store.trusted_keys().await.map_err(storage)? {
            match TrustedKey::from_parts(&row.publisher, &row.public_key, level_of(&row)) {
                Ok(key) if key.key_id() == row.key_id => trust.add(key),
                Ok(_) => tracing::error!(key = row.key_id, "stored key ignored: id mismatch"),
                Err(problem) => tracing::error!(key = row.key_id, "stored key ignored: {problem}"),
            }
        }
        Ok(trust)
    }

    async fn allow_unsigned(&self) -> Result<bool, LifecycleError> {
        magflock_app::server::trust::allow_unsigned_now(self.store.as_ref())
            .await
            .map_err(storage)
    }
}

/// Trusts the build's first-party key if no first-party key is trusted yet.
/// Returns the key id it added.
pub async fn trust_first_party_key(
    store: &SqlStore,
    catalog_dir: &Path,
) -> Result<Option<String>, String> {
    let file = catalog_dir.join(FIRST_PARTY_KEY_FILE);
    if !file.is_file() {
        return Ok(None);
    }
    let keys = store.trusted_keys().await.map_err(|e| e.to_string())?;
    let first_party = SignatureLevel::FirstParty.code();
    if keys.iter().any(|k| k.level == first_party) {
        return Ok(None);
    }
    let key = TrustedKey::read(&file, SignatureLevel::FirstParty).map_err(|e| e.to_string())?;
    let key_id = key.key_id();
    store
        .trusted_key_add(&TrustedKeyRow {
            key_id: key_id.clone(),
            publisher: key.publisher.clone(),
            public_key: key.public_hex(),
            level: first_party.into(),
            added_by: None,
            added_at: magflock_kernel::bus::now_millis(),
        })
        .await
        .map_err(|e| e.to_string())?;
    store
        .audit_append(NewAuditEntry {
            actor_kind: ActorKind::System,
            actor_id: None,
            actor_label: "kernel".into(),
            action: "trust.key_added".into(),
            target: Some(key_id.clone()),
            outcome: Outcome::Success,
            detail: serde_json::json!({
                "publisher": key.publisher,
                "level": first_party,
                "source": file.display().to_string(),
            })
            .to_string(),
            ip: None,
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(key_id))
}
