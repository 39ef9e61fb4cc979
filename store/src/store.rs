//! The storage trait: everything MagFlock keeps about its own control plane.

use crate::api_keys::ApiKeyRow;
use crate::trusted_keys::TrustedKeyRow;
use crate::{Engine, Result};
use async_trait::async_trait;
use magflock_types::{
    AuditEntry, AuditFilter, AuditPage, ChainReport, Millis, NewAuditEntry, NewUser, Role, User,
};

/// A stored session: opaque data (tower-sessions' record, JSON) and its expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub data: String,
    pub expires_at: Millis,
    /// The signed-in user, so their sessions can be ended when they are disabled.
    pub user_id: Option<String>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn engine(&self) -> Engine;
    /// Cheap round trip; `Unavailable` when the database cannot be reached.
    async fn ping(&self) -> Result<()>;

    // --- users -------------------------------------------------------------
    async fn user_count(&self) -> Result<i64>;
    /// Creates the first owner, atomically: fails with `AlreadySetUp` if any
    /// first-run setup already happened, even concurrently.
    async fn create_first_owner(&self, user: NewUser) -> Result<User>;
    /// Creates an account; `Conflict` if the email is taken.
    async fn create_user(&self, user: NewUser) -> Result<User>;
    async fn user_by_id(&self, id: &str) -> Result<Option<User>>;
    /// The account and its password hash, for sign-in.
    async fn user_with_hash_by_email(&self, email: &str) -> Result<Option<(User, String)>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Changes a role; `LastOwner` if that would leave no active owner.
    async fn set_user_role(&self, id: &str, role: Role) -> Result<User>;
    /// Disables (`Some(at)`) or re-enables (`None`) an account; `LastOwner` if that
    /// would leave no active owner. Disabling also ends the account's sessions.
    async fn set_user_disabled(&self, id: &str, disabled_at: Option<Millis>) -> Result<User>;
    /// Replaces the password hash and ends the account's sessions.
    async fn set_password_hash(&self, id: &str, hash: &str) -> Result<()>;
    async fn record_login(&self, id: &str, at: Millis) -> Result<()>;
    /// The user linked to a sign-in provider's identity (`issuer`, `subject`).
    async fn identity_user(&self, issuer: &str, subject: &str) -> Result<Option<String>>;
    /// Links a provider identity to a user; `Conflict` if it is already linked.
    async fn identity_link(
        &self,
        issuer: &str,
        subject: &str,
        user_id: &str,
        email: Option<&str>,
    ) -> Result<()>;

    // --- sessions ----------------------------------------------------------
    async fn session_load(&self, id: &str, now: Millis) -> Result<Option<SessionRow>>;
    /// Inserts or replaces.
    async fn session_save(&self, row: SessionRow) -> Result<()>;
    /// Inserts only; `Conflict` if the id exists (used for fresh ids).
    async fn session_create(&self, row: SessionRow) -> Result<()>;
    async fn session_delete(&self, id: &str) -> Result<()>;
    async fn session_delete_expired(&self, now: Millis) -> Result<u64>;
    async fn session_count_active(&self, now: Millis) -> Result<i64>;

    // --- settings ----------------------------------------------------------
    async fn settings_all(&self) -> Result<Vec<(String, String)>>;
    async fn setting_set(&self, key: &str, value: &str, by: Option<&str>) -> Result<()>;

    // --- per-user preferences ---------------------------------------------------
    async fn preference(&self, user_id: &str, key: &str) -> Result<Option<String>>;
    async fn preference_set(&self, user_id: &str, key: &str, value: &str) -> Result<()>;

    // --- trusted package keys -------------------------------------------------
    async fn trusted_keys(&self) -> Result<Vec<TrustedKeyRow>>;
    /// `Conflict` if the key id or the public key is already trusted.
    async fn trusted_key_add(&self, key: &TrustedKeyRow) -> Result<TrustedKeyRow>;
    async fn trusted_key_remove(&self, key_id: &str) -> Result<bool>;

    // --- project API keys (MagGate) -------------------------------------------
    /// Stores a new key (its hash, never the key); `Conflict` if the id or the
    /// hash exists.
    async fn api_key_add(&self, key: &ApiKeyRow) -> Result<ApiKeyRow>;
    /// The key with this SHA-256 (hex), revoked or not.
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRow>>;
    /// Keys of one project (or all), oldest first; never personal tokens.
    async fn api_keys(&self, project: Option<&str>) -> Result<Vec<ApiKeyRow>>;
    /// Personal access tokens of one user (or all), oldest first.
    async fn personal_tokens(&self, user_id: Option<&str>) -> Result<Vec<ApiKeyRow>>;
    /// Revokes a key at `at`; `false` if it was unknown or already revoked.
    async fn api_key_revoke(&self, id: &str, at: Millis) -> Result<bool>;
    /// Records that the key was used at `at`.
    async fn api_key_touch(&self, id: &str, at: Millis) -> Result<()>;

    // --- audit -------------------------------------------------------------
    /// Appends an entry to the chain; returns it with its sequence number and hash.
    async fn audit_append(&self, entry: NewAuditEntry) -> Result<AuditEntry>;
    /// Appends entries in order, in one transaction: all or none.
    async fn audit_append_batch(&self, entries: Vec<NewAuditEntry>) -> Result<Vec<AuditEntry>>;
    /// Entries matching `filter`, newest first.
    async fn audit_list(&self, filter: &AuditFilter) -> Result<AuditPage>;
    /// Walks the whole chain from the first entry and reports the first broken link.
    async fn audit_verify(&self) -> Result<ChainReport>;
}
