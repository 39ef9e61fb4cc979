//! The audit hash chain: how an entry's hash is computed.
//!
//! Guarantees: the hash covers every stored field of the entry and the previous
//! entry's hash, in a fixed order, so changing, removing or reordering any entry
//! breaks the link at that entry or the next one.

use magflock_types::AuditEntry;
use sha2::{Digest, Sha256};

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 (hex) of the entry's fields and its `prev_hash`; ignores `entry.hash`.
pub fn entry_hash(entry: &AuditEntry) -> String {
    let fields = serde_json::json!([
        entry.seq,
        entry.at,
        entry.actor_kind.as_str(),
        entry.actor_id,
        entry.actor_label,
        entry.action,
        entry.target,
        entry.outcome.as_str(),
        entry.detail,
        entry.ip,
        entry.prev_hash,
    ]);
    hex::encode(Sha256::digest(fields.to_string().as_bytes()))
}
