//! Recording to the audit log, and reading it for the Audit Log page.
//!
//! Guarantees: every mutation a server function performs calls [`record`] with
//! the actor, a dotted action name, the target and the outcome; details are JSON
//! objects built by the caller and never contain passwords or session ids.
//! Once stored, each entry is offered to `audit_emitter` handlers (through
//! [`AppContext::auth_hooks`], without waiting for them).

use super::context::AppContext;
use super::guard::{ctx, require};
use crate::AppError;
use magflock_types::{
    ActorKind, AuditFilter, AuditPage, ChainReport, NewAuditEntry, Outcome, Role, User,
};

/// Who is acting.
pub enum Actor {
    User {
        user: User,
        ip: Option<String>,
    },
    /// Not signed in; `claimed` is what they typed (e.g. the email of a failed sign-in).
    Anonymous {
        claimed: String,
        ip: Option<String>,
    },
    System,
}

pub async fn record(
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    outcome: Outcome,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    record_in(&ctx()?, actor, action, target, outcome, detail).await
}

/// [`record`] with the context given (for callers outside a Leptos request).
pub async fn record_in(
    ctx: &AppContext,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    outcome: Outcome,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    let (actor_kind, actor_id, actor_label, ip) = match actor {
        Actor::User { user, ip } => (
            ActorKind::User,
            Some(user.id.clone()),
            user.email.clone(),
            ip.clone(),
        ),
        Actor::Anonymous { claimed, ip } => {
            (ActorKind::Anonymous, None, claimed.clone(), ip.clone())
        }
        Actor::System => (ActorKind::System, None, "magflock".to_string(), None),
    };
    let entry = NewAuditEntry {
        actor_kind,
        actor_id,
        actor_label,
        action: action.to_string(),
        target: target.map(str::to_string),
        outcome,
        detail: detail.to_string(),
        ip,
    };
    let stored = ctx.store.audit_append(entry).await?;
    if let Some(hooks) = &ctx.auth_hooks {
        hooks.emit_audit(&stored);
    }
    Ok(())
}

pub async fn page(filter: AuditFilter) -> Result<AuditPage, AppError> {
    require(Role::Auditor).await?;
    if filter
        .since
        .zip(filter.until)
        .is_some_and(|(since, until)| since > until)
    {
        return Err(AppError::invalid(
            "since",
            "The start of the time range is after its end.",
        ));
    }
    Ok(ctx()?
        .store
        .audit_list(&AuditFilter {
            limit: filter.limit.clamp(1, 200),
            ..filter
        })
        .await?)
}

pub async fn verify() -> Result<ChainReport, AppError> {
    let caller = require(Role::Auditor).await?;
    let report = ctx()?.store.audit_verify().await?;
    record(
        &caller.actor(),
        "audit.chain_verified",
        None,
        if report.is_intact() { Outcome::Success } else { Outcome::Failure },
        serde_json::json!({"entries_checked": report.entries_checked, "first_broken": report.first_broken.as_ref().map(|b| b.seq)}),
    )
    .await?;
    Ok(report)
}
