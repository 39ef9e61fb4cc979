//! The approvals queue from MagUI: listing capability requests and deciding
//! one.
//!
//! Guarantees: reading needs any role, deciding needs an admin or owner
//! (checked first; an auditor is refused and the refusal audited). A
//! decision goes through the lifecycle manager as the calling user, which
//! takes it once, grants only capabilities (and hosts) the plan requests,
//! audits it with the comment, and carries an approval out at once; the
//! answer reports each extension of the plan as it is afterwards. A subset is
//! named per extension (`<extension>#<capability>`), so approving one
//! extension's capability never grants it to another of the same plan.

use super::console::{console, lifecycle_error};
use super::guard::{ctx, require};
use super::marketplace::{acting, capability_info, signature_badge};
use crate::AppError;
use crate::api::approvals::{
    ApprovalQueue, ApprovalRequest, DecisionKind, DecisionResult, ExtensionOutcome, GrantedView,
    PlanCapabilityView, PlanItemView, RequestState,
};
use magflock_kernel::lifecycle_store::{CapabilityRequest, RequestStatus};
use magflock_kernel::{Capability, Grant};
use magflock_lifecycle::{Decision, Lifecycle, Plan};
use magflock_types::Role;
use std::collections::{BTreeMap, HashMap};

/// Decided requests shown (newest first); the audit log keeps every one.
pub const HISTORY_LIMIT: usize = 100;
const MAX_COMMENT_CHARS: usize = 2000;

fn state(status: RequestStatus) -> RequestState {
    match status {
        RequestStatus::Pending => RequestState::Pending,
        RequestStatus::Approved => RequestState::Approved,
        RequestStatus::Denied => RequestState::Denied,
        RequestStatus::Failed => RequestState::Failed,
        RequestStatus::Completed => RequestState::Completed,
    }
}

/// Email (or a note) per user id, looked up once per answer.
#[derive(Default)]
struct People(HashMap<String, String>);

impl People {
    async fn label(&mut self, id: Option<&str>) -> Result<Option<String>, AppError> {
        let Some(id) = id else {
            return Ok(None);
        };
        if let Some(known) = self.0.get(id) {
            return Ok(Some(known.clone()));
        }
        let label = match ctx()?.store.user_by_id(id).await? {
            Some(user) => user.email,
            None => format!("a deleted account ({id})"),
        };
        self.0.insert(id.to_string(), label.clone());
        Ok(Some(label))
    }
}

fn granted_text(grant: &Grant) -> String {
    if grant.hosts.is_empty() {
        grant.capability.as_str().to_string()
    } else {
        format!("{} ({})", grant.capability.as_str(), grant.hosts.join(", "))
    }
}

