//! Typed payloads of the hooks, for [`crate::Hook::payload_as`]. Each struct
//! documents the JSON the platform sends for that hook; unknown fields are
//! ignored, so payloads can grow without breaking extensions.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `wrap_request` (MagGate filter, `api.intercept_request`): an API request
/// before it is routed. Return `Modify` with a changed copy to rewrite it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WrapRequest {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Set by filters that tag the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagged_by: Option<String>,
}

/// `before_migration` (MagDS filter, `database.schema`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BeforeMigration {
    pub project_id: String,
    pub migration: String,
    pub sql: String,
}

/// `health_check_report` (MagDS action, `system.metrics`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthCheckReport {
    #[serde(default)]
    pub component: String,
    #[serde(default)]
    pub healthy: bool,
}
