//! Approvals: the queue of capability requests (installs and upgrades) and
//! an admin's decision on one (approve all, a subset, or deny, with a comment).
//!
//! A decision on an approved plan is carried out at once by the lifecycle
//! manager (install, then enable when the request says so); its answer says
//! what each extension of the plan ended up as.

use super::Access;
use super::marketplace::{CapabilityInfo, SignatureBadge};
use crate::AppError;
use leptos::prelude::*;
use magflock_types::{Millis, Role};
use serde::{Deserialize, Serialize};

/// This module's server functions: (path, access).
pub const ENDPOINTS: &[(&str, Access)] = &[
    ("/api/list_approvals", Access::AtLeast(Role::Auditor)),
    ("/api/decide_approval", Access::AtLeast(Role::Admin)),
];

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for an owner or admin.
    Pending,
    /// Approved; the plan is being carried out.
    Approved,
    Denied,
    /// Approved, but the plan could not be carried out (the reason is kept).
    Failed,
    /// Approved and carried out.
    Completed,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Failed => "failed",
            RequestState::Completed => "completed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RequestState::Pending => "Waiting for approval",
            RequestState::Approved => "Approved, in progress",
            RequestState::Denied => "Denied",
            RequestState::Failed => "Approved, failed",
            RequestState::Completed => "Approved and done",
        }
    }
}

/// One capability of a plan item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCapabilityView {
    pub info: CapabilityInfo,
    /// For an upgrade: not granted today, so this approval decides it.
    pub new: bool,
}

/// One package of a plan, in the order the plan carries them out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItemView {
    pub extension: String,
    pub name: String,
    pub version: String,
    /// `install` or `upgrade`.
    pub action: String,
    pub from_version: Option<String>,
    pub signature: SignatureBadge,
    pub key_id: Option<String>,
    /// The extensions of the plan that need this one (empty: the one asked for).
    pub required_by: Vec<String>,
    pub capabilities: Vec<PlanCapabilityView>,
    /// For an upgrade: granted today and no longer requested (dropped).
    pub removed_capabilities: Vec<CapabilityInfo>,
    /// For an upgrade: what the installed version holds today.
    pub granted_now: Vec<String>,
}

/// What an approval granted one extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedView {
    pub extension: String,
    /// Capability names, each with its hosts when it has some
    /// (`network.outbound (a.example, b.example)`).
    pub capabilities: Vec<String>,
}

/// A capability request as the Approvals page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub id: String,
    /// `install` or `upgrade`.
    pub kind: String,
    /// The extension that was asked for (the plan may add its dependencies).
    pub extension: String,
    pub state: RequestState,
    /// Who asked (email, or a note when the account is gone).
    pub requested_by: Option<String>,
    pub requested_at: Millis,
    pub decided_by: Option<String>,
    pub decided_at: Option<Millis>,
    /// The decider's comment; for a failed request, why it failed.
    pub comment: Option<String>,
    /// Each installed extension is enabled once installed.
    pub enable: bool,
    pub items: Vec<PlanItemView>,
    /// What the approval granted, per extension of the plan.
    pub granted: Option<Vec<GrantedView>>,
}

impl ApprovalRequest {
    /// The anchor of this request on the Approvals page.
    pub fn anchor(&self) -> String {
        request_anchor(&self.id)
    }
}

/// The element id of request `id` on the Approvals page (`/approvals#<it>`).
pub fn request_anchor(id: &str) -> String {
    format!("request-{id}")
}

/// The queue: pending requests oldest first, then decided ones newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalQueue {
    pub pending: Vec<ApprovalRequest>,
    pub history: Vec<ApprovalRequest>,
}

/// What an admin decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Grant everything the plan requests.
    Approve,
    /// Grant only the capabilities ticked (`grants`).
    ApproveSelected,
    Deny,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Approve => "approve",
            DecisionKind::ApproveSelected => "approve_selected",
            DecisionKind::Deny => "deny",
        }
    }
}

/// The form value of one capability checkbox: `<extension>#<capability>`.
pub fn grant_value(extension: &str, capability: &str) -> String {
    format!("{extension}#{capability}")
}

/// An extension of the plan after the decision was carried out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionOutcome {
    pub id: String,
    pub version: String,
    /// `enabled`, `disabled` or `quarantined`.
    pub state: String,
    /// Why it is quarantined, if it is.
    pub reason: Option<String>,
    pub granted: Vec<String>,
}

impl ExtensionOutcome {
    pub fn href(&self) -> String {
        format!("/extensions/{}", self.id)
    }
}

/// The request after the decision, and its extensions as they are now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionResult {
    pub request: ApprovalRequest,
    pub extensions: Vec<ExtensionOutcome>,
}

#[server(endpoint = "list_approvals", output = crate::api::codec::Json)]
pub async fn list_approvals() -> Result<ApprovalQueue, AppError> {
    crate::server::respond(crate::server::approvals::queue().await)
}

/// Decides request `request_id`: `approve` grants everything it requests,
/// `approve_selected` only the capabilities in `grants` (each
/// [`grant_value`]), `deny` refuses it. `comment` is kept with the decision.
#[server(endpoint = "decide_approval", output = crate::api::codec::Json)]
pub async fn decide_approval(
    request_id: String,
    decision: DecisionKind,
    #[server(default)] grants: Vec<String>,
    #[server(default)] comment: Option<String>,
) -> Result<DecisionResult, AppError> {
    crate::server::respond(
        crate::server::approvals::decide(request_id, decision, grants, comment).await,
    )
}