async fn view(
    request: &CapabilityRequest,
    lifecycle: &Lifecycle,
    people: &mut People,
) -> Result<ApprovalRequest, AppError> {
    let plan: Option<Plan> = serde_json::from_str(&request.plan).ok();
    let mut items = Vec::new();
    for item in plan.iter().flat_map(|p| p.items.iter()) {
        let granted_now = if item.action == "upgrade" && request.status == RequestStatus::Pending {
            lifecycle
                .extension(&item.extension)
                .await
                .map(|e| e.granted)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        items.push(PlanItemView {
            extension: item.extension.clone(),
            name: item.name.clone(),
            version: item.version.clone(),
            action: item.action.clone(),
            from_version: item.from_version.clone(),
            signature: signature_badge(Some(&item.signature_level), item.key_id.is_some()),
            key_id: item.key_id.clone(),
            required_by: item.required_by.clone(),
            capabilities: item
                .capabilities
                .iter()
                .map(|c| PlanCapabilityView {
                    info: capability_info(&c.name, &c.justification, &c.hosts),
                    new: item.action == "upgrade" && c.new,
                })
                .collect(),
            removed_capabilities: item
                .removed_capabilities
                .iter()
                .map(|name| capability_info(name, "", &[]))
                .collect(),
            granted_now,
        });
    }
    let granted = request
        .decision
        .as_deref()
        .and_then(|d| serde_json::from_str::<BTreeMap<String, Vec<Grant>>>(d).ok())
        .map(|map| {
            map.into_iter()
                .map(|(extension, grants)| GrantedView {
                    extension,
                    capabilities: grants.iter().map(granted_text).collect(),
                })
                .collect()
        });
    Ok(ApprovalRequest {
        id: request.id.clone(),
        kind: request.kind.clone(),
        extension: request.extension.clone(),
        state: state(request.status),
        requested_by: people.label(request.requested_by.as_deref()).await?,
        requested_at: request.requested_at,
        decided_by: people.label(request.decided_by.as_deref()).await?,
        decided_at: request.decided_at,
        comment: request.comment.clone(),
        enable: plan.as_ref().is_some_and(|p| p.enable),
        items,
        granted,
    })
}

pub async fn queue() -> Result<ApprovalQueue, AppError> {
    require(Role::Auditor).await?;
    let console = console()?;
    let lifecycle = &console.lifecycle;
    let mut requests = lifecycle.requests(None).await.map_err(lifecycle_error)?;
    let (mut pending, mut decided): (Vec<_>, Vec<_>) = requests
        .drain(..)
        .partition(|r| r.status == RequestStatus::Pending);
    pending.sort_by_key(|r| r.requested_at);
    decided.sort_by_key(|r| std::cmp::Reverse(r.decided_at.unwrap_or(r.requested_at)));
    decided.truncate(HISTORY_LIMIT);
    let mut people = People::default();
    let mut queue = ApprovalQueue {
        pending: Vec::new(),
        history: Vec::new(),
    };
    for request in &pending {
        queue
            .pending
            .push(view(request, lifecycle, &mut people).await?);
    }
    for request in &decided {
        queue
            .history
            .push(view(request, lifecycle, &mut people).await?);
    }
    Ok(queue)
}

/// The grants of "approve selected": each `<extension>#<capability>` must
/// name a capability that extension of the plan requests; it is granted
/// with the hosts requested. Every extension of the plan gets an entry
/// (possibly empty: nothing granted to it).
pub fn selected_grants(
    plan: &Plan,
    chosen: &[String],
) -> Result<BTreeMap<String, Vec<Grant>>, AppError> {
    let mut grants: BTreeMap<String, Vec<Grant>> = plan
        .items
        .iter()
        .map(|i| (i.extension.clone(), Vec::new()))
        .collect();
    for value in chosen {
        let not_requested = || {
            AppError::invalid(
                "grants",
                format!("'{value}' is not a capability this request asks for."),
            )
        };
        let (extension, name) = value.split_once('#').ok_or_else(not_requested)?;
        let item = plan
            .items
            .iter()
            .find(|i| i.extension == extension)
            .ok_or_else(not_requested)?;
        let asked = item
            .capabilities
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(not_requested)?;
        let capability: Capability = name.parse().map_err(|_| not_requested())?;
        let list = grants.entry(extension.to_string()).or_default();
        if !list.iter().any(|g| g.capability == capability) {
            list.push(Grant {
                capability,
                hosts: asked.hosts.clone(),
            });
        }
    }
    Ok(grants)
}

pub async fn decide(
    request_id: String,
    decision: DecisionKind,
    grants: Vec<String>,
    comment: Option<String>,
) -> Result<DecisionResult, AppError> {
    let caller = require(Role::Admin).await?;
    let request_id = request_id.trim().to_string();
    let comment = comment
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        return Err(AppError::invalid(
            "comment",
            format!("Keep the comment to at most {MAX_COMMENT_CHARS} characters."),
        ));
    }
    let console = console()?;
    let lifecycle = &console.lifecycle;
    let decision = match decision {
        DecisionKind::Deny => Decision::Deny { comment },
        DecisionKind::Approve => Decision::Approve {
            grants: None,
            comment,
        },
        DecisionKind::ApproveSelected => {
            let request = lifecycle
                .requests(None)
                .await
                .map_err(lifecycle_error)?
                .into_iter()
                .find(|r| r.id == request_id)
                .ok_or_else(|| {
                    lifecycle_error(magflock_lifecycle::LifecycleError::UnknownRequest(
                        request_id.clone(),
                    ))
                })?;
            let plan: Plan = serde_json::from_str(&request.plan).map_err(AppError::internal)?;
            Decision::Approve {
                grants: Some(selected_grants(&plan, &grants)?),
                comment,
            }
        }
    };
    let decided = lifecycle
        .decide(&request_id, decision, &acting(&caller))
        .await
        .map_err(lifecycle_error)?;
    let mut extensions = Vec::new();
    if decided.status != RequestStatus::Denied
        && let Ok(plan) = serde_json::from_str::<Plan>(&decided.plan)
    {
        for item in &plan.items {
            if let Ok(now) = lifecycle.extension(&item.extension).await {
                extensions.push(ExtensionOutcome {
                    id: now.id,
                    version: now.version,
                    state: serde_json::to_value(&now.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    reason: now.reason,
                    granted: now.granted,
                });
            }
        }
    }
    let mut people = People::default();
    Ok(DecisionResult {
        request: view(&decided, lifecycle, &mut people).await?,
        extensions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use magflock_lifecycle::{PlanCapability, PlanItem};

    fn item(extension: &str, capabilities: &[(&str, &[&str])]) -> PlanItem {
        PlanItem {
            extension: extension.into(),
            name: extension.into(),
            version: "1.0.0".into(),
            action: "install".into(),
            from_version: None,
            signature_level: "first_party".into(),
            key_id: Some("k".into()),
            digest: "d".into(),
            capabilities: capabilities
                .iter()
                .map(|(name, hosts)| PlanCapability {
                    name: name.to_string(),
                    justification: String::new(),
                    hosts: hosts.iter().map(|h| h.to_string()).collect(),
                    risk: "low".into(),
                    new: false,
                })
                .collect(),
            removed_capabilities: Vec::new(),
            required_by: Vec::new(),
        }
    }

    #[test]
    fn a_subset_is_granted_per_extension_with_the_requested_hosts() {
        let plan = Plan {
            items: vec![
                item("acme/base", &[("database.read", &[])]),
                item(
                    "acme/relay",
                    &[
                        ("database.read", &[]),
                        ("network.outbound", &["hooks.example.com"]),
                    ],
                ),
            ],
            enable: true,
        };
        let grants = selected_grants(
            &plan,
            &[
                "acme/relay#network.outbound".into(),
                "acme/relay#network.outbound".into(),
            ],
        )
        .unwrap();
        assert_eq!(grants["acme/base"], Vec::<Grant>::new());
        assert_eq!(
            grants["acme/relay"],
            vec![Grant {
                capability: Capability::NetworkOutbound,
                hosts: vec!["hooks.example.com".into()],
            }]
        );
        for wrong in [
            "acme/base#network.outbound",
            "acme/other#database.read",
            "database.read",
        ] {
            let err = selected_grants(&plan, &[wrong.to_string()]).unwrap_err();
            assert_eq!(err.field(), Some("grants"), "{wrong}");
        }
    }
}
