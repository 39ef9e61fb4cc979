//! The storage contracts of the lifecycle manager: installed extensions, the
//! operation journal, the approvals queue, monitor alerts, catalog sources, and
//! each extension's own database area where its migrations run.
//!
//! Guarantees (every implementation): each method is atomic: it changes all it
//! says or nothing; a journal step is durable when `journal_step` returns, so a
//! process killed right after it finds the step on the next start; a capability
//! request is decided at most once (`decide_request` refuses a request that is
//! no longer pending); an extension's migration and the record that it was
//! applied commit together, in the extension's own schema (PostgreSQL, owned by
//! a role of its own) or its own database file (SQLite), never in the
//! control-plane tables.

use async_trait::async_trait;

use crate::KernelError;

/// One installed extension: the version that serves, and the previous one
/// kept for a rollback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installation {
    pub extension: String,
    pub version: String,
    /// Hex SHA-256 of the signed statement of the installed package.
    pub digest: String,
    /// `first_party`, `verified_publisher` or `unsigned`.
    pub signature_level: String,
    pub key_id: Option<String>,
    /// The extension's configuration (a JSON object), handed to `init`.
    pub config: String,
    pub installed_by: Option<String>,
    pub installed_at: i64,
    pub updated_at: i64,
    /// The version replaced by the last upgrade, while it is kept.
    pub previous_version: Option<String>,
    /// Until when (millis since the epoch) the previous version is kept.
    pub previous_until: Option<i64>,
}

/// An unfinished lifecycle operation. Entries are removed when the operation
/// finishes or is rolled back; the audit log keeps the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    pub id: String,
    pub extension: String,
    /// `install`, `enable`, `disable`, `upgrade`, `rollback`, `uninstall`.
    pub operation: String,
    /// The last step begun (written before the step's effects).
    pub step: String,
    /// Operation data the recovery needs (JSON object).
    pub data: String,
    pub started_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Approved,
    Denied,
    /// Its plan could not be carried out after approval (the reason is kept).
    Failed,
    Completed,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Failed => "failed",
            RequestStatus::Completed => "completed",
        }
    }
    pub fn parse(text: &str) -> Option<RequestStatus> {
        [
            RequestStatus::Pending,
            RequestStatus::Approved,
            RequestStatus::Denied,
            RequestStatus::Failed,
            RequestStatus::Completed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A capability request in the approvals queue: an install plan or an upgrade
/// waiting for an admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapabilityRequest {
    pub id: String,
    /// `install` or `upgrade`.
    pub kind: String,
    /// The extension the admin asked for (the plan may hold its dependencies).
    pub extension: String,
    /// The plan (JSON): what will be installed, in order, and what each asks.
    pub plan: String,
    pub requested_by: Option<String>,
    pub requested_at: i64,
    pub status: RequestStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub comment: Option<String>,
    /// What was granted (JSON), once approved.
    pub decision: Option<String>,
}

/// Something the health monitor raised for an admin to look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub id: i64,
    pub extension: String,
    /// e.g. `health_check_failed`, `auto_disabled`, `enable_failed`.
    pub kind: String,
    pub message: String,
    pub raised_at: i64,
    pub acknowledged_by: Option<String>,
}

/// An HTTP catalog an admin added (the local catalog is configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogSource {
    pub url: String,
    pub added_by: Option<String>,
    pub added_at: i64,
}

#[async_trait]
pub trait LifecycleStore: Send + Sync {
    async fn installations(&self) -> Result<Vec<Installation>, KernelError>;
    async fn installation(&self, extension: &str) -> Result<Option<Installation>, KernelError>;
    /// Inserts or replaces the row of `installation.extension`.
    async fn save_installation(&self, installation: &Installation) -> Result<(), KernelError>;
    async fn delete_installation(&self, extension: &str) -> Result<(), KernelError>;

    async fn journal_begin(&self, entry: &JournalEntry) -> Result<(), KernelError>;
    /// Records the step about to begin (and the operation's data so far).
    async fn journal_step(&self, id: &str, step: &str, data: &str) -> Result<(), KernelError>;
    async fn journal_finish(&self, id: &str) -> Result<(), KernelError>;
    /// Unfinished operations, oldest first.
    async fn journal_open(&self) -> Result<Vec<JournalEntry>, KernelError>;

    async fn request_add(&self, request: &CapabilityRequest) -> Result<(), KernelError>;
    async fn request(&self, id: &str) -> Result<Option<CapabilityRequest>, KernelError>;
    /// Newest first; `status` filters when given.
    async fn requests(
        &self,
        status: Option<RequestStatus>,
    ) -> Result<Vec<CapabilityRequest>, KernelError>;
    /// Moves a pending request to `status`; returns false (and changes
    /// nothing) if it is not pending any more.
    async fn decide_request(
        &self,
        id: &str,
        status: RequestStatus,
        decided_by: Option<&str>,
        comment: Option<&str>,
        decision: Option<&str>,
    ) -> Result<bool, KernelError>;
    /// Moves an approved request to `completed` or `failed` (with the reason
    /// as its comment when it failed).
    async fn finish_request(
        &self,
        id: &str,
        status: RequestStatus,
        reason: Option<&str>,
    ) -> Result<(), KernelError>;

    /// Stores an alert and returns its id.
    async fn alert_raise(
        &self,
        extension: &str,
        kind: &str,
        message: &str,
    ) -> Result<i64, KernelError>;
    /// Newest first; only unacknowledged ones unless `all`.
    async fn alerts(&self, all: bool) -> Result<Vec<Alert>, KernelError>;
    async fn alert_acknowledge(&self, id: i64, by: &str) -> Result<bool, KernelError>;

    async fn catalog_sources(&self) -> Result<Vec<CatalogSource>, KernelError>;
    /// Returns false if the URL is already a source.
    async fn catalog_source_add(&self, url: &str, by: Option<&str>) -> Result<bool, KernelError>;
    async fn catalog_source_remove(&self, url: &str) -> Result<bool, KernelError>;
}

/// A migration applied in an extension's own area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedMigration {
    pub name: String,
    /// Hex SHA-256 of the up script, to notice a package that changed one.
    pub checksum: String,
    /// The down script, kept so the migration can be reverted later.
    pub down: Option<String>,
    pub applied_at: i64,
}

/// Each extension's own database area (its schema on PostgreSQL, its own
/// file on SQLite).
#[async_trait]
pub trait ExtensionSchemas: Send + Sync {
    /// Where the extension's data lives, for messages (`schema "ext_acme_x"`).
    fn location(&self, extension: &str) -> String;
    /// Applied migrations in the order they were applied (empty when the area
    /// does not exist).
    async fn applied(&self, extension: &str) -> Result<Vec<AppliedMigration>, KernelError>;
    /// Creates the area if needed, runs `up` and records it, in one
    /// transaction. A failing script changes nothing; the error names the
    /// migration.
    async fn apply(
        &self,
        extension: &str,
        name: &str,
        up: &str,
        down: Option<&str>,
    ) -> Result<(), KernelError>;
    /// Runs the recorded down script of the last applied migration `name` and
    /// forgets it, in one transaction. Refused when it has no down script or
    /// is not the last applied.
    async fn revert(&self, extension: &str, name: &str) -> Result<(), KernelError>;
    /// Removes the extension's whole area (schema and role, or file).
    async fn drop_area(&self, extension: &str) -> Result<(), KernelError>;
}
