//! MagUI's server functions: the only door between the browser and the control
//! plane. Each lives at a stable path under `/api/` (its endpoint name), takes
//! URL-encoded arguments (so plain HTML forms work before hydration), and
//! delegates its work to `crate::server`, which checks the session and role first.
//!
//! [`endpoints`] lists every one with the least role it needs (each module
//! of the extension pages keeps its own `ENDPOINTS` table next to its server
//! functions); the server's role test walks it, so a new endpoint without an
//! entry fails it.

pub mod alerts;
pub mod approvals;
pub mod audit;
pub mod codec;
pub mod dashboard;
pub mod event_log;
pub mod extensions;
pub mod health;
pub mod marketplace;
pub mod projects;
pub mod providers;
pub mod roles;
pub mod session;
pub mod settings;
pub mod tokens;
pub mod trust;
pub mod users;
pub mod widgets;

use magflock_types::Role;

/// Where every server function lives.
pub const PREFIX: &str = "/api/";

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (setup, sign-in, session status).
    Public,
    /// Signed in with at least this role.
    AtLeast(Role),
}

/// Every server function: (path, access).
pub fn endpoints() -> Vec<(&'static str, Access)> {
    [
        ENDPOINTS,
        marketplace::ENDPOINTS,
        approvals::ENDPOINTS,
        extensions::ENDPOINTS,
        health::ENDPOINTS,
        event_log::ENDPOINTS,
        widgets::ENDPOINTS,
        projects::ENDPOINTS,
        tokens::ENDPOINTS,
    ]
    .concat()
}

/// The foundation's server functions (session, users, settings, audit, keys).
pub const ENDPOINTS: &[(&str, Access)] = &[
    ("/api/current_session", Access::Public),
    ("/api/setup_owner", Access::Public),
    ("/api/login", Access::Public),
    ("/api/logout", Access::Public),
    ("/api/change_own_password", Access::AtLeast(Role::Auditor)),
    ("/api/dashboard_summary", Access::AtLeast(Role::Auditor)),
    ("/api/audit_entries", Access::AtLeast(Role::Auditor)),
    ("/api/verify_audit_chain", Access::AtLeast(Role::Auditor)),
    ("/api/get_settings", Access::AtLeast(Role::Auditor)),
    ("/api/update_settings", Access::AtLeast(Role::Admin)),
    ("/api/list_users", Access::AtLeast(Role::Admin)),
    ("/api/create_user", Access::AtLeast(Role::Admin)),
    ("/api/change_role", Access::AtLeast(Role::Admin)),
    ("/api/set_user_enabled", Access::AtLeast(Role::Admin)),
    ("/api/reset_password", Access::AtLeast(Role::Admin)),
    ("/api/list_trusted_keys", Access::AtLeast(Role::Auditor)),
    // Trusting a key at the first-party level needs an owner (checked inside).
    ("/api/add_trusted_key", Access::AtLeast(Role::Admin)),
    ("/api/remove_trusted_key", Access::AtLeast(Role::Admin)),
    ("/api/set_allow_unsigned", Access::AtLeast(Role::Owner)),
    ("/api/list_alerts", Access::AtLeast(Role::Auditor)),
    ("/api/acknowledge_alert", Access::AtLeast(Role::Admin)),
    ("/api/list_role_templates", Access::AtLeast(Role::Admin)),
    ("/api/list_sign_in_providers", Access::AtLeast(Role::Admin)),
    (
        "/api/builtin_sign_in_provider",
        Access::AtLeast(Role::Admin),
    ),
];
