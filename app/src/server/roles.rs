//! Role templates for admins (see [`crate::api::roles`]).

use super::guard::{ctx, require};
use crate::AppError;
use crate::api::roles::RoleTemplate;
use magflock_types::Role;

pub async fn templates() -> Result<Vec<RoleTemplate>, AppError> {
    require(Role::Admin).await?;
    match &ctx()?.auth_hooks {
        Some(hooks) => hooks.role_templates().await.map_err(AppError::internal),
        None => Ok(Vec::new()),
    }
}
