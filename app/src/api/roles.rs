//! Role templates extensions defined (`auth-roles.define-role`). A template
//! only describes a set of permissions under a name: MagFlock grants nothing
//! from it, and every account keeps one of the three platform roles (owner,
//! admin, auditor), checked by the platform on every call.

use crate::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One template as an extension defined it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleTemplate {
    /// The extension that defined it.
    pub extension: String,
    pub name: String,
    pub permissions: Vec<String>,
}

/// Every template of every installed extension, by extension then name.
#[server(endpoint = "list_role_templates", output = crate::api::codec::Json)]
pub async fn list_role_templates() -> Result<Vec<RoleTemplate>, AppError> {
    crate::server::respond(crate::server::roles::templates().await)
}
