//! Audit log entries, filters and the chain verification report.
//!
//! An entry's `hash` is SHA-256 over the previous entry's hash and this entry's
//! fields (computed by the store); the chain is what makes the log tamper-evident.

use crate::Millis;
use serde::{Deserialize, Serialize};

/// Who did it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    User,
    Extension,
    System,
    /// Someone not signed in (e.g. a failed sign-in).
    Anonymous,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Extension => "extension",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => ActorKind::User,
            "extension" => ActorKind::Extension,
            "system" => ActorKind::System,
            "anonymous" => ActorKind::Anonymous,
            _ => return None,
        })
    }
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure,
            "denied" => Outcome::Denied,
            _ => return None,
        })
    }
}

/// An entry to append. `actor_id` is the user or extension id; `actor_label` is
/// what a person reads (an email, an extension name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub actor_label: String,
    /// Dotted verb, e.g. `auth.login`, `user.role_changed`, `settings.updated`.
    pub action: String,
    /// What the action was done to, e.g. a user's email.
    pub target: Option<String>,
    pub outcome: Outcome,
    /// Extra facts as a JSON object (never secrets).
    pub detail: String,
    pub ip: Option<String>,
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Millis,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub actor_label: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: Outcome,
    pub detail: String,
    pub ip: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// Which entries to list. Empty fields match everything; text matches are
/// case-insensitive substrings (actor) or prefixes (action, e.g. `user.`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Entries by or about this extension (its id as the actor or the target).
    #[serde(default)]
    pub extension: Option<String>,
    /// Entries about this capability (the target of a host call, or named in
    /// the detail of a grant or revoke).
    #[serde(default)]
    pub capability: Option<String>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Free text, matched case-insensitively in the action, actor, target and detail.
    #[serde(default)]
    pub search: Option<String>,
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    /// Entries with a sequence number below this (for paging backwards, newest first).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// One page of entries, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before_seq` to get the next (older) page; `None` on the last page.
    pub next_before_seq: Option<i64>,
    pub total_matching: i64,
}

/// Result of walking the hash chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    pub entries_checked: i64,
    /// The first entry whose hash or link does not match, with why.
    pub first_broken: Option<BrokenLink>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.first_broken.is_none()
    }
}
