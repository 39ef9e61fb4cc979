//! The Audit Log page: filtered, paginated entries and chain verification.

use crate::AppError;
use leptos::prelude::*;
use magflock_types::{AuditFilter, AuditPage, ChainReport};

#[server(endpoint = "audit_entries")]
pub async fn audit_entries(filter: AuditFilter) -> Result<AuditPage, AppError> {
    crate::server::respond(crate::server::audit::page(filter).await)
}

#[server(endpoint = "verify_audit_chain")]
pub async fn verify_audit_chain() -> Result<ChainReport, AppError> {
    crate::server::respond(crate::server::audit::verify().await)
}
