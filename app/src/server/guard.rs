//! The wall: who is calling, and may they.
//!
//! Guarantees: [`require`] is the first thing every protected server function
//! does. It reads the session cookie's record from the store, ends sessions that
//! are past their absolute lifetime or whose user was disabled or deleted, loads
//! the user fresh (so a role change applies on the next call), and refuses a role
//! below the minimum with `Forbidden`, recording the refusal in the audit log.
//! A call the platform allowed is then offered to `permission_resolver`
//! handlers, which may refuse it (audited, naming the extension) but never
//! allow what the platform refused.
//! [`respond`] turns an error into its HTTP status (and `Retry-After`).

use super::audit::{self, Actor};
use super::context::{AppContext, ClientIp};
use crate::AppError;
use leptos::prelude::*;
use magflock_store::now_millis;
use magflock_types::{Outcome, Role, User};
use tower_sessions::Session;

/// Session keys.
pub const USER_ID: &str = "user_id";
pub const LOGIN_AT: &str = "login_at";

/// Marks session-store errors caused by an unreachable database (the server's
/// session store prefixes its backend errors with this).
pub const SESSION_STORE_UNAVAILABLE: &str = "unavailable:";

fn session_failed(err: tower_sessions::session::Error) -> AppError {
    if err.to_string().contains(SESSION_STORE_UNAVAILABLE) {
        AppError::Unavailable
    } else {
        AppError::internal(err)
    }
}

/// A signed-in caller who passed the role check.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    pub ip: Option<String>,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::User {
            user: self.user.clone(),
            ip: self.ip.clone(),
        }
    }
}

pub fn ctx() -> Result<AppContext, AppError> {
    use_context::<AppContext>().ok_or_else(|| AppError::internal("AppContext was not provided"))
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(AppError::internal)
}

pub async fn client_ip() -> Option<String> {
    leptos_axum::extract::<axum::Extension<ClientIp>>()
        .await
        .ok()
        .and_then(|e| e.0.0)
}

/// The signed-in user, if the session is valid; clears sessions that are not.
pub async fn current_user() -> Result<Option<User>, AppError> {
    session_user(&ctx()?, &session().await?).await
}

/// The signed-in, active user of `session`, if the session is valid; ends
/// sessions past their absolute lifetime (audited) or whose user was disabled
/// or deleted. Needs no Leptos context: MagGate calls it for API requests
/// made with a MagUI session.
pub async fn session_user(ctx: &AppContext, session: &Session) -> Result<Option<User>, AppError> {
    let Some(user_id) = session
        .get::<String>(USER_ID)
        .await
        .map_err(session_failed)?
    else {
        return Ok(None);
    };
    let login_at = session
        .get::<i64>(LOGIN_AT)
        .await
        .map_err(session_failed)?
        .unwrap_or(0);
    let max_age_ms = i64::from(ctx.settings().session_max_hours) * 3_600_000;
    if now_millis() - login_at > max_age_ms {
        let _ = session.flush().await;
        audit::record_in(
            ctx,
            &Actor::System,
            "auth.session_expired",
            Some(&user_id),
            Outcome::Success,
            serde_json::json!({"reason": "absolute lifetime reached"}),
        )
        .await?;
        super::events::publish(
            ctx,
            super::events::TOKEN_EXPIRED,
            Some(&user_id),
            serde_json::json!({"kind": "session", "reason": "absolute lifetime reached"}),
        )
        .await;
        return Ok(None);
    }
    match ctx.store.user_by_id(&user_id).await? {
        Some(user) if user.is_active() => Ok(Some(user)),
        _ => {
            let _ = session.flush().await;
            Ok(None)
        }
    }
}

/// The caller, if signed in with at least `min`; otherwise `Unauthenticated` or
/// `Forbidden` (audited as `auth.permission_denied`).
pub async fn require(min: Role) -> Result<Caller, AppError> {
    let path = use_context::<http::request::Parts>().map(|p| p.uri.path().to_string());
    require_in(
        &ctx()?,
        &session().await?,
        client_ip().await,
        path.as_deref(),
        min,
    )
    .await
}

/// [`require`] outside a Leptos request (a plain route of the server, e.g.
/// the audit export): the same session rules, role check, audit of refusals
/// and `permission_resolver`, for the request's session, address and path.
pub async fn require_in(
    ctx: &AppContext,
    session: &Session,
    ip: Option<String>,
    path: Option<&str>,
    min: Role,
) -> Result<Caller, AppError> {
    let user = session_user(ctx, session)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let caller = Caller { user, ip };
    if !caller.user.role.at_least(min) {
        audit::record_in(
            ctx,
            &caller.actor(),
            "auth.permission_denied",
            path,
            Outcome::Denied,
            serde_json::json!({"required_role": min.as_str(), "role": caller.user.role.as_str()}),
        )
        .await?;
        super::events::publish(
            ctx,
            super::events::PERMISSION_DENIED,
            Some(&caller.user.id),
            serde_json::json!({"path": path, "required_role": min.as_str(), "role": caller.user.role.as_str()}),
        )
        .await;
        return Err(AppError::Forbidden);
    }
    resolve_with_extensions(ctx, &caller, path, min).await?;
    Ok(caller)
}

/// Offers the platform's "allow" to `permission_resolver` handlers; one that
/// denies refuses the call (audited with the extension). A platform refusal
/// never gets here, so no handler can widen a decision.
async fn resolve_with_extensions(
    ctx: &AppContext,
    caller: &Caller,
    path: Option<&str>,
    min: Role,
) -> Result<(), AppError> {
    let Some(hooks) = ctx.auth_hooks.clone() else {
        return Ok(());
    };
    let payload = serde_json::json!({
        "user_id": caller.user.id,
        "roles": [caller.user.role.as_str()],
        "permission": min.as_str(),
        "resource": path,
        "decision": "allow",
    });
    let Some(denial) = hooks.resolve_permission(payload).await else {
        return Ok(());
    };
    audit::record_in(
        ctx,
        &caller.actor(),
        "auth.permission_denied",
        path,
        Outcome::Denied,
        serde_json::json!({
            "required_role": min.as_str(),
            "role": caller.user.role.as_str(),
            "extension": denial.extension,
            "reason": denial.reason,
        }),
    )
    .await?;
    super::events::publish(
        ctx,
        super::events::PERMISSION_DENIED,
        Some(&caller.user.id),
        serde_json::json!({"path": path, "required_role": min.as_str(), "role": caller.user.role.as_str(), "extension": denial.extension}),
    )
    .await;
    Err(AppError::Forbidden)
}

/// Passes `result` through, setting the response status (and `Retry-After` for
/// throttling) from the error. Every server function ends with this.
///
/// Only for calls to the server function's own endpoint: when a page calls a
/// server function while rendering on the server, the page decides its status
/// (its error page, or the layout's redirect to sign-in), not the data call.
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(err) = &result {
        let endpoint_call = use_context::<http::request::Parts>()
            .is_some_and(|parts| parts.uri.path().starts_with(crate::api::PREFIX));
        if endpoint_call {
            err.apply_to_response();
        }
    }
    result
}
