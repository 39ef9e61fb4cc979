//! The Users page: list, create, change role, disable or enable, reset password.

use crate::AppError;
use leptos::prelude::*;
use magflock_types::{Role, User};

#[server(endpoint = "list_users", output = crate::api::codec::Json)]
pub async fn list_users() -> Result<Vec<User>, AppError> {
    crate::server::respond(crate::server::users::list().await)
}

#[server(endpoint = "create_user", output = crate::api::codec::Json)]
pub async fn create_user(
    email: String,
    display_name: String,
    role: Role,
    password: String,
) -> Result<User, AppError> {
    crate::server::respond(crate::server::users::create(email, display_name, role, password).await)
}

#[server(endpoint = "change_role", output = crate::api::codec::Json)]
pub async fn change_role(user_id: String, role: Role) -> Result<User, AppError> {
    crate::server::respond(crate::server::users::change_role(user_id, role).await)
}

#[server(endpoint = "set_user_enabled", output = crate::api::codec::Json)]
pub async fn set_user_enabled(user_id: String, enabled: bool) -> Result<User, AppError> {
    crate::server::respond(crate::server::users::set_enabled(user_id, enabled).await)
}

#[server(endpoint = "reset_password", output = crate::api::codec::Json)]
pub async fn reset_password(user_id: String, new_password: String) -> Result<(), AppError> {
    crate::server::respond(crate::server::users::reset_password(user_id, new_password).await)
}
