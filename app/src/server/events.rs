//! MagAuth's events on the kernel bus: `auth.user.login`, `auth.user.logout`,
//! `auth.token.expired`, `auth.permission.denied`.
//!
//! Guarantees: events carry the user's id and email, never a password, token or
//! session id; receiving them requires `auth.audit_access` (they are audit
//! data); a bus failure is logged and never fails the sign-in or request that
//! caused it (the audit log, written first, is the record of truth).

use super::context::AppContext;
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Event};

pub const USER_LOGIN: &str = "auth.user.login";
pub const USER_LOGOUT: &str = "auth.user.logout";
pub const TOKEN_EXPIRED: &str = "auth.token.expired";
pub const PERMISSION_DENIED: &str = "auth.permission.denied";

/// Publishes an auth event about `user_id` (when the server attached a bus).
pub async fn publish(
    ctx: &AppContext,
    event_type: &str,
    user_id: Option<&str>,
    data: serde_json::Value,
) {
    let Some(bus) = &ctx.bus else { return };
    let source = Source {
        component: "magauth".to_string(),
        extension: None,
    };
    let context = Context {
        project_id: None,
        user_id: user_id.map(str::to_string),
        trace_id: None,
    };
    match Event::new(
        event_type,
        source,
        data,
        context,
        vec![Capability::AuthAuditAccess],
    ) {
        Ok(event) => {
            if let Err(error) = bus.publish(&event).await {
                tracing::warn!(%event_type, %error, "could not publish an auth event");
            }
        }
        Err(error) => tracing::warn!(%event_type, %error, "invalid auth event"),
    }
}
