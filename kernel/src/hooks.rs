//! The hook map: every hook each platform component exposes (specification
//! section 2), whether it is a filter or an action, and the capability an
//! extension must hold to handle it.
//!
//! Guarantees: the map is complete and closed (a manifest naming any other hook
//! is refused); a filter runs before its action and may allow, deny or modify it;
//! an action is told afterwards. A filter that fails or misses its deadline is
//! audited and then, by default, *fails open* (the platform's own decision stands,
//! since filters can only narrow it); a manifest may declare `failure = "closed"`.
//! CLI hooks need no capability of their own: a command runs only when an admin
//! invokes it, and whatever it does is checked at each host call.

use crate::Capability;
use crate::Capability::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    MagDs,
    MagUi,
    MagCli,
    MagGate,
    MagWs,
    MagAuth,
}

impl Component {
    pub fn name(self) -> &'static str {
        match self {
            Component::MagDs => "magds",
            Component::MagUi => "magui",
            Component::MagCli => "magcli",
            Component::MagGate => "maggate",
            Component::MagWs => "magws",
            Component::MagAuth => "magauth",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    /// Runs before the action; may allow, deny (with a reason) or modify it.
    Filter,
    /// Told after the action (or, for `register_*`, asked for contributions).
    Action,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookSpec {
    pub name: &'static str,
    pub component: Component,
    pub kind: HookKind,
    pub capability: Option<Capability>,
}

const fn hook(
    name: &'static str,
    component: Component,
    kind: HookKind,
    capability: Option<Capability>,
) -> HookSpec {
    HookSpec {
        name,
        component,
        kind,
        capability,
    }
}

use Component::*;
use HookKind::*;

/// Every hook of the specification.
pub const HOOKS: &[HookSpec] = &[
    hook("before_db_create", MagDs, Filter, Some(DatabaseAdmin)),
    hook("after_db_create", MagDs, Action, Some(DatabaseAdmin)),
    hook(
        "on_extension_profile_select",
        MagDs,
        Filter,
        Some(DatabaseAdmin),
    ),
    hook("before_migration", MagDs, Filter, Some(DatabaseSchema)),
    hook("after_migration", MagDs, Action, Some(DatabaseSchema)),
    hook("on_rls_policy_create", MagDs, Filter, Some(DatabaseSchema)),
    hook("before_backup", MagDs, Filter, Some(DatabaseAdmin)),
    hook("after_restore", MagDs, Action, Some(DatabaseAdmin)),
    hook("on_pitr_checkpoint", MagDs, Action, Some(DatabaseAdmin)),
    hook("health_check_report", MagDs, Action, Some(SystemMetrics)),
    hook("register_widget", MagUi, Action, Some(UiRegisterWidget)),
    hook("register_panel", MagUi, Action, Some(UiRegisterPanel)),
    hook(
        "extend_schema_explorer",
        MagUi,
        Action,
        Some(UiModifySchema),
    ),
    hook("before_project_create", MagUi, Filter, Some(DatabaseAdmin)),
    hook("after_schema_change", MagUi, Action, Some(DatabaseRead)),
    hook("on_user_action", MagUi, Action, Some(AuthAuditAccess)),
    hook("register_command", MagCli, Action, None),
    hook("extend_help", MagCli, Action, None),
    hook("add_output_format", MagCli, Action, None),
    hook(
        "register_endpoint",
        MagGate,
        Action,
        Some(ApiRegisterEndpoint),
    ),
    hook("wrap_request", MagGate, Filter, Some(ApiInterceptRequest)),
    hook(
        "transform_response",
        MagGate,
        Filter,
        Some(ApiInterceptRequest),
    ),
    hook("add_version", MagGate, Action, Some(ApiRegisterEndpoint)),
    hook("rbac_resolver", MagGate, Filter, Some(AuthModifyRoles)),
    hook(
        "rate_limit_strategy",
        MagGate,
        Filter,
        Some(ApiInterceptRequest),
    ),
    hook(
        "usage_analytics_emitter",
        MagGate,
        Action,
        Some(SystemMetrics),
    ),
    hook(
        "register_channel",
        MagWs,
        Action,
        Some(RealtimeRegisterChannel),
    ),
    hook(
        "subscribe_to_event",
        MagWs,
        Action,
        Some(RealtimeSubscribeEvents),
    ),
    hook("broadcast_adapter", MagWs, Filter, Some(RealtimeBroadcast)),
    hook(
        "presence_stream",
        MagWs,
        Action,
        Some(RealtimeSubscribeEvents),
    ),
    hook(
        "message_history",
        MagWs,
        Action,
        Some(RealtimeRegisterChannel),
    ),
    hook(
        "replay_events",
        MagWs,
        Action,
        Some(RealtimeSubscribeEvents),
    ),
    hook(
        "register_sso_provider",
        MagAuth,
        Action,
        Some(AuthRegisterProvider),
    ),
    hook(
        "register_oidc_provider",
        MagAuth,
        Action,
        Some(AuthRegisterProvider),
    ),
    hook(
        "register_saml_provider",
        MagAuth,
        Action,
        Some(AuthRegisterProvider),
    ),
    hook("role_template", MagAuth, Action, Some(AuthModifyRoles)),
    hook(
        "permission_resolver",
        MagAuth,
        Filter,
        Some(AuthModifyRoles),
    ),
    hook("audit_emitter", MagAuth, Action, Some(AuthAuditAccess)),
];

/// The hook called `name`, if the map has one.
pub fn find(name: &str) -> Option<&'static HookSpec> {
    HOOKS.iter().find(|h| h.name == name)
}

/// The hooks `component` exposes.
pub fn of_component(component: Component) -> impl Iterator<Item = &'static HookSpec> {
    HOOKS.iter().filter(move |h| h.component == component)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_is_complete_and_unique() {
        let per_component = |c| of_component(c).count();
        assert_eq!(per_component(MagDs), 10);
        assert_eq!(per_component(MagUi), 6);
        assert_eq!(per_component(MagCli), 3);
        assert_eq!(per_component(MagGate), 7);
        assert_eq!(per_component(MagWs), 6);
        assert_eq!(per_component(MagAuth), 6);
        let mut names: Vec<_> = HOOKS.iter().map(|h| h.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), HOOKS.len());
        assert!(
            HOOKS
                .iter()
                .filter(|h| h.name.starts_with("before_"))
                .all(|h| h.kind == Filter)
        );
        assert_eq!(
            find("wrap_request").map(|h| h.capability),
            Some(Some(ApiInterceptRequest))
        );
        assert!(find("drop_everything").is_none());
    }
}
