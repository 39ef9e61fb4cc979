//! First-run setup, sign-in, sign-out, and changing one's own password.
//!
//! Guarantees: setup works only while no account exists (atomically, in the
//! store); sign-in checks the throttle before the password, takes as long for an
//! unknown email as for a known one, never says which part was wrong, rotates the
//! session id, and is audited on success and failure alike.

use super::audit::{Actor, record};
use super::context::AppContext;
use super::events;
use super::guard::{LOGIN_AT, USER_ID, client_ip, ctx, current_user, require, session};
use super::{passwords, throttle};
use crate::AppError;
use crate::api::session::SessionState;
use magflock_store::now_millis;
use magflock_types::{NewUser, Outcome, Role, User, check_password, normalize_email};
use serde_json::json;
use std::time::Instant;
use tower_sessions::{Expiry, Session};

pub async fn current_session() -> Result<SessionState, AppError> {
    let ctx = ctx()?;
    let setup_needed = ctx.store.user_count().await? == 0;
    let user = if setup_needed {
        None
    } else {
        current_user().await?
    };
    Ok(SessionState {
        setup_needed,
        user,
        instance_name: ctx.settings().instance_name,
        sign_in_provider: ctx.sign_in_provider.clone(),
    })
}

/// Checks the fields of a new account; names the field at fault.
pub fn validate_new_account(
    email: &str,
    display_name: &str,
    password: &str,
) -> Result<(String, String), AppError> {
    let email = normalize_email(email).map_err(|m| AppError::invalid("email", m))?;
    let display_name = display_name.trim().to_string();
    if display_name.is_empty() || display_name.chars().count() > 80 {
        return Err(AppError::invalid(
            "display_name",
            "Display name must be 1 to 80 characters.",
        ));
    }
    check_password(password, &email, &display_name)
        .map_err(|p| AppError::invalid("password", p.to_string()))?;
    Ok((email, display_name))
}

/// Starts a signed-in session for `user` with a fresh id.
async fn start_session(user: &User) -> Result<(), AppError> {
    begin_session(&ctx()?, &session().await?, user).await
}

/// Starts a signed-in session for `user` in `session` with a fresh id: the one
/// way every sign-in method (password, OpenID Connect) signs a user in.
pub async fn begin_session(
    ctx: &AppContext,
    session: &Session,
    user: &User,
) -> Result<(), AppError> {
    session.cycle_id().await.map_err(AppError::internal)?;
    session
        .insert(USER_ID, &user.id)
        .await
        .map_err(AppError::internal)?;
    session
        .insert(LOGIN_AT, now_millis())
        .await
        .map_err(AppError::internal)?;
    let idle = ctx.settings().session_idle_minutes;
    session.set_expiry(Some(Expiry::OnInactivity(time::Duration::minutes(
        i64::from(idle),
    ))));
    ctx.store.record_login(&user.id, now_millis()).await?;
    Ok(())
}

pub async fn setup_owner(
    email: String,
    display_name: String,
    password: String,
    password_confirm: String,
) -> Result<User, AppError> {
    let ctx = ctx()?;
    if ctx.store.user_count().await? > 0 {
        return Err(AppError::AlreadySetUp);
    }
    let (email, display_name) = validate_new_account(&email, &display_name, &password)?;
    if password != password_confirm {
        return Err(AppError::invalid(
            "password_confirm",
            "The two passwords do not match.",
        ));
    }
    let password_hash = passwords::hash_blocking(password).await?;
    let owner = ctx
        .store
        .create_first_owner(NewUser {
            email,
            display_name,
            role: Role::Owner,
            password_hash,
        })
        .await?;
    let ip = client_ip().await;
    record(
        &Actor::User {
            user: owner.clone(),
            ip,
        },
        "setup.owner_created",
        Some(&owner.email),
        Outcome::Success,
        json!({"role": "owner"}),
    )
    .await?;
    start_session(&owner).await?;
    Ok(owner)
}

