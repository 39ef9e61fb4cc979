//! Sign-in providers extensions contribute (`[contributes] auth_providers`,
//! configured by the extension's `provider-<id>` command). Listing them
//! validates each configuration and fires the hook matching its protocol
//! (`register_oidc_provider`, `register_saml_provider`,
//! `register_sso_provider`). A listed provider adds no sign-in flow: the
//! status says what this build does with it. No secret is ever returned.

use crate::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

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
#[server(endpoint = "list_sign_in_providers")]
pub async fn list_sign_in_providers() -> Result<Vec<SignInProvider>, AppError> {
    crate::server::respond(crate::server::providers::list().await)
}
