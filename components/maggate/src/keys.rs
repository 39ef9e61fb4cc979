//! Project API keys: issue, revoke, list, authenticate.
//!
//! Guarantees: a key is `mf_` + 32 random bytes from the OS (base64url, no
//! padding); it is returned once, at issue, and never stored, logged or put in
//! an error: the store keeps its SHA-256 and its prefix (first 8 characters),
//! and only the prefix is ever shown. [`ApiKeys::authenticate`] accepts exactly
//! `Authorization: Bearer mf_…` of a known, unrevoked key and records its use
//! (`last_used_at`, at most once per [`TOUCH_EVERY`] per key, so a busy key does
//! not write on every request); anything else is a 401 naming the problem.
//! A key found in the store is remembered (by hash) for at most
//! [`REMEMBER_FOR`], so a busy key is not looked up on every request; a revoke
//! through [`ApiKeys::revoke`] forgets it at once, so the very next request
//! is refused (a revoke written by another process takes effect within
//! [`REMEMBER_FOR`]).

use base64::Engine as _;
use magflock_store::{ApiKeyRow, Store};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::GateError;

/// Every key starts with this.
pub const KEY_PREFIX: &str = "mf_";
/// How many characters of a key lists show.
pub const SHOWN_PREFIX_LEN: usize = 8;
/// `last_used_at` is rewritten at most this often per key (milliseconds).
pub const TOUCH_EVERY: i64 = 60_000;
/// How long a key read from the store is trusted without reading it again.
pub const REMEMBER_FOR: Duration = Duration::from_secs(5);

/// What a presented key turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// A project API key.
    Project(Principal),
    /// A personal access token: it acts as this MagUI user, with the user's
    /// role at the time of each request.
    User {
        admin: crate::AdminCaller,
        token_id: String,
    },
}

/// Who is calling: the key, never its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub key_id: String,
    pub project: String,
    pub name: String,
    /// The key's first 8 characters.
    pub prefix: String,
    pub created_by: Option<String>,
}

/// A freshly issued key: the plaintext is shown once, then forgotten.
pub struct IssuedKey {
    /// The whole key. Show it to the user once; it is not stored anywhere.
    pub plaintext: String,
    pub record: ApiKeyRow,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey")
            .field("plaintext", &format_args!("{}…", self.record.prefix))
            .field("record", &self.record)
            .finish()
    }
}

/// The SHA-256 of a key, lowercase hex (what the store keeps).
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn shown_prefix(key: &str) -> String {
    key.chars().take(SHOWN_PREFIX_LEN).collect()
}

/// The key in an `Authorization` header value: `Bearer mf_…`.
pub fn bearer_key(header: &str) -> Result<&str, GateError> {
    let (scheme, key) = header
        .trim()
        .split_once(' ')
        .ok_or(GateError::MalformedKey)?;
    let key = key.trim();
    let well_formed = scheme.eq_ignore_ascii_case("bearer")
        && key.starts_with(KEY_PREFIX)
        && key.len() > KEY_PREFIX.len()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if well_formed {
        Ok(key)
    } else {
        Err(GateError::MalformedKey)
    }
}

fn principal(row: &ApiKeyRow) -> Principal {
    Principal {
        key_id: row.id.clone(),
        project: row.project.clone(),
        name: row.name.clone(),
        prefix: row.prefix.clone(),
        created_by: row.created_by.clone(),
    }
}

/// Issues, revokes and checks project API keys and personal tokens over the
/// control-plane store. Cheap to clone: clones share the remembered keys, so
/// a revoke through any clone (MagUI's console holds one of the gateway's)
/// is refused by the gateway from the very next request.
#[derive(Clone)]
pub struct ApiKeys {
    store: Arc<dyn Store>,
    /// Keys read from the store lately, by hash, with when they were read.
    remembered: Arc<Mutex<HashMap<String, (ApiKeyRow, Instant)>>>,
}

