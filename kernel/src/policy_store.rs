//! Durable, audited changes to the policy gate.
//!
//! Guarantees: an admin's grant, revocation, enable or disable is stored
//! ([`PolicyStore`]) and audited (flushed) before [`Policy`] reports success;
//! if storing fails the gate is put back exactly as it was and the error is
//! returned. A quarantine takes effect in the gate at once (the next call is
//! refused) and is then stored, so it survives a restart.

use async_trait::async_trait;
use magflock_types::Outcome;
use serde_json::json;
use std::sync::Arc;

use crate::audit::{Actor, AuditSink};
use crate::policy::{ExtensionPolicy, Grant, PolicyGate, Status};
use crate::{Capability, KernelError};

/// Where extension policies live (the control-plane database).
#[async_trait]
pub trait PolicyStore: Send + Sync {
    async fn load_policies(&self) -> Result<Vec<ExtensionPolicy>, KernelError>;
    /// Inserts or replaces the record of `policy.extension`, unless the stored
    /// record has a higher revision (a late write of an older snapshot).
    async fn save_policy(&self, policy: &ExtensionPolicy) -> Result<(), KernelError>;
    async fn delete_policy(&self, extension: &str) -> Result<(), KernelError>;
}

/// The admin-facing side of the gate.
#[derive(Clone)]
pub struct Policy {
    pub gate: Arc<PolicyGate>,
    store: Arc<dyn PolicyStore>,
    audit: Arc<dyn AuditSink>,
}

impl Policy {
    pub fn new(
        gate: Arc<PolicyGate>,
        store: Arc<dyn PolicyStore>,
        audit: Arc<dyn AuditSink>,
    ) -> Policy {
        Policy { gate, store, audit }
    }

    /// Restores every stored record for extensions the gate has registered;
    /// records of unknown extensions are left in the store untouched. A
    /// record holding grants its manifest no longer requests is stored again
    /// without them (the gate dropped them), so the store agrees with the gate.
    pub async fn restore(&self) -> Result<usize, KernelError> {
        let mut restored = 0;
        for policy in self.store.load_policies().await? {
            if self.gate.status(&policy.extension).is_some() {
                self.gate.restore(&policy)?;
                restored += 1;
                if let Some(now) = self.gate.snapshot(&policy.extension)
                    && now.grants != policy.grants
                {
                    self.store.save_policy(&now).await?;
                }
            }
        }
        Ok(restored)
    }

    pub async fn grant(
        &self,
        extension: &str,
        grant: Grant,
        by: &Actor,
    ) -> Result<(), KernelError> {
        let detail =
            json!({ "extension": extension, "capability": grant.capability, "hosts": grant.hosts });
        let capability = grant.capability;
        self.change(
            extension,
            by,
            "extension.capability_granted",
            Some(capability),
            detail,
            |gate| gate.grant(extension, grant),
        )
        .await
    }

    pub async fn revoke(
        &self,
        extension: &str,
        capability: Capability,
        by: &Actor,
    ) -> Result<(), KernelError> {
        let detail = json!({ "extension": extension, "capability": capability });
        self.change(
            extension,
            by,
            "extension.capability_revoked",
            Some(capability),
            detail,
            |gate| gate.revoke(extension, capability).map(|_| ()),
        )
        .await
    }

    /// Enables the extension; lifts a quarantine.
    pub async fn enable(&self, extension: &str, by: &Actor) -> Result<(), KernelError> {
        let before = self.gate.status(extension);
        let detail = json!({ "extension": extension, "previous": before });
        self.change(extension, by, "extension.enabled", None, detail, |gate| {
            gate.enable(extension)
        })
        .await
    }

    pub async fn disable(&self, extension: &str, by: &Actor) -> Result<(), KernelError> {
        let detail = json!({ "extension": extension });
        self.change(extension, by, "extension.disabled", None, detail, |gate| {
            gate.disable(extension)
        })
        .await
    }

    /// Forgets an extension entirely (at uninstall, or when an install is
    /// rolled back): its gate entry and its stored record.
    pub async fn forget(&self, extension: &str) -> Result<(), KernelError> {
        self.gate.unregister(extension);
        self.store.delete_policy(extension).await
    }

    /// Stores a quarantine the sandbox already applied to the gate.
    pub async fn persist(&self, extension: &str) -> Result<(), KernelError> {
        match self.gate.snapshot(extension) {
            Some(policy) => self.store.save_policy(&policy).await,
            None => Ok(()),
        }
    }

    async fn change(
        &self,
        extension: &str,
        by: &Actor,
        action: &str,
        capability: Option<Capability>,
        detail: serde_json::Value,
        apply: impl FnOnce(&PolicyGate) -> Result<(), KernelError>,
    ) -> Result<(), KernelError> {
        let before = self
            .gate
            .snapshot(extension)
            .ok_or_else(|| KernelError::UnknownExtension(extension.to_string()))?;
        if let Err(err) = apply(&self.gate) {
            self.audit.record(by.entry(
                action,
                Some(extension),
                Outcome::Failure,
                json!({
                    "extension": extension, "capability": capability, "error": err.to_string(),
                }),
            ));
            self.audit.flush().await?;
            return Err(err);
        }
        let after = self.gate.snapshot(extension).expect("registered above");
        if let Err(err) = self.store.save_policy(&after).await {
            // Put back what was there, as a newer revision, so the gate and the
            // store agree again and no later write is shadowed.
            let mut back = before;
            back.revision = after.revision + 1;
            self.gate.restore(&back)?;
            return Err(err);
        }
        self.audit
            .record(by.entry(action, Some(extension), Outcome::Success, detail));
        self.audit.flush().await
    }

    pub fn status(&self, extension: &str) -> Option<Status> {
        self.gate.status(extension)
    }
}
