//! The platform components the kernel mediates, wired for the server: MagDS
//! (project databases: PostgreSQL when `MAGDS_URL` is set, else SQLite files
//! under `<data dir>/magds`) with its adapter, and MagGate (the API layer,
//! mounted under `/gateway`).
//!
//! Guarantees: MagGate accepts a MagUI session only under the rules MagUI's
//! own pages apply ([`GatewaySessions`]). An extension's `database.*` host calls reach MagDS only
//! through the adapter, for the project its configuration names (`project`),
//! within its live grant; MagDS's hooks run through the kernel's dispatcher
//! once the kernel is up (before that nothing can have registered a hook).

use async_trait::async_trait;
use magflock_kernel::dispatch::Dispatcher;
use magflock_kernel::lifecycle_store::LifecycleStore;
use magflock_kernel::{Bus, PolicyGate};
use magflock_magds::{
    BusEvents, Denied, HookSink, KernelHooks, MagDs, MagDsAdapter, MagDsConfig, NoHooks,
};
use magflock_store::SqlStore;
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use tokio::runtime::Handle;

use magflock_app::AppError;
use magflock_app::server::context::AppContext;
use magflock_app::server::guard::session_user;
use magflock_maggate::{AdminCaller, AdminSessions, GateError};
use tower_sessions::Session;

use crate::{Config, StartError};

/// MagUI sessions for MagGate: the same validity rules as MagUI's pages
/// (absolute lifetime, disabled or deleted users end the session).
pub struct GatewaySessions {
    pub ctx: AppContext,
}

#[async_trait]
impl AdminSessions for GatewaySessions {
    async fn admin(&self, request: &http::Extensions) -> Result<Option<AdminCaller>, GateError> {
        let Some(session) = request.get::<Session>() else {
            return Ok(None);
        };
        match session_user(&self.ctx, session).await {
            Ok(user) => Ok(user.map(|u| AdminCaller {
                user_id: u.id,
                email: u.email,
                role: u.role,
            })),
            Err(AppError::Unavailable) => Err(GateError::Unavailable(
                "the session store is unavailable; try again shortly".into(),
            )),
            Err(e) => Err(GateError::Internal(format!("cannot read the session: {e}"))),
        }
    }
}

/// MagDS's hooks, which can only reach extensions once the dispatcher
/// exists (it needs the sandbox, which needs MagDS's adapter).
#[derive(Default)]
pub struct LateHooks {
    kernel: OnceLock<KernelHooks>,
}

impl LateHooks {
    pub fn connect(&self, dispatcher: Arc<Dispatcher>) {
        let _ = self.kernel.set(KernelHooks { dispatcher });
    }
}

#[async_trait]
impl HookSink for LateHooks {
    async fn filter(&self, hook: &'static str, payload: Value) -> Result<Value, Denied> {
        match self.kernel.get() {
            Some(kernel) => kernel.filter(hook, payload).await,
            None => NoHooks.filter(hook, payload).await,
        }
    }
    async fn action(&self, hook: &'static str, payload: Value) {
        match self.kernel.get() {
            Some(kernel) => kernel.action(hook, payload).await,
            None => NoHooks.action(hook, payload).await,
        }
    }
}

/// Opens MagDS on the configured engine.
pub async fn open_magds(
    config: &Config,
    hooks: Arc<LateHooks>,
    bus: Arc<Bus>,
) -> Result<Arc<MagDs>, StartError> {
    let magds_config = MagDsConfig::from_env(config.data_dir.join("magds"));
    MagDs::open(magds_config, hooks, Arc::new(BusEvents { bus }))
        .await
        .map(Arc::new)
        .map_err(|e| StartError::config("MAGDS_URL", format!("cannot open MagDS: {e}")))
}

/// The project an extension works in: the `project` its installation's
/// configuration names, read at each call (from a guest call: blocking or
/// inline, see `magflock_sandbox::wait_for`). MagDS and MagWS adapters share it.
pub fn project_binding(store: Arc<SqlStore>) -> magflock_magds::ProjectBinding {
    let runtime = Handle::current();
    Arc::new(move |extension: &str| -> Option<String> {
        let installation =
            magflock_sandbox::wait_for(&runtime, store.installation(extension)).ok()??;
        let config: Value = serde_json::from_str(&installation.config).ok()?;
        config["project"].as_str().map(str::to_string)
    })
}

/// The adapter the sandbox hands `database.*` calls to.
pub fn magds_adapter(
    magds: Arc<MagDs>,
    store: Arc<SqlStore>,
    gate: Arc<PolicyGate>,
    bus: Arc<Bus>,
) -> MagDsAdapter {
    MagDsAdapter::new(
        magds,
        project_binding(store),
        Arc::new(move |extension: &str| gate.granted(extension)),
        Arc::new(BusEvents { bus }),
    )
}
