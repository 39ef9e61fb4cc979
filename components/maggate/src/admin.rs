//! MagUI's signed-in admins at the gateway: they call the platform API with
//! their session cookie instead of an API key.
//!
//! Guarantees: the gateway never reads cookies itself. The server supplies an
//! [`AdminSessions`] that turns the request's session into a user with a role,
//! applying the same rules as MagUI's own pages (expired sessions, disabled
//! users). A request with an `Authorization` header is always treated as an
//! API-key request, never as a session. [`crate::Gateway::require_role`] is
//! the one role check of the platform routes: a key holder or a role below the
//! route's minimum gets a 403. A call the platform allowed is then offered to
//! `permission_resolver` handlers with MagUI's payload (`user_id`, `roles`,
//! `permission`: the minimum role, `resource`: the routed path,
//! `decision: "allow"`); they may refuse it (a 403 naming the extension and
//! its reason) but never allow what the platform refused, which they are
//! never offered. Every refusal of a signed-in admin is audited as
//! `auth.permission_denied` and published as `auth.permission.denied`.

use async_trait::async_trait;
use magflock_kernel::audit::Actor;
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Event};
use magflock_types::{Outcome, Role};
use serde_json::{Value, json};

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

/// The event a refused admin call publishes (MagUI's own refusals too).
pub const PERMISSION_DENIED: &str = "auth.permission.denied";

impl Gateway {
    /// The caller's admin session if its role is at least `min` and no
    /// `permission_resolver` handler refuses; otherwise a 401 (nobody signed
    /// in, no key), or a 403 naming what is needed or who refused.
    pub async fn require_role(&self, caller: &Caller, min: Role) -> Result<AdminCaller, GateError> {
        let admin = match (&caller.admin, &caller.principal) {
            (Some(admin), _) if admin.role.at_least(min) => admin.clone(),
            (Some(admin), _) => {
                self.refused(admin, caller, min, json!({})).await;
                return Err(GateError::Forbidden(format!(
                    "this needs the {} role or higher; you are {}",
                    min.as_str(),
                    admin.role.as_str()
                )));
            }
            (None, Some(key)) => {
                return Err(GateError::Forbidden(format!(
                    "API key {}… cannot do this: it needs a MagUI session with the {} role or higher",
                    key.prefix,
                    min.as_str()
                )));
            }
            (None, None) => return Err(GateError::MissingKey),
        };
        let payload = json!({
            "user_id": admin.user_id,
            "roles": [admin.role.as_str()],
            "permission": min.as_str(),
            "resource": caller.resource,
            "decision": "allow",
        });
        let Some(denial) = self.kernel().resolve_permission(&payload).await else {
            return Ok(admin);
        };
        let extension = denial
            .extension
            .unwrap_or_else(|| "permission_resolver".into());
        self.refused(
            &admin,
            caller,
            min,
            json!({"extension": extension, "reason": denial.reason}),
        )
        .await;
        Err(GateError::Denied {
            extension,
            reason: denial.reason,
        })
    }

    /// Audits and publishes the refusal of `admin`'s call (`more` adds to
    /// the detail). The event, like MagUI's, needs `auth.audit_access`.
    async fn refused(&self, admin: &AdminCaller, caller: &Caller, min: Role, more: Value) {
        let mut detail = json!({
            "required_role": min.as_str(),
            "role": admin.role.as_str(),
            "via": "maggate",
        });
        if let (Some(detail), Value::Object(more)) = (detail.as_object_mut(), more) {
            detail.extend(more);
        }
        self.kernel().audit.record(admin.actor().entry(
            "auth.permission_denied",
            Some(&caller.resource),
            Outcome::Denied,
            detail.clone(),
        ));
        detail["path"] = json!(caller.resource);
        let source = Source {
            component: "maggate".into(),
            extension: None,
        };
        let context = Context {
            user_id: Some(admin.user_id.clone()),
            ..Context::default()
        };
        let published = match Event::new(
            PERMISSION_DENIED,
            source,
            detail,
            context,
            vec![Capability::AuthAuditAccess],
        ) {
            Ok(event) => self
                .kernel()
                .bus
                .publish(&event)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = published {
            tracing::warn!("could not publish {PERMISSION_DENIED}: {e}");
        }
    }

    /// Whether the caller may read `project`: any signed-in admin role, or an
    /// API key of that very project.
    pub async fn require_project(&self, caller: &Caller, project: &str) -> Result<(), GateError> {
        match &caller.principal {
            Some(key) if key.project != project => Err(GateError::Forbidden(format!(
                "API key {}… belongs to project '{}', not '{project}'",
                key.prefix, key.project
            ))),
            Some(_) => Ok(()),
            None => self.require_role(caller, Role::Auditor).await.map(|_| ()),
        }
    }
}
