//! MagUI's signed-in admins at the gateway: they call the platform API with
//! their session cookie instead of an API key.
//!
//! Guarantees: the gateway never reads cookies itself. The server supplies an
//! [`AdminSessions`] that turns the request's session into a user with a role,
//! applying the same rules as MagUI's own pages (expired sessions, disabled
//! users). A request with an `Authorization` header is always treated as an
//! API-key request, never as a session. [`crate::Gateway::require_role`] is
//! the one role check of the platform routes: a key holder or a role below the
//! route's minimum gets a 403, and a signed-in admin's refusal is audited as
//! `auth.permission_denied`.

use async_trait::async_trait;
use magflock_kernel::audit::Actor;
use magflock_types::{Outcome, Role};
use serde_json::json;

use crate::pipeline::Caller;
use crate::{GateError, Gateway};

/// A signed-in MagUI user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminCaller {
    pub user_id: String,
    pub email: String,
    pub role: Role,
}

impl AdminCaller {
    /// The audit actor for this user.
    pub fn actor(&self) -> Actor {
        Actor::user(&self.user_id, &self.email)
    }
}

/// Resolves a request's MagUI session (the server implements it).
#[async_trait]
pub trait AdminSessions: Send + Sync {
    /// The signed-in, active user of the request, if any.
    async fn admin(&self, request: &http::Extensions) -> Result<Option<AdminCaller>, GateError>;
}

impl Gateway {
    /// The caller's admin session if its role is at least `min`; otherwise a
    /// 401 (nobody signed in, no key), or a 403 naming what is needed.
    pub fn require_role(&self, caller: &Caller, min: Role) -> Result<AdminCaller, GateError> {
        match (&caller.admin, &caller.principal) {
            (Some(admin), _) if admin.role.at_least(min) => Ok(admin.clone()),
            (Some(admin), _) => {
                self.kernel().audit.record(admin.actor().entry(
                    "auth.permission_denied",
                    None,
                    Outcome::Denied,
                    json!({"required_role": min.as_str(), "role": admin.role.as_str(), "via": "maggate"}),
                ));
                Err(GateError::Forbidden(format!(
                    "this needs the {} role or higher; you are {}",
                    min.as_str(),
                    admin.role.as_str()
                )))
            }
            (None, Some(key)) => Err(GateError::Forbidden(format!(
                "API key {}… cannot do this: it needs a MagUI session with the {} role or higher",
                key.prefix,
                min.as_str()
            ))),
            (None, None) => Err(GateError::MissingKey),
        }
    }

    /// Whether the caller may read `project`: any signed-in admin role, or an
    /// API key of that very project.
    pub fn require_project(&self, caller: &Caller, project: &str) -> Result<(), GateError> {
        match &caller.principal {
            Some(key) if key.project != project => Err(GateError::Forbidden(format!(
                "API key {}… belongs to project '{}', not '{project}'",
                key.prefix, key.project
            ))),
            Some(_) => Ok(()),
            None => self.require_role(caller, Role::Auditor).map(|_| ()),
        }
    }
}
