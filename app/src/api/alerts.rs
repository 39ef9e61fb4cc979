//! Alerts: what the lifecycle manager raised for an admin to look at (an
//! extension disabled by the health monitor or quarantined by the sandbox, an
//! enable or start that failed, an upgrade that was rolled back). Shown on the
//! Dashboard and counted in the header; owners and admins acknowledge them.

use crate::AppError;
use leptos::prelude::*;
use magflock_types::Millis;
use serde::{Deserialize, Serialize};

/// One alert as MagUI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertInfo {
    pub id: i64,
    /// The extension it is about.
    pub extension: String,
    /// What happened, as the lifecycle manager names it (`auto_disabled`,
    /// `quarantined`, …); [`kind_label`] says it for a person.
    pub kind: String,
    pub message: String,
    pub raised_at: Millis,
    /// The email of whoever acknowledged it; `None` while it is open.
    pub acknowledged_by: Option<String>,
}

impl AlertInfo {
    pub fn kind_label(&self) -> String {
        kind_label(&self.kind)
    }

    /// Whether the extension was stopped (it serves nothing until an admin acts).
    pub fn stopped_extension(&self) -> bool {
        matches!(self.kind.as_str(), "auto_disabled" | "quarantined")
    }
}

/// A readable label for an alert kind; a kind this version does not know is
/// shown as its words (`some_new_kind` → "Some new kind").
pub fn kind_label(kind: &str) -> String {
    let known = match kind {
        "auto_disabled" => "Disabled automatically",
        "quarantined" => "Quarantined",
        "enable_failed" => "Enable failed",
        "upgrade_rolled_back" => "Upgrade rolled back",
        "start_failed" => "Did not start",
        "load_failed" => "Could not be loaded",
        "health_check_failed" => "Health check failed",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let words = kind.replace(['_', '.', '-'], " ");
    let words = words.trim();
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Alert".to_string(),
    }
}

/// Newest first; only the unacknowledged ones unless `all`.
#[server(endpoint = "list_alerts", output = crate::api::codec::Json)]
pub async fn list_alerts(all: bool) -> Result<Vec<AlertInfo>, AppError> {
    crate::server::respond(crate::server::alerts::list(all).await)
}

/// Marks the open alert `id` as looked at; returns it, acknowledged by the caller.
#[server(endpoint = "acknowledge_alert", output = crate::api::codec::Json)]
pub async fn acknowledge_alert(id: i64) -> Result<AlertInfo, AppError> {
    crate::server::respond(crate::server::alerts::acknowledge(id).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_readable_label() {
        assert_eq!(kind_label("auto_disabled"), "Disabled automatically");
        assert_eq!(kind_label("quarantined"), "Quarantined");
        assert_eq!(kind_label("enable_failed"), "Enable failed");
        assert_eq!(kind_label("upgrade_rolled_back"), "Upgrade rolled back");
        assert_eq!(kind_label("start_failed"), "Did not start");
        assert_eq!(kind_label("load_failed"), "Could not be loaded");
        assert_eq!(kind_label("disk_nearly_full"), "Disk nearly full");
        assert_eq!(kind_label(""), "Alert");
    }
}
