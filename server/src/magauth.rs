//! MagAuth's extension hooks wired for the server.
//!
//! * [`MagAuthHooks`] is MagUI's [`AuthHooks`]: `permission_resolver` runs in
//!   `guard::require` after the platform allowed a call (handlers may only
//!   narrow it to a deny; a dispatch error leaves the platform's decision);
//!   `audit_emitter` is offered every entry MagUI's audit recorder stored, in
//!   order, by one background task (the caller never waits; a full queue
//!   drops the offer with a warning). An entry recorded while an offer runs
//!   is never offered again. Entries the kernel's own audit writer stores
//!   (hook runs, lifecycle steps) are not offered.
//! * [`MagAuthAdapter`] takes the sandbox's `auth.*` host calls:
//!   `auth-roles.define-role` validates the template, stores it in the
//!   defining extension's key-value store under `magauth.role_template/<name>`
//!   (so it goes with the extension when it is uninstalled) and then fires
//!   `role_template` (`{project_id, roles}`) without waiting for it. A
//!   template only describes permissions: nothing grants from it, and it may
//!   not take a platform role's name.
//! * [`AuthHooks::sign_in_providers`] asks each running extension holding
//!   `auth.register_provider` for the configuration of every provider its
//!   manifest contributes (`[contributes] auth_providers`), by running its
//!   command `provider-<id>`, which answers JSON `{"protocol", "issuer",
//!   "client_id", ...}`. Only those three fields are read (nothing else is
//!   kept, returned or logged: a configuration may carry secrets). A valid one
//!   fires `register_oidc_provider`, `register_saml_provider` or
//!   `register_sso_provider` (`{realm: <id>, extension, protocol}`) once per
//!   listing; an invalid one is listed with the reason and fires nothing.
//!   No provider adds a sign-in flow: OpenID Connect sign-in stays the one the
//!   server's `MAGFLOCK_OIDC_*` settings configure.

use magflock_app::api::providers::SignInProvider;
use magflock_app::api::roles::RoleTemplate;
use magflock_app::server::context::HookFuture;
use magflock_app::server::{AuthHooks, HookDenial};
use magflock_kernel::adapter::{Adapter, AdapterCall};
use magflock_kernel::dispatch::{Dispatched, Dispatcher};
use magflock_kernel::kv::KeyValueStore;
use magflock_kernel::lifecycle_store::LifecycleStore;
use magflock_kernel::manifest::ContributionKind;
use magflock_kernel::{Capability, Component};
use magflock_maggate::GateKernel;
use magflock_store::SqlStore;
use magflock_types::AuditEntry;
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// Where a template lives in its extension's key-value store.
pub const TEMPLATE_PREFIX: &str = "magauth.role_template/";
/// Entries waiting to be offered to `audit_emitter` handlers.
const AUDIT_QUEUE: usize = 1024;
const PLATFORM_ROLES: [&str; 3] = ["owner", "admin", "auditor"];

tokio::task_local! {
    /// Set while `audit_emitter` handlers run.
    static EMITTING: ();
}

