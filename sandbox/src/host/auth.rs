//! `auth.*`: handed to the MagAuth adapter after the gate check.

use magflock_kernel::{Capability, Component};
use serde_json::json;

use crate::bindings::magflock::extension::{auth_audit, auth_roles};
use crate::state::HostState;

impl auth_roles::Host for HostState {
    fn define_role(
        &mut self,
        name: String,
        permissions: Vec<String>,
    ) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::AuthModifyRoles, "auth-roles.define-role")?;
        Ok(self.adapter_unit(
            Component::MagAuth,
            Capability::AuthModifyRoles,
            "define_role",
            json!({"name": name, "permissions": permissions}),
        ))
    }
}

impl auth_audit::Host for HostState {
    fn read(&mut self, filter: String) -> wasmtime::Result<Result<String, String>> {
        self.allow(Capability::AuthAuditAccess, "auth-audit.read")?;
        Ok(self.adapter(
            Component::MagAuth,
            Capability::AuthAuditAccess,
            "read_audit",
            json!({"filter": filter}),
        ))
    }
}
