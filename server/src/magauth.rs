//! MagAuth's extension hooks wired for the server.
//!
//! * [`MagAuthHooks`] is MagUI's [`AuthHooks`]: `permission_resolver` runs in
//!   `guard::require` after the platform allowed a call (handlers may only
//!   narrow it to a deny; a dispatch error leaves the platform's decision).
//!   MagGate's role checks ask it the same way
//!   (`GateKernel::resolve_permission`, the one reading of its answers).
//! * `audit_emitter` is offered every entry once stored: MagUI's (through
//!   [`AuthHooks::emit_audit`]) and the kernel audit writer's (host calls,
//!   hook runs, lifecycle steps, the gateway's refusals), each source in the
//!   order it stored them, by one background task through one bounded queue
//!   (nobody waits for it; what does not fit is dropped, counted and logged).
//!   The offers run inside `magflock_kernel::audit::unobserved`, so the
//!   entries their own work records (the hook runs, the handlers' host calls)
//!   are never offered: an offer cannot cause another. MagUI's
//!   `on_user_action` rides the same queue: every entry a signed-in user's
//!   action stored (MagUI, the admin API, `mag`) is offered to it as
//!   `{user_id, action, target}`, so each user action is audited first and
//!   told to extensions whether or not any listens.
//! * [`MagAuthAdapter`] takes the sandbox's `auth.*` host calls:
//!   `auth-audit.read` answers the audit log's entries matching a JSON
//!   filter (`actor`, `action`, `since`, `until`, `before_seq`, `limit` up
//!   to 100), newest first, as the Audit Log page lists them;
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
use magflock_kernel::audit::{is_unobserved, unobserved};
use magflock_kernel::dispatch::Dispatcher;
use magflock_kernel::kv::KeyValueStore;
use magflock_kernel::lifecycle_store::LifecycleStore;
use magflock_kernel::manifest::ContributionKind;
use magflock_kernel::{Capability, Component};
use magflock_maggate::GateKernel;
use magflock_store::{SqlStore, Store as _};
use magflock_types::{ActorKind, AuditEntry, AuditFilter};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::runtime::Handle;
use tokio::sync::{broadcast, mpsc};

/// Where a template lives in its extension's key-value store.
pub const TEMPLATE_PREFIX: &str = "magauth.role_template/";
/// Entries waiting to be offered to `audit_emitter` handlers.
const AUDIT_QUEUE: usize = 1024;
const PLATFORM_ROLES: [&str; 3] = ["owner", "admin", "auditor"];

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
            // An audit_emitter handler's work stays its own on the other thread.
            let quiet = is_unobserved();
            self.runtime.spawn_blocking(move || {
                let fire = || dispatcher.dispatch("role_template", &payload);
                let fired = if quiet { unobserved(fire) } else { fire() };
                if let Err(e) = fired {
                    tracing::warn!("role_template hook: {e}");
                }
            });
        }
        Ok(String::new())
    }

    fn read_audit(&self, args: &Value) -> Result<String, String> {
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Filter {
            actor: Option<String>,
            action: Option<String>,
            since: Option<i64>,
            until: Option<i64>,
            before_seq: Option<i64>,
            limit: Option<u32>,
        }
        let text = args["filter"].as_str().unwrap_or_default();
        let filter: Filter = if text.trim().is_empty() {
            Filter::default()
        } else {
            serde_json::from_str(text).map_err(|e| {
                format!("the audit filter must be a JSON object of actor, action, since, until, before_seq, limit: {e}")
            })?
        };
        let filter = AuditFilter {
            actor: filter.actor,
            action: filter.action,
            since: filter.since,
            until: filter.until,
            before_seq: filter.before_seq,
            limit: filter.limit.unwrap_or(20).clamp(1, 100),
            ..AuditFilter::default()
        };
        let page = magflock_sandbox::wait_for(&self.runtime, self.store.audit_list(&filter))
            .map_err(|e| format!("cannot read the audit log: {e}"))?;
        serde_json::to_string(&page).map_err(|e| e.to_string())
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
            "read_audit" => self.read_audit(&args),
            other => Err(format!("MagAuth has no operation '{other}' in this build")),
        }
    }
}

/// The queue of entries to offer to `audit_emitter`, and what it dropped.
#[derive(Clone)]
struct AuditOffers {
    queue: mpsc::Sender<AuditEntry>,
    dropped: Arc<AtomicU64>,
}

