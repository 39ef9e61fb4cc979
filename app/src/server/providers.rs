//! Sign-in providers for admins (see [`crate::api::providers`]).

use super::guard::{ctx, require};
use crate::AppError;
use crate::api::providers::{BuiltInProvider, SignInProvider};
use magflock_types::Role;

pub async fn list() -> Result<Vec<SignInProvider>, AppError> {
    require(Role::Admin).await?;
    match &ctx()?.auth_hooks {
        Some(hooks) => hooks.sign_in_providers().await.map_err(AppError::internal),
        None => Ok(Vec::new()),
    }
}

pub async fn builtin() -> Result<Option<BuiltInProvider>, AppError> {
    require(Role::Admin).await?;
    Ok(ctx()?.builtin_sign_in)
}