/// The template `args` describe, if it is well formed.
fn template(extension: &str, args: &Value) -> Result<RoleTemplate, String> {
    let name = args["name"].as_str().unwrap_or_default();
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
    {
        return Err("a role template's name is 1 to 64 of a-z, 0-9, '-', '_', '.'".into());
    }
    if PLATFORM_ROLES.contains(&name) {
        return Err(format!(
            "'{name}' is a platform role; a template cannot redefine it"
        ));
    }
    let permissions: Vec<String> = match args["permissions"].as_array() {
        Some(list) => list
            .iter()
            .map(|p| p.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or("permissions must be strings")?,
        None => return Err("permissions must be a list".into()),
    };
    if permissions.len() > 64
        || permissions
            .iter()
            .any(|p| p.is_empty() || p.len() > 128 || p.chars().any(char::is_control))
    {
        return Err("a role template has at most 64 permissions of 1 to 128 characters".into());
    }
    Ok(RoleTemplate {
        extension: extension.to_string(),
        name: name.to_string(),
        permissions,
    })
}

/// The most of a `provider-<id>` answer read.
const PROVIDER_ANSWER_MAX: usize = 16 * 1024;
/// The most of a guest's error message shown in a provider's status.
const PROVIDER_ERROR_MAX: usize = 200;

/// The hook announcing a provider of `protocol`, and what this build does with one.
fn provider_protocol(protocol: &str) -> Option<(&'static str, &'static str)> {
    match protocol {
        "oidc" => Some((
            "register_oidc_provider",
            "Registered. OpenID Connect sign-in is available only as the server's MAGFLOCK_OIDC_* settings configure it; this configuration adds no sign-in of its own.",
        )),
        "saml" => Some((
            "register_saml_provider",
            "Registered. SAML sign-in is not available in this build (no maintained SAML crate without libxmlsec1 was added).",
        )),
        "sso" => Some((
            "register_sso_provider",
            "Registered. Generic SSO sign-in is not available in this build; single sign-on works through OpenID Connect (the server's MAGFLOCK_OIDC_* settings).",
        )),
        _ => None,
    }
}

/// A string field of `config` fit to show: at most `max` bytes, no control characters.
fn shown(config: &Value, field: &str, max: usize) -> Option<String> {
    config[field]
        .as_str()
        .filter(|v| !v.is_empty() && v.len() <= max && !v.chars().any(char::is_control))
        .map(str::to_string)
}

/// The provider `answer` (the `provider-<id>` command's output, or its
/// error) configures, checked; returns it and, when valid, its hook.
fn provider(
    extension: &str,
    id: &str,
    title: Option<String>,
    answer: Result<String, String>,
) -> (SignInProvider, Option<&'static str>) {
    let mut listed = SignInProvider {
        extension: extension.to_string(),
        id: id.to_string(),
        title,
        protocol: None,
        issuer: None,
        client_id: None,
        valid: false,
        status: String::new(),
    };
    let config = match answer {
        Err(e) => {
            let e: String = e.chars().take(PROVIDER_ERROR_MAX).collect();
            listed.status = format!("invalid: the command provider-{id} failed: {e}");
            return (listed, None);
        }
        Ok(text) if text.len() > PROVIDER_ANSWER_MAX => {
            listed.status =
                format!("invalid: the configuration is over {PROVIDER_ANSWER_MAX} bytes");
            return (listed, None);
        }
        Ok(text) => serde_json::from_str::<Value>(&text)
            .ok()
            .filter(Value::is_object),
    };
    let Some(config) = config else {
        listed.status = "invalid: the configuration is not a JSON object".into();
        return (listed, None);
    };
    listed.protocol = shown(&config, "protocol", 16);
    listed.issuer = shown(&config, "issuer", 2048);
    listed.client_id = shown(&config, "client_id", 256);
    let protocol = listed.protocol.as_deref().and_then(provider_protocol);
    let issuer_ok = listed.issuer.as_deref().is_some_and(|i| {
        url::Url::parse(i)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
    });
    let reason = if listed.protocol.is_none() {
        Some("protocol is missing (oidc, saml or sso)".to_string())
    } else if protocol.is_none() {
        Some(format!(
            "unknown protocol '{}' (oidc, saml or sso)",
            listed.protocol.as_deref().unwrap_or_default()
        ))
    } else if !issuer_ok {
        Some("issuer must be an https or http URL".to_string())
    } else if listed.client_id.is_none() {
        Some("client_id is missing".to_string())
    } else {
        None
    };
    match (reason, protocol) {
        (None, Some((hook, status))) => {
            listed.valid = true;
            listed.status = status.to_string();
            (listed, Some(hook))
        }
        (reason, _) => {
            listed.status = format!("invalid: {}", reason.unwrap_or_default());
            (listed, None)
        }
    }
}

/// The sandbox's `auth.*` host calls.
pub struct MagAuthAdapter {
    store: Arc<SqlStore>,
    runtime: Handle,
    dispatcher: OnceLock<Arc<Dispatcher>>,
}

impl MagAuthAdapter {
    /// Call on the server's runtime.
    pub fn new(store: Arc<SqlStore>) -> MagAuthAdapter {
        MagAuthAdapter {
            store,
            runtime: Handle::current(),
            dispatcher: OnceLock::new(),
        }
    }

    /// Connects the dispatcher (made after the sandbox this adapter serves).
    pub fn connect(&self, dispatcher: Arc<Dispatcher>) {
        let _ = self.dispatcher.set(dispatcher);
    }

    fn define_role(&self, extension: &str, args: &Value) -> Result<String, String> {
        let template = template(extension, args)?;
        let key = format!("{TEMPLATE_PREFIX}{}", template.name);
        let value = json!({"name": template.name, "permissions": template.permissions});
        magflock_sandbox::wait_for(
            &self.runtime,
            self.store
                .kv_set(extension, &key, value.to_string().as_bytes()),
        )
        .map_err(|e| format!("cannot store the role template: {e}"))?;
        let project = magflock_sandbox::wait_for(&self.runtime, self.store.installation(extension))
            .ok()
            .flatten()
            .and_then(|i| serde_json::from_str::<Value>(&i.config).ok())
            .and_then(|c| c["project"].as_str().map(str::to_string));
        if let Some(dispatcher) = self.dispatcher.get().cloned() {
            let payload = json!({"project_id": project, "roles": [template]}).to_string();
            self.runtime.spawn_blocking(move || {
                if let Err(e) = dispatcher.dispatch("role_template", &payload) {
                    tracing::warn!("role_template hook: {e}");
                }
            });
        }
        Ok(String::new())
    }
}

impl Adapter for MagAuthAdapter {
    fn component(&self) -> Component {
        Component::MagAuth
    }

    fn execute(&self, call: &AdapterCall) -> Result<String, String> {
        let args: Value = serde_json::from_str(&call.args).map_err(|e| e.to_string())?;
        match call.operation.as_str() {
            "define_role" => self.define_role(&call.extension, &args),
            other => Err(format!("MagAuth has no operation '{other}' in this build")),
        }
    }
}

/// MagUI's MagAuth hooks over the kernel's dispatcher.
pub struct MagAuthHooks {
    kernel: GateKernel,
    store: Arc<SqlStore>,
    audit: mpsc::Sender<AuditEntry>,
}

impl MagAuthHooks {
    /// Starts the task that offers audit entries (call on the server's
    /// runtime; it ends when these hooks are dropped).
    pub fn start(kernel: GateKernel, store: Arc<SqlStore>) -> MagAuthHooks {
        let (audit, mut queue) = mpsc::channel::<AuditEntry>(AUDIT_QUEUE);
        let emitter = kernel.clone();
        tokio::spawn(EMITTING.scope((), async move {
            while let Some(entry) = queue.recv().await {
                let payload = json!({"entry": entry});
                if let Err(e) = emitter.dispatch("audit_emitter", &payload).await {
                    tracing::warn!("audit_emitter hook: {e}");
                }
            }
        }));
        MagAuthHooks {
            kernel,
            store,
            audit,
        }
    }
}

impl AuthHooks for MagAuthHooks {
    fn resolve_permission(&self, payload: Value) -> HookFuture<'_, Option<HookDenial>> {
        Box::pin(async move {
            match self.kernel.dispatch("permission_resolver", &payload).await {
                Ok(Dispatched::Denied { extension, reason }) => Some(HookDenial {
                    extension: Some(extension),
                    reason,
                }),
                Ok(Dispatched::Proceed { payload }) => {
                    let decision = serde_json::from_str::<Value>(&payload)
                        .ok()
                        .and_then(|v| v["decision"].as_str().map(str::to_string));
                    // Only narrowing counts: anything but "allow" refuses.
                    (decision.as_deref() != Some("allow")).then(|| HookDenial {
                        extension: None,
                        reason: format!(
                            "a permission_resolver handler changed the decision to {}",
                            decision.as_deref().unwrap_or("nothing")
                        ),
                    })
                }
                Err(e) => {
                    tracing::warn!("permission_resolver hook: {e}; the platform's decision stands");
                    None
                }
            }
        })
    }

    fn emit_audit(&self, entry: &AuditEntry) {
        if EMITTING.try_with(|()| ()).is_ok() || !self.kernel.has_handlers("audit_emitter") {
            return;
        }
        if self.audit.try_send(entry.clone()).is_err() {
            tracing::warn!(
                seq = entry.seq,
                "audit_emitter queue is full; entry not offered"
            );
        }
    }

    fn role_templates(&self) -> HookFuture<'_, Result<Vec<RoleTemplate>, String>> {
        Box::pin(async move {
            let mut templates = Vec::new();
            let installations = self
                .store
                .installations()
                .await
                .map_err(|e| e.to_string())?;
            for installation in installations {
                let id = installation.extension;
                let keys = self
                    .store
                    .kv_keys(&id, TEMPLATE_PREFIX)
                    .await
                    .map_err(|e| e.to_string())?;
                for key in keys {
                    let Some(bytes) = self
                        .store
                        .kv_get(&id, &key)
                        .await
                        .map_err(|e| e.to_string())?
                    else {
                        continue;
                    };
                    // The extension can write its own store: keep only well-formed ones.
                    let stored = serde_json::from_slice::<Value>(&bytes).unwrap_or_default();
                    if let Ok(t) = template(&id, &stored) {
                        templates.push(t);
                    }
                }
            }
            templates.sort_by(|a, b| (&a.extension, &a.name).cmp(&(&b.extension, &b.name)));
            Ok(templates)
        })
    }

    fn sign_in_providers(&self) -> HookFuture<'_, Result<Vec<SignInProvider>, String>> {
        Box::pin(async move {
            let mut providers = Vec::new();
            for loaded in self.kernel.sandbox.loaded() {
                let id = loaded.id().to_string();
                let gate = &self.kernel.gate;
                if gate.may_run(&id).is_err()
                    || gate.check(&id, Capability::AuthRegisterProvider).is_err()
                {
                    continue;
                }
                let contributed: Vec<(String, Option<String>)> = loaded
                    .manifest()
                    .contributions
                    .iter()
                    .filter(|c| c.kind == ContributionKind::AuthProvider)
                    .map(|c| (c.id.clone(), c.title.clone()))
                    .collect();
                for (realm, title) in contributed {
                    let runner = loaded.clone();
                    let command = format!("provider-{realm}");
                    let answer = tokio::task::spawn_blocking(move || {
                        runner.run_command(&command, &[], magflock_sandbox::CallMode::Warm)
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| match e {
                        magflock_sandbox::SandboxError::Guest { message, .. } => message,
                        other => other.to_string(),
                    });
                    let (listed, hook) = provider(&id, &realm, title, answer);
                    if let Some(hook) = hook {
                        let payload =
                            json!({"realm": realm, "extension": id, "protocol": listed.protocol});
                        if let Err(e) = self.kernel.dispatch(hook, &payload).await {
                            tracing::warn!(extension = %id, realm = %realm, "{hook} hook: {e}");
                        }
                    } else {
                        // The reason may quote the extension's own error: not logged.
                        tracing::warn!(
                            extension = %id,
                            realm = %realm,
                            "sign-in provider refused (the admin listing says why)"
                        );
                    }
                    providers.push(listed);
                }
            }
            providers.sort_by(|a, b| (&a.extension, &a.id).cmp(&(&b.extension, &b.id)));
            Ok(providers)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_configurations_are_checked() {
        let check = |answer: Result<&str, &str>| {
            provider(
                "x/y",
                "corp",
                None,
                answer.map(str::to_string).map_err(str::to_string),
            )
        };
        let (ok, hook) = check(Ok(
            r#"{"protocol": "oidc", "issuer": "https://id.example", "client_id": "c", "client_secret": "s"}"#,
        ));
        assert!(ok.valid, "{ok:?}");
        assert_eq!(hook, Some("register_oidc_provider"));
        assert!(!format!("{ok:?}").contains("client_secret"));
        for (answer, reason) in [
            (Ok("not json"), "not a JSON object"),
            (
                Ok(r#"{"issuer": "https://a", "client_id": "c"}"#),
                "protocol is missing",
            ),
            (
                Ok(r#"{"protocol": "ldap", "issuer": "https://a", "client_id": "c"}"#),
                "unknown protocol 'ldap'",
            ),
            (
                Ok(r#"{"protocol": "saml", "issuer": "ftp://a", "client_id": "c"}"#),
                "https or http URL",
            ),
            (
                Ok(r#"{"protocol": "sso", "issuer": "https://a"}"#),
                "client_id is missing",
            ),
            (Err("no such command"), "no such command"),
        ] {
            let (bad, hook) = check(answer);
            assert!(!bad.valid && hook.is_none(), "{bad:?}");
            assert!(
                bad.status.starts_with("invalid: ") && bad.status.contains(reason),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn templates_are_checked() {
        let ok = template(
            "x/y",
            &json!({"name": "reader", "permissions": ["audit.read"]}),
        );
        assert_eq!(ok.unwrap().permissions, vec!["audit.read"]);
        for bad in [
            json!({"name": "owner", "permissions": []}),
            json!({"name": "Bad Name", "permissions": []}),
            json!({"name": "", "permissions": []}),
            json!({"name": "r", "permissions": [1]}),
            json!({"name": "r", "permissions": [""]}),
            json!({"name": "r"}),
        ] {
            assert!(template("x/y", &bad).is_err(), "{bad}");
        }
    }
}
