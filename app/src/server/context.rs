//! What every server function can reach: the store, the lifecycle manager's
//! store (its alerts), the sign-in throttle and the current settings. The server crate builds one [`AppContext`] at start and
//! provides it to every request.

use super::throttle::LoginThrottle;
use crate::api::providers::{BuiltInProvider, SignInProvider};
use crate::api::roles::RoleTemplate;
use crate::api::settings::Settings;
use magflock_kernel::lifecycle_store::LifecycleStore;
use magflock_store::Store;
use magflock_types::AuditEntry;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

/// A boxed future an [`AuthHooks`] method answers with.
pub type HookFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A handler of `permission_resolver` turned a platform "allow" into a deny.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookDenial {
    /// The extension that denied (`None` when a handler rewrote the
    /// decision instead of denying, which the dispatcher does not attribute).
    pub extension: Option<String>,
    pub reason: String,
}

/// MagAuth's extension hooks. The server implements this over the kernel's
/// dispatcher, so this crate needs none of the kernel's runtime pieces.
pub trait AuthHooks: Send + Sync {
    /// `permission_resolver`: offers a decision the platform already allowed
    /// (`payload` has the hook map's fields, `decision` is `"allow"`). A handler
    /// may only narrow it: `Some` means refuse.
    fn resolve_permission(&self, payload: serde_json::Value) -> HookFuture<'_, Option<HookDenial>>;
    /// `audit_emitter`: offers an entry after it is stored. Returns at once;
    /// never offers an entry recorded while offering one.
    fn emit_audit(&self, entry: &AuditEntry);
    /// The role templates the installed extensions defined.
    fn role_templates(&self) -> HookFuture<'_, Result<Vec<RoleTemplate>, String>>;
    /// The sign-in providers the running extensions contribute, validated;
    /// fires the `register_*_provider` hook of each valid one.
    fn sign_in_providers(&self) -> HookFuture<'_, Result<Vec<SignInProvider>, String>>;
}

#[derive(Clone)]
pub struct AppContext {
    pub store: Arc<dyn Store>,
    /// The lifecycle manager's state in the same database (the server passes
    /// the store its kernel host uses); MagUI reads and acknowledges alerts here.
    pub lifecycle: Arc<dyn LifecycleStore>,
    pub throttle: Arc<LoginThrottle>,
    /// The instance settings as last saved; read on every request, written by the
    /// settings page (which saves to the store first).
    pub settings: Arc<RwLock<Settings>>,
    pub started_at: i64,
    /// The kernel's event bus, where MagAuth publishes `auth.*` events (the
    /// server attaches it; `None` publishes nothing).
    pub bus: Option<Arc<magflock_kernel::Bus>>,
    /// The label of the OpenID Connect sign-in button ("Sign in with <label>"),
    /// when the server has a provider configured.
    pub sign_in_provider: Option<String>,
    /// The OpenID Connect provider the server is configured with, as the
    /// sign-in settings page shows it (never its secret).
    pub builtin_sign_in: Option<BuiltInProvider>,
    /// MagAuth's extension hooks (the server attaches them; `None` runs none).
    pub auth_hooks: Option<Arc<dyn AuthHooks>>,
    /// The running kernel MagUI manages (the server attaches it).
    pub console: Option<super::console::Console>,
}

impl AppContext {
    pub fn new(
        store: Arc<dyn Store>,
        lifecycle: Arc<dyn LifecycleStore>,
        settings: Settings,
    ) -> AppContext {
        AppContext {
            store,
            lifecycle,
            throttle: Arc::new(LoginThrottle::default()),
            settings: Arc::new(RwLock::new(settings)),
            started_at: magflock_store::now_millis(),
            bus: None,
            sign_in_provider: None,
            builtin_sign_in: None,
            auth_hooks: None,
            console: None,
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings.read().map(|s| s.clone()).unwrap_or_default()
    }
}

/// The client's address as the server decided it (the socket peer, or the
/// forwarded address when the server is told to trust its proxy).
#[derive(Clone, Debug, Default)]
pub struct ClientIp(pub Option<String>);
