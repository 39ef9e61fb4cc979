//! The Dashboard's summary of the instance.

use crate::AppError;
use leptos::prelude::*;
use magflock_types::AuditEntry;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSummary {
    pub users_total: i64,
    pub users_active: i64,
    pub sessions_active: i64,
    pub store_engine: String,
    pub version: String,
    pub uptime_secs: i64,
    pub recent_activity: Vec<AuditEntry>,
    pub audit_entries: i64,
}

#[server(endpoint = "dashboard_summary", output = crate::api::codec::Json)]
pub async fn dashboard_summary() -> Result<InstanceSummary, AppError> {
    crate::server::respond(crate::server::dashboard::summary().await)
}