impl ApiKeys {
    pub fn new(store: Arc<dyn Store>) -> ApiKeys {
        ApiKeys {
            store,
            remembered: Arc::default(),
        }
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<String, (ApiKeyRow, Instant)>> {
        self.remembered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key with this hash: remembered, or read from the store.
    async fn find(&self, hash: String) -> Result<Option<ApiKeyRow>, GateError> {
        if let Some((row, read_at)) = self.remembered().get(&hash)
            && read_at.elapsed() < REMEMBER_FOR
        {
            return Ok(Some(row.clone()));
        }
        let found = self.store.api_key_by_hash(&hash).await?;
        let mut remembered = self.remembered();
        remembered.retain(|_, (_, read_at)| read_at.elapsed() < REMEMBER_FOR);
        match &found {
            Some(row) => remembered.insert(hash, (row.clone(), Instant::now())),
            None => remembered.remove(&hash),
        };
        Ok(found)
    }

    /// Makes a key for `project`; the plaintext is in the result only.
    pub async fn issue_key(
        &self,
        project: &str,
        name: &str,
        by: Option<&str>,
    ) -> Result<IssuedKey, GateError> {
        if project.trim().is_empty() || name.trim().is_empty() {
            return Err(GateError::BadRequest(
                "a key needs a project and a name".into(),
            ));
        }
        let plaintext = generate_key();
        let row = ApiKeyRow {
            id: uuid::Uuid::now_v7().to_string(),
            project: project.to_string(),
            name: name.to_string(),
            prefix: shown_prefix(&plaintext),
            key_hash: hash_key(&plaintext),
            created_by: by.map(str::to_string),
            created_at: magflock_store::now_millis(),
            last_used_at: None,
            revoked_at: None,
            user_id: None,
            expires_at: None,
        };
        let record = self.store.api_key_add(&row).await?;
        tracing::info!(project, prefix = record.prefix, "API key issued");
        Ok(IssuedKey { plaintext, record })
    }

    /// Revokes key `id`; `false` if it was unknown or already revoked.
    pub async fn revoke(&self, id: &str) -> Result<bool, GateError> {
        let revoked = self
            .store
            .api_key_revoke(id, magflock_store::now_millis())
            .await?;
        self.remembered().retain(|_, (row, _)| row.id != id);
        if revoked {
            tracing::info!(key_id = id, "API key revoked");
        }
        Ok(revoked)
    }

    /// The keys of a project (or all), without secrets.
    pub async fn list(&self, project: Option<&str>) -> Result<Vec<ApiKeyRow>, GateError> {
        Ok(self.store.api_keys(project).await?)
    }

    /// Checks an `Authorization` header value (`None`: no header) holding a
    /// project key; a personal token is refused here (401).
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Principal, GateError> {
        match self.authenticate_any(header).await? {
            Holder::Project(principal) => Ok(principal),
            Holder::User { .. } => Err(GateError::UnknownKey),
        }
    }

    /// Checks an `Authorization` header value (`None`: no header): a project
    /// key, or a personal token of an active user (expired, revoked or a
    /// disabled user's token: 401).
    pub async fn authenticate_any(&self, header: Option<&str>) -> Result<Holder, GateError> {
        let key = bearer_key(header.ok_or(GateError::MissingKey)?)?;
        let row = self
            .find(hash_key(key))
            .await?
            .ok_or(GateError::UnknownKey)?;
        if row.is_revoked() {
            return Err(GateError::RevokedKey { prefix: row.prefix });
        }
        if row.is_expired(magflock_store::now_millis()) {
            return Err(GateError::ExpiredKey { prefix: row.prefix });
        }
        let holder = match &row.user_id {
            None => Holder::Project(principal(&row)),
            Some(user_id) => match self.store.user_by_id(user_id).await? {
                Some(user) if user.is_active() => Holder::User {
                    admin: crate::AdminCaller {
                        user_id: user.id,
                        email: user.email,
                        role: user.role,
                    },
                    token_id: row.id.clone(),
                },
                _ => return Err(GateError::RevokedKey { prefix: row.prefix }),
            },
        };
        self.touch(&row).await;
        Ok(holder)
    }

    /// Makes a personal access token for `user_id`, valid for `days` days,
    /// with the name and lifetime rules of [`crate::tokens::check_new`];
    /// the plaintext is in the result only.
    pub async fn issue_token(
        &self,
        user_id: &str,
        name: &str,
        days: u32,
    ) -> Result<IssuedKey, GateError> {
        let (name, days) = crate::tokens::check_new(name, Some(days))?;
        let plaintext = generate_key();
        let now = magflock_store::now_millis();
        let row = ApiKeyRow {
            id: uuid::Uuid::now_v7().to_string(),
            project: String::new(),
            name,
            prefix: shown_prefix(&plaintext),
            key_hash: hash_key(&plaintext),
            created_by: Some(user_id.to_string()),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
            user_id: Some(user_id.to_string()),
            expires_at: Some(now + i64::from(days) * 86_400_000),
        };
        let record = self.store.api_key_add(&row).await?;
        tracing::info!(prefix = record.prefix, "personal access token issued");
        Ok(IssuedKey { plaintext, record })
    }

    /// Personal tokens of one user (or everyone's), without secrets.
    pub async fn tokens(&self, user_id: Option<&str>) -> Result<Vec<ApiKeyRow>, GateError> {
        Ok(self.store.personal_tokens(user_id).await?)
    }

    /// Records the use; a failure is logged, never fatal to the request.
    async fn touch(&self, row: &ApiKeyRow) {
        let now = magflock_store::now_millis();
        if row.last_used_at.is_some_and(|at| now - at < TOUCH_EVERY) {
            return;
        }
        if let Err(e) = self.store.api_key_touch(&row.id, now).await {
            tracing::warn!(prefix = row.prefix, "cannot record an API key's use: {e}");
            return;
        }
        if let Some((remembered, _)) = self.remembered().get_mut(&row.key_hash) {
            remembered.last_used_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_url_safe() {
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + 43);
        assert_eq!(bearer_key(&format!("Bearer {a}")).unwrap(), a);
        assert_eq!(shown_prefix(&a).len(), 8);
        assert_eq!(hash_key(&a).len(), 64);
    }

    #[test]
    fn only_bearer_mf_keys_are_accepted() {
        for bad in [
            "",
            "Bearer",
            "Basic mf_abc",
            "Bearer abc",
            "Bearer mf_",
            "Bearer mf_a b",
        ] {
            assert!(
                matches!(bearer_key(bad), Err(GateError::MalformedKey)),
                "{bad}"
            );
        }
        assert_eq!(bearer_key("bearer  mf_x-Y_1 ").unwrap(), "mf_x-Y_1");
    }

    #[test]
    fn an_issued_key_never_prints_its_secret() {
        let issued = IssuedKey {
            plaintext: "mf_SECRETSECRETSECRET".into(),
            record: ApiKeyRow {
                id: "k".into(),
                project: "p".into(),
                name: "n".into(),
                prefix: "mf_SECRE".into(),
                key_hash: hash_key("mf_SECRETSECRETSECRET"),
                created_by: None,
                created_at: 0,
                last_used_at: None,
                revoked_at: None,
                user_id: None,
                expires_at: None,
            },
        };
        assert!(!format!("{issued:?}").contains("SECRETSECRET"));
    }
}
