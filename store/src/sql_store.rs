//! [`SqlStore`]: the [`Store`] implementation for both engines.
//!
//! All queries are written once in portable SQL (text, 64-bit integers,
//! `$n` parameters, always bound); the few places where SQLite and PostgreSQL
//! differ (migrations, the audit append lock) branch on [`Engine`].

use crate::api_keys::{self, ApiKeyRow};
use crate::store::{SessionRow, Store};
use crate::trusted_keys::{self, TrustedKeyRow};
use crate::{Engine, Result, audit, connect, preferences, sessions, settings, users};
use async_trait::async_trait;
use magflock_types::{
    AuditEntry, AuditFilter, AuditPage, ChainReport, Millis, NewAuditEntry, NewUser, Role, User,
};
use sqlx::AnyPool;

pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) engine: Engine,
    /// Serialises audit appends within this process (the chain needs the previous
    /// hash); PostgreSQL additionally takes an advisory lock for other processes.
    pub(crate) audit_lock: tokio::sync::Mutex<()>,
    /// Extension key-value reads reused for a moment (see `extension_kv`).
    pub(crate) kv_reuse: crate::extension_kv::KvReuse,
}

impl SqlStore {
    /// Connects to `url` (`sqlite://...` or `postgres://...`) and migrates.
    pub async fn open(url: &str) -> Result<SqlStore> {
        let (pool, engine) = connect::open(url, 8).await?;
        Ok(SqlStore {
            pool,
            engine,
            audit_lock: tokio::sync::Mutex::new(()),
            kv_reuse: Default::default(),
        })
    }

    /// Direct pool access, for tests that must bypass the product (e.g. to tamper).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for SqlStore {
    fn engine(&self) -> Engine {
        self.engine
    }
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn user_count(&self) -> Result<i64> {
        users::count(&self.pool).await
    }
    async fn create_first_owner(&self, user: NewUser) -> Result<User> {
        users::create_first_owner(&self.pool, user).await
    }
    async fn create_user(&self, user: NewUser) -> Result<User> {
        users::create(&self.pool, user).await
    }
    async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        users::by_id(&self.pool, id).await
    }
    async fn user_with_hash_by_email(&self, email: &str) -> Result<Option<(User, String)>> {
        users::with_hash_by_email(&self.pool, email).await
    }
    async fn list_users(&self) -> Result<Vec<User>> {
        users::list(&self.pool).await
    }
    async fn set_user_role(&self, id: &str, role: Role) -> Result<User> {
        users::set_role(&self.pool, id, role).await
    }
    async fn set_user_disabled(&self, id: &str, disabled_at: Option<Millis>) -> Result<User> {
        users::set_disabled(&self.pool, id, disabled_at).await
    }
    async fn set_password_hash(&self, id: &str, hash: &str) -> Result<()> {
        users::set_password_hash(&self.pool, id, hash).await
    }
    async fn record_login(&self, id: &str, at: Millis) -> Result<()> {
        users::record_login(&self.pool, id, at).await
    }
    async fn identity_user(&self, issuer: &str, subject: &str) -> Result<Option<String>> {
        users::identity_user(&self.pool, issuer, subject).await
    }
    async fn identity_link(
        &self,
        issuer: &str,
        subject: &str,
        user_id: &str,
        email: Option<&str>,
    ) -> Result<()> {
        users::identity_link(&self.pool, issuer, subject, user_id, email).await
    }

    async fn session_load(&self, id: &str, now: Millis) -> Result<Option<SessionRow>> {
        sessions::load(&self.pool, id, now).await
    }
    async fn session_save(&self, row: SessionRow) -> Result<()> {
        sessions::save(&self.pool, row).await
    }
    async fn session_create(&self, row: SessionRow) -> Result<()> {
        sessions::create(&self.pool, row).await
    }
    async fn session_delete(&self, id: &str) -> Result<()> {
        sessions::delete(&self.pool, id).await
    }
    async fn session_delete_expired(&self, now: Millis) -> Result<u64> {
        sessions::delete_expired(&self.pool, now).await
    }
    async fn session_count_active(&self, now: Millis) -> Result<i64> {
        sessions::count_active(&self.pool, now).await
    }

    async fn settings_all(&self) -> Result<Vec<(String, String)>> {
        settings::all(&self.pool).await
    }
    async fn setting_set(&self, key: &str, value: &str, by: Option<&str>) -> Result<()> {
        settings::set(&self.pool, key, value, by).await
    }
    async fn preference(&self, user_id: &str, key: &str) -> Result<Option<String>> {
        preferences::get(&self.pool, user_id, key).await
    }
    async fn preference_set(&self, user_id: &str, key: &str, value: &str) -> Result<()> {
        preferences::set(&self.pool, user_id, key, value).await
    }

    async fn audit_append(&self, entry: NewAuditEntry) -> Result<AuditEntry> {
        let _guard = self.audit_lock.lock().await;
        audit::append(&self.pool, self.engine, entry).await
    }
    async fn trusted_keys(&self) -> Result<Vec<TrustedKeyRow>> {
        trusted_keys::list(&self.pool).await
    }
    async fn trusted_key_add(&self, key: &TrustedKeyRow) -> Result<TrustedKeyRow> {
        trusted_keys::add(&self.pool, key).await
    }
    async fn trusted_key_remove(&self, key_id: &str) -> Result<bool> {
        trusted_keys::remove(&self.pool, key_id).await
    }
    async fn api_key_add(&self, key: &ApiKeyRow) -> Result<ApiKeyRow> {
        api_keys::add(&self.pool, key).await
    }
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRow>> {
        api_keys::by_hash(&self.pool, key_hash).await
    }
    async fn api_keys(&self, project: Option<&str>) -> Result<Vec<ApiKeyRow>> {
        api_keys::list(&self.pool, project).await
    }
    async fn personal_tokens(&self, user_id: Option<&str>) -> Result<Vec<ApiKeyRow>> {
        api_keys::personal(&self.pool, user_id).await
    }
    async fn api_key_revoke(&self, id: &str, at: Millis) -> Result<bool> {
        api_keys::revoke(&self.pool, id, at).await
    }
    async fn api_key_touch(&self, id: &str, at: Millis) -> Result<()> {
        api_keys::touch(&self.pool, id, at).await
    }
    async fn audit_append_batch(&self, entries: Vec<NewAuditEntry>) -> Result<Vec<AuditEntry>> {
        let _guard = self.audit_lock.lock().await;
        audit::append_batch(&self.pool, self.engine, entries).await
    }
    async fn audit_list(&self, filter: &AuditFilter) -> Result<AuditPage> {
        audit::list(&self.pool, filter).await
    }
    async fn audit_verify(&self) -> Result<ChainReport> {
        audit::verify(&self.pool).await
    }
}