impl AuditOffers {
    /// Queues `entry` without waiting; a full queue drops it (counted, logged).
    fn push(&self, entry: AuditEntry) {
        if let Err(e) = self.queue.try_send(entry)
            && let mpsc::error::TrySendError::Full(entry) = e
        {
            self.lost(1, &format!("the queue is full (entry {})", entry.seq));
        }
    }

    fn lost(&self, n: u64, why: &str) {
        let total = self.dropped.fetch_add(n, Ordering::Relaxed) + n;
        tracing::warn!(lost = n, total, "audit_emitter: {why}; entries not offered");
    }
}

/// Whether anyone handles what `entry` would be offered as: every entry to
/// `audit_emitter`, a user's action also to MagUI's `on_user_action`.
fn wanted(kernel: &GateKernel, entry: &AuditEntry) -> bool {
    kernel.has_handlers("audit_emitter")
        || (is_user_action(entry) && kernel.has_handlers("on_user_action"))
}

/// An action a signed-in person took (MagUI, the admin API or `mag`).
fn is_user_action(entry: &AuditEntry) -> bool {
    entry.actor_kind == ActorKind::User
}

/// Offers `entry` to the `audit_emitter` handlers and, for a user's action,
/// to the `on_user_action` handlers (`{user_id, action, target}`), on a
/// blocking thread, with everything the offers record marked unobserved.
async fn offer(kernel: &GateKernel, entry: AuditEntry) {
    let user_action = is_user_action(&entry).then(|| {
        json!({"user_id": entry.actor_id, "action": entry.action, "target": entry.target})
            .to_string()
    });
    let payload = json!({"entry": entry}).to_string();
    let dispatcher = kernel.dispatcher.clone();
    let run = tokio::task::spawn_blocking(move || {
        unobserved(|| {
            let mut results = vec![(
                "audit_emitter",
                dispatcher.dispatch("audit_emitter", &payload),
            )];
            if let Some(action) = user_action {
                results.push((
                    "on_user_action",
                    dispatcher.dispatch("on_user_action", &action),
                ));
            }
            results
        })
    });
    match run.await {
        Ok(results) => {
            for (hook, result) in results {
                if let Err(e) = result {
                    tracing::warn!("{hook} hook: {e}");
                }
            }
        }
        Err(e) => tracing::warn!("audit offers: {e}"),
    }
}

/// MagUI's MagAuth hooks over the kernel's dispatcher.
pub struct MagAuthHooks {
    kernel: GateKernel,
    store: Arc<SqlStore>,
    offers: AuditOffers,
}

impl MagAuthHooks {
    /// Starts the tasks that offer audit entries: MagUI's, and the kernel
    /// audit writer's `stored` feed (`AuditWriter::subscribe`). Call on the
    /// server's runtime; they end with it.
    pub fn start(
        kernel: GateKernel,
        store: Arc<SqlStore>,
        mut stored: broadcast::Receiver<AuditEntry>,
    ) -> MagAuthHooks {
        let (queue, mut inbox) = mpsc::channel::<AuditEntry>(AUDIT_QUEUE);
        let offers = AuditOffers {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        let emitter = kernel.clone();
        tokio::spawn(async move {
            while let Some(entry) = inbox.recv().await {
                offer(&emitter, entry).await;
            }
        });
        let (forward, watched) = (offers.clone(), kernel.clone());
        tokio::spawn(async move {
            loop {
                match stored.recv().await {
                    Ok(entry) if wanted(&watched, &entry) => forward.push(entry),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        forward.lost(n, "fell behind the audit writer");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        MagAuthHooks {
            kernel,
            store,
            offers,
        }
    }
}

impl AuthHooks for MagAuthHooks {
    fn resolve_permission(&self, payload: Value) -> HookFuture<'_, Option<HookDenial>> {
        Box::pin(async move {
            self.kernel
                .resolve_permission(&payload)
                .await
                .map(|denial| HookDenial {
                    extension: denial.extension,
                    reason: denial.reason,
                })
        })
    }

    fn emit_audit(&self, entry: &AuditEntry) {
        if is_unobserved() || !wanted(&self.kernel, entry) {
            return;
        }
        self.offers.push(entry.clone());
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
