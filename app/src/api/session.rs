//! First-run setup, sign-in, sign-out and the caller's own account.

use crate::AppError;
use leptos::prelude::*;
use magflock_types::User;
use serde::{Deserialize, Serialize};

/// What every page needs to know first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    /// No account exists yet: every page leads to first-run setup.
    pub setup_needed: bool,
    pub user: Option<User>,
    pub instance_name: String,
    /// The OpenID Connect provider's name when single sign-on is configured
    /// (the sign-in page shows "Sign in with <name>").
    #[serde(default)]
    pub sign_in_provider: Option<String>,
}

#[server(endpoint = "current_session", output = crate::api::codec::Json)]
pub async fn current_session() -> Result<SessionState, AppError> {
    crate::server::respond(crate::server::auth::current_session().await)
}

#[server(endpoint = "setup_owner", output = crate::api::codec::Json)]
pub async fn setup_owner(
    email: String,
    display_name: String,
    password: String,
    password_confirm: String,
) -> Result<User, AppError> {
    crate::server::respond(
        crate::server::auth::setup_owner(email, display_name, password, password_confirm).await,
    )
}

#[server(endpoint = "login", output = crate::api::codec::Json)]
pub async fn login(email: String, password: String) -> Result<User, AppError> {
    crate::server::respond(crate::server::auth::login(email, password).await)
}

#[server(endpoint = "logout", output = crate::api::codec::Json)]
pub async fn logout() -> Result<(), AppError> {
    crate::server::respond(crate::server::auth::logout().await)
}

#[server(endpoint = "change_own_password", output = crate::api::codec::Json)]
pub async fn change_own_password(
    current_password: String,
    new_password: String,
    new_password_confirm: String,
) -> Result<(), AppError> {
    crate::server::respond(
        crate::server::auth::change_own_password(
            current_password,
            new_password,
            new_password_confirm,
        )
        .await,
    )
}
