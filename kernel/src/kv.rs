//! The per-extension key-value store's storage contract.
//!
//! Guarantees: keys are scoped by extension id (one extension can never read
//! or change another's); a `set` is durable when it returns.

use async_trait::async_trait;

use crate::KernelError;

#[async_trait]
pub trait KeyValueStore: Send + Sync {
    async fn kv_get(&self, extension: &str, key: &str) -> Result<Option<Vec<u8>>, KernelError>;
    async fn kv_set(&self, extension: &str, key: &str, value: &[u8]) -> Result<(), KernelError>;
    async fn kv_delete(&self, extension: &str, key: &str) -> Result<(), KernelError>;
    /// Keys starting with `prefix`, sorted.
    async fn kv_keys(&self, extension: &str, prefix: &str) -> Result<Vec<String>, KernelError>;
    /// Removes everything the extension stored (at uninstall).
    async fn kv_clear(&self, extension: &str) -> Result<u64, KernelError>;
}
