//! The numbers on the Dashboard.

use super::guard::{ctx, require};
use crate::AppError;
use crate::api::dashboard::InstanceSummary;
use magflock_store::now_millis;
use magflock_types::{AuditFilter, Role};

pub async fn summary() -> Result<InstanceSummary, AppError> {
    require(Role::Auditor).await?;
    let ctx = ctx()?;
    let users = ctx.store.list_users().await?;
    let recent = ctx
        .store
        .audit_list(&AuditFilter {
            limit: 8,
            ..Default::default()
        })
        .await?;
    Ok(InstanceSummary {
        users_total: users.len() as i64,
        users_active: users.iter().filter(|u| u.is_active()).count() as i64,
        sessions_active: ctx.store.session_count_active(now_millis()).await?,
        store_engine: ctx.store.engine().name().to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: (now_millis() - ctx.started_at) / 1000,
        audit_entries: recent.total_matching,
        recent_activity: recent.entries,
    })
}
