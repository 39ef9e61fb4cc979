//! Managing admin accounts.
//!
//! Guarantees: only admins and owners reach these functions; an admin can never
//! create, change or disable an owner, nor make anyone an owner; nobody can
//! disable or demote themselves (another admin must), and the store keeps at least
//! one active owner. Every change, allowed or refused by a rule, is audited.

use super::audit::record;
use super::auth::validate_new_account;
use super::guard::{Caller, ctx, require};
use super::passwords;
use crate::AppError;
use magflock_store::now_millis;
use magflock_types::{NewUser, Outcome, Role, User, check_password};
use serde_json::json;

pub async fn list() -> Result<Vec<User>, AppError> {
    require(Role::Admin).await?;
    Ok(ctx()?.store.list_users().await?)
}

/// Loads the target and checks the caller may administer it (and, for role
/// changes, grant `new_role`).
async fn target_for(
    caller: &Caller,
    user_id: &str,
    action: &str,
    new_role: Option<Role>,
) -> Result<User, AppError> {
    let target = ctx()?
        .store
        .user_by_id(user_id)
        .await?
        .ok_or_else(|| AppError::NotFound("That user does not exist.".into()))?;
    let allowed = caller.user.role.can_administer(target.role)
        && new_role.is_none_or(|r| caller.user.role.can_administer(r));
    if !allowed {
        record(
            &caller.actor(),
            action,
            Some(&target.email),
            Outcome::Denied,
            json!({"reason": "only owners manage owners"}),
        )
        .await?;
        return Err(AppError::Forbidden);
    }
    Ok(target)
}

fn not_yourself(caller: &Caller, target: &User, what: &str) -> Result<(), AppError> {
    if caller.user.id == target.id {
        return Err(AppError::Conflict(format!(
            "You cannot {what} your own account; ask another admin."
        )));
    }
    Ok(())
}

pub async fn create(
    email: String,
    display_name: String,
    role: Role,
    password: String,
) -> Result<User, AppError> {
    let caller = require(Role::Admin).await?;
    if !caller.user.role.can_administer(role) {
        record(
            &caller.actor(),
            "user.created",
            Some(email.trim()),
            Outcome::Denied,
            json!({"role": role.as_str(), "reason": "only owners create owners"}),
        )
        .await?;
        return Err(AppError::Forbidden);
    }
    let (email, display_name) = validate_new_account(&email, &display_name, &password)?;
    let password_hash = passwords::hash_blocking(password).await?;
    let user = ctx()?
        .store
        .create_user(NewUser {
            email,
            display_name,
            role,
            password_hash,
        })
        .await?;
    record(
        &caller.actor(),
        "user.created",
        Some(&user.email),
        Outcome::Success,
        json!({"role": role.as_str()}),
    )
    .await?;
    Ok(user)
}

pub async fn change_role(user_id: String, role: Role) -> Result<User, AppError> {
    let caller = require(Role::Admin).await?;
    let target = target_for(&caller, &user_id, "user.role_changed", Some(role)).await?;
    not_yourself(&caller, &target, "change the role of")?;
    let updated = ctx()?.store.set_user_role(&target.id, role).await?;
    record(
        &caller.actor(),
        "user.role_changed",
        Some(&target.email),
        Outcome::Success,
        json!({"from": target.role.as_str(), "to": role.as_str()}),
    )
    .await?;
    Ok(updated)
}

pub async fn set_enabled(user_id: String, enabled: bool) -> Result<User, AppError> {
    let caller = require(Role::Admin).await?;
    let action = if enabled {
        "user.enabled"
    } else {
        "user.disabled"
    };
    let target = target_for(&caller, &user_id, action, None).await?;
    not_yourself(&caller, &target, if enabled { "enable" } else { "disable" })?;
    let updated = ctx()?
        .store
        .set_user_disabled(&target.id, (!enabled).then(now_millis))
        .await?;
    record(
        &caller.actor(),
        action,
        Some(&target.email),
        Outcome::Success,
        json!({"sessions_ended": !enabled}),
    )
    .await?;
    Ok(updated)
}

pub async fn reset_password(user_id: String, new_password: String) -> Result<(), AppError> {
    let caller = require(Role::Admin).await?;
    let target = target_for(&caller, &user_id, "user.password_reset", None).await?;
    check_password(&new_password, &target.email, &target.display_name)
        .map_err(|p| AppError::invalid("new_password", p.to_string()))?;
    let hash = passwords::hash_blocking(new_password).await?;
    ctx()?.store.set_password_hash(&target.id, &hash).await?;
    record(
        &caller.actor(),
        "user.password_reset",
        Some(&target.email),
        Outcome::Success,
        json!({"sessions_ended": true}),
    )
    .await?;
    Ok(())
}
