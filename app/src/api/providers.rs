//! Sign-in providers extensions contribute (`[contributes] auth_providers`,
//! configured by the extension's `provider-<id>` command). Listing them
//! validates each configuration and fires the hook matching its protocol
//! (`register_oidc_provider`, `register_saml_provider`,
//! `register_sso_provider`). A listed provider adds no sign-in flow: the
//! status says what this build does with it. No secret is ever returned.
//!
//! The OpenID Connect provider the server itself is configured with
//! (`MAGFLOCK_OIDC_*`) is shown by [`builtin_sign_in_provider`]: its issuer,
//! client id and the redirect URI to register, never its client secret.

use crate::AppError;
use leptos::prelude::*;
use magflock_types::Role;
use serde::{Deserialize, Serialize};

/// The server's own OpenID Connect provider (`MAGFLOCK_OIDC_*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltInProvider {
    /// The sign-in button says "Sign in with <name>".
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    /// The callback address to register at the provider.
    pub redirect_uri: String,
    /// Whether a client secret is configured (a confidential client); the
    /// secret itself is never shown. Without one, a public client with PKCE.
    pub confidential: bool,
    /// The role of a user created at their first sign-in.
    pub default_role: Role,
}

/// One contributed provider and what MagAuth made of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInProvider {
    /// The extension that contributed it.
    pub extension: String,
    /// The contribution's id (the hook payload's `realm`).
    pub id: String,
    pub title: Option<String>,
    /// `oidc`, `saml` or `sso` when the configuration named one.
    pub protocol: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// Whether the configuration is well formed (an invalid one is never used
    /// and fires no hook).
    pub valid: bool,
    /// What this build does with it, or why the configuration was refused.
    pub status: String,
}

/// Every provider the running extensions holding `auth.register_provider`
/// contribute, by extension then id.
#[server(endpoint = "list_sign_in_providers", output = crate::api::codec::Json)]
pub async fn list_sign_in_providers() -> Result<Vec<SignInProvider>, AppError> {
    crate::server::respond(crate::server::providers::list().await)
}

/// The server's own OpenID Connect provider, if one is configured.
#[server(endpoint = "builtin_sign_in_provider", output = crate::api::codec::Json)]
pub async fn builtin_sign_in_provider() -> Result<Option<BuiltInProvider>, AppError> {
    crate::server::respond(crate::server::providers::builtin().await)
}