pub async fn login(email: String, password: String) -> Result<User, AppError> {
    let ctx = ctx()?;
    let ip = client_ip().await;
    let claimed = email.trim().to_lowercase();
    let anonymous = Actor::Anonymous {
        claimed: claimed.clone(),
        ip: ip.clone(),
    };
    let keys = throttle::keys(&claimed, ip.as_deref());
    if let Err(retry_after_secs) = ctx.throttle.check(&keys, Instant::now()) {
        record(
            &anonymous,
            "auth.login",
            Some(&claimed),
            Outcome::Denied,
            json!({"reason": "throttled", "retry_after_secs": retry_after_secs}),
        )
        .await?;
        return Err(AppError::Throttled { retry_after_secs });
    }
    let found = ctx.store.user_with_hash_by_email(&claimed).await?;
    let (verified, reason) = tokio::task::spawn_blocking(move || match found {
        Some((user, hash)) => {
            let ok = passwords::verify(&password, &hash);
            match (ok, user.is_active()) {
                (true, true) => (Some(user), "ok"),
                (true, false) => (None, "account disabled"),
                (false, _) => (None, "wrong password"),
            }
        }
        None => {
            passwords::verify_nothing(&password);
            (None, "unknown email")
        }
    })
    .await
    .map_err(AppError::internal)?;
    let Some(user) = verified else {
        ctx.throttle.record_failure(&keys, Instant::now());
        record(
            &anonymous,
            "auth.login",
            Some(&claimed),
            Outcome::Failure,
            json!({"reason": reason}),
        )
        .await?;
        return Err(AppError::BadCredentials);
    };
    ctx.throttle.clear(&keys[0]);
    start_session(&user).await?;
    record(
        &Actor::User {
            user: user.clone(),
            ip,
        },
        "auth.login",
        Some(&user.email),
        Outcome::Success,
        json!({}),
    )
    .await?;
    events::publish(
        &ctx,
        events::USER_LOGIN,
        Some(&user.id),
        json!({"email": user.email, "role": user.role.as_str(), "method": "password"}),
    )
    .await;
    Ok(user)
}

pub async fn logout() -> Result<(), AppError> {
    if let Some(user) = current_user().await? {
        record(
            &Actor::User {
                user: user.clone(),
                ip: client_ip().await,
            },
            "auth.logout",
            Some(&user.email),
            Outcome::Success,
            json!({}),
        )
        .await?;
        events::publish(
            &ctx()?,
            events::USER_LOGOUT,
            Some(&user.id),
            json!({"email": user.email}),
        )
        .await;
    }
    session().await?.flush().await.map_err(AppError::internal)?;
    Ok(())
}

pub async fn change_own_password(
    current: String,
    new: String,
    confirm: String,
) -> Result<(), AppError> {
    let caller = require(Role::Auditor).await?;
    let ctx = ctx()?;
    let (_, hash) = ctx
        .store
        .user_with_hash_by_email(&caller.user.email)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let ok = tokio::task::spawn_blocking(move || passwords::verify(&current, &hash))
        .await
        .map_err(AppError::internal)?;
    if !ok {
        record(
            &caller.actor(),
            "user.password_changed",
            Some(&caller.user.email),
            Outcome::Failure,
            json!({"reason": "wrong current password"}),
        )
        .await?;
        return Err(AppError::invalid(
            "current_password",
            "The current password is incorrect.",
        ));
    }
    check_password(&new, &caller.user.email, &caller.user.display_name)
        .map_err(|p| AppError::invalid("new_password", p.to_string()))?;
    if new != confirm {
        return Err(AppError::invalid(
            "new_password_confirm",
            "The two passwords do not match.",
        ));
    }
    let new_hash = passwords::hash_blocking(new).await?;
    // Ends every session of this account, including this one; sign in afresh.
    ctx.store
        .set_password_hash(&caller.user.id, &new_hash)
        .await?;
    start_session(&caller.user).await?;
    record(
        &caller.actor(),
        "user.password_changed",
        Some(&caller.user.email),
        Outcome::Success,
        json!({"other_sessions_ended": true}),
    )
    .await?;
    Ok(())
}
