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
    /// The payload's top-level JSON fields (the SDK's `payloads` module has
    /// typed structs for them). A filter may return a modified payload of the
    /// same shape.
    pub payload: &'static [&'static str],
}

const fn hook(
    name: &'static str,
    component: Component,
    kind: HookKind,
    capability: Option<Capability>,
    payload: &'static [&'static str],
) -> HookSpec {
    HookSpec {
        name,
        component,
        kind,
        capability,
        payload,
    }
}

use Component::*;
use HookKind::*;

/// Every hook of the specification.
pub const HOOKS: &[HookSpec] = &[
    hook(
        "before_db_create",
        MagDs,
        Filter,
        Some(DatabaseAdmin),
        &["project_id", "database", "owner"],
    ),
    hook(
        "after_db_create",
        MagDs,
        Action,
        Some(DatabaseAdmin),
        &["project_id", "database", "owner"],
    ),
    hook(
        "on_extension_profile_select",
        MagDs,
        Filter,
        Some(DatabaseAdmin),
        &["project_id", "database", "profiles"],
    ),
    hook(
        "before_migration",
        MagDs,
        Filter,
        Some(DatabaseSchema),
        &["project_id", "migration", "sql"],
    ),
    hook(
        "after_migration",
        MagDs,
        Action,
        Some(DatabaseSchema),
        &["project_id", "migration", "duration_ms"],
    ),
    hook(
        "on_rls_policy_create",
        MagDs,
        Filter,
        Some(DatabaseSchema),
        &["project_id", "table", "policy", "sql"],
    ),
    hook(
        "before_backup",
        MagDs,
        Filter,
        Some(DatabaseAdmin),
        &["project_id", "database", "kind"],
    ),
    hook(
        "after_restore",
        MagDs,
        Action,
        Some(DatabaseAdmin),
        &["project_id", "database", "backup_id"],
    ),
    hook(
        "on_pitr_checkpoint",
        MagDs,
        Action,
        Some(DatabaseAdmin),
        &["project_id", "database", "lsn", "at"],
    ),
    hook(
        "health_check_report",
        MagDs,
        Action,
        Some(SystemMetrics),
        &["component", "healthy", "checks"],
    ),
    hook(
        "register_widget",
        MagUi,
        Action,
        Some(UiRegisterWidget),
        &["dashboard", "user_id"],
    ),
    hook(
        "register_panel",
        MagUi,
        Action,
        Some(UiRegisterPanel),
        &["section", "user_id"],
    ),
    hook(
        "extend_schema_explorer",
        MagUi,
        Action,
        Some(UiModifySchema),
        &["project_id", "schema", "table"],
    ),
    hook(
        "before_project_create",
        MagUi,
        Filter,
        Some(DatabaseAdmin),
        &["name", "owner_id", "region"],
    ),
    hook(
        "after_schema_change",
        MagUi,
        Action,
        Some(DatabaseRead),
        &["project_id", "table", "change"],
    ),
    hook(
        "on_user_action",
        MagUi,
        Action,
        Some(AuthAuditAccess),
        &["user_id", "action", "target"],
    ),
    hook("register_command", MagCli, Action, None, &["cli_version"]),
    hook("extend_help", MagCli, Action, None, &["command"]),
    hook(
        "add_output_format",
        MagCli,
        Action,
        None,
        &["command", "formats"],
    ),
    hook(
        "register_endpoint",
        MagGate,
        Action,
        Some(ApiRegisterEndpoint),
        &["api_version", "prefix"],
    ),
    hook(
        "wrap_request",
        MagGate,
        Filter,
        Some(ApiInterceptRequest),
        &["method", "path", "headers"],
    ),
    hook(
        "transform_response",
        MagGate,
        Filter,
        Some(ApiInterceptRequest),
        &["method", "path", "status", "headers", "body"],
    ),
    hook(
        "add_version",
        MagGate,
        Action,
        Some(ApiRegisterEndpoint),
        &["current_versions"],
    ),
    hook(
        "rbac_resolver",
        MagGate,
        Filter,
        Some(AuthModifyRoles),
        &["user_id", "roles", "method", "path", "decision"],
    ),
    hook(
        "rate_limit_strategy",
        MagGate,
        Filter,
        Some(ApiInterceptRequest),
        &["client_id", "route", "limit", "window_s"],
    ),
    hook(
        "usage_analytics_emitter",
        MagGate,
        Action,
        Some(SystemMetrics),
        &["route", "status", "duration_ms", "client_id"],
    ),
    hook(
        "register_channel",
        MagWs,
        Action,
        Some(RealtimeRegisterChannel),
        &["project_id", "prefix"],
    ),
    hook(
        "subscribe_to_event",
        MagWs,
        Action,
        Some(RealtimeSubscribeEvents),
        &["channel", "client_id", "event_type"],
    ),
    hook(
        "broadcast_adapter",
        MagWs,
        Filter,
        Some(RealtimeBroadcast),
        &["channel", "message", "recipients"],
    ),
    hook(
        "presence_stream",
        MagWs,
        Action,
        Some(RealtimeSubscribeEvents),
        &["channel", "client_id", "state"],
    ),
    hook(
        "message_history",
        MagWs,
        Action,
        Some(RealtimeRegisterChannel),
        &["channel", "since", "limit"],
    ),
    hook(
        "replay_events",
        MagWs,
        Action,
        Some(RealtimeSubscribeEvents),
        &["channel", "client_id", "from_seq"],
    ),
    hook(
        "register_sso_provider",
        MagAuth,
        Action,
        Some(AuthRegisterProvider),
        &["realm"],
    ),
    hook(
        "register_oidc_provider",
        MagAuth,
        Action,
        Some(AuthRegisterProvider),
        &["realm"],
    ),
    hook(
        "register_saml_provider",
        MagAuth,
        Action,
        Some(AuthRegisterProvider),
        &["realm"],
    ),
    hook(
        "role_template",
        MagAuth,
        Action,
        Some(AuthModifyRoles),
        &["project_id", "roles"],
    ),
    hook(
        "permission_resolver",
        MagAuth,
        Filter,
        Some(AuthModifyRoles),
        &["user_id", "roles", "permission", "resource", "decision"],
    ),
    hook(
        "audit_emitter",
        MagAuth,
        Action,
        Some(AuthAuditAccess),
        &["entry"],
    ),
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
