//! Alerts from MagUI: listing what the lifecycle manager raised, and
//! acknowledging it.
//!
//! Guarantees: anyone signed in may read alerts; only owners and admins
//! acknowledge, each acknowledgement is recorded (by email) on the alert and
//! audited as `extension.alert_acknowledged` with the extension as target and
//! the alert's id and kind as detail; an alert is acknowledged at most once
//! (the store's update only touches an open alert), so of two admins racing,
//! the second is told it is gone.

use super::audit::record;
use super::guard::{ctx, require};
use crate::AppError;
use crate::api::alerts::AlertInfo;
use magflock_kernel::lifecycle_store::Alert;
use magflock_types::{Outcome, Role};

fn info(alert: Alert) -> AlertInfo {
    AlertInfo {
        id: alert.id,
        extension: alert.extension,
        kind: alert.kind,
        message: alert.message,
        raised_at: alert.raised_at,
        acknowledged_by: alert.acknowledged_by,
    }
}

pub async fn list(all: bool) -> Result<Vec<AlertInfo>, AppError> {
    require(Role::Auditor).await?;
    Ok(ctx()?
        .lifecycle
        .alerts(all)
        .await?
        .into_iter()
        .map(info)
        .collect())
}

pub async fn acknowledge(id: i64) -> Result<AlertInfo, AppError> {
    let caller = require(Role::Admin).await?;
    let ctx = ctx()?;
    let gone = || {
        AppError::NotFound(format!(
            "Alert {id} is not open (it does not exist or was already acknowledged)."
        ))
    };
    let alert = ctx
        .lifecycle
        .alerts(false)
        .await?
        .into_iter()
        .find(|alert| alert.id == id)
        .ok_or_else(gone)?;
    if !ctx
        .lifecycle
        .alert_acknowledge(id, &caller.user.email)
        .await?
    {
        return Err(gone());
    }
    record(
        &caller.actor(),
        "extension.alert_acknowledged",
        Some(&alert.extension),
        Outcome::Success,
        serde_json::json!({"alert_id": alert.id, "kind": alert.kind}),
    )
    .await?;
    Ok(AlertInfo {
        acknowledged_by: Some(caller.user.email),
        ..info(alert)
    })
}
