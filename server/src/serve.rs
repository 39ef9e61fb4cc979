//! Start-up: open the store, apply first-run settings, wire the HTTP stack and
//! listen.
//!
//! Guarantees: nothing listens until the store is open and migrated; every
//! start-up failure is a [`StartError`] naming its setting; [`Running::stop`]
//! finishes in-flight requests before returning.

use crate::cli::create_account_from_env;
use crate::components::GatewaySessions;
use crate::http_layers::{self, LayerConfig};
use crate::kernel_host::KernelHost;
use crate::magauth::MagAuthHooks;
use crate::oidc::Oidc;
use crate::sessions::DbSessionStore;
use crate::{Config, StartError};
use axum::Router;
use axum::handler::Handler;
use axum::middleware::{from_fn, from_fn_with_state, map_response};
use leptos::prelude::provide_context;
use leptos_axum::{
    AxumRouteListing, LeptosRoutes, file_and_error_handler_with_context, generate_route_list,
};
use magflock_app::api::providers::BuiltInProvider;
use magflock_app::api::settings::Settings;
use magflock_app::server::AppContext;
use magflock_app::{App, shell};
use magflock_kernel::lifecycle_store::LifecycleStore;
use magflock_store::{SqlStore, Store, StoreError, redact_url};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// The setting that decides the listening address.
const ADDR_SETTING: &str = "LEPTOS_SITE_ADDR (site-addr in Leptos.toml)";
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "magflock_session";

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    /// True while no account exists (the first visitor creates the owner).
    pub setup_needed: bool,
    pub store: Arc<dyn Store>,
    /// The extension kernel (policy gate, bus, sandbox).
    pub kernel: Arc<KernelHost>,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting connections, finishes in-flight requests, and returns.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }

    /// Stops when `signal` completes.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let Running { shutdown, task, .. } = self;
        tokio::select! {
            result = task => return result.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            _ = signal => {}
        }
        let _ = shutdown.send(());
        Ok(())
    }
}

/// Opens the control-plane store named by `DATABASE_URL`.
pub async fn open_store(database_url: &str) -> Result<Arc<SqlStore>, StartError> {
    match SqlStore::open(database_url).await {
        Ok(store) => Ok(Arc::new(store)),
        Err(StoreError::Unavailable(problem)) => Err(StartError::config(
            "DATABASE_URL",
            format!(
                "cannot reach the database at {}: {problem}",
                redact_url(database_url)
            ),
        )),
        Err(other) => Err(other.into()),
    }
}

/// MagUI's routes, generated once per process. While Leptos generates them
/// it suspends resource loading in the whole process (a global flag,
/// leptos#4773): a page another server in this process renders at that
/// moment would wait forever. Servers started after the first (the tests
/// start many) reuse the list instead.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub async fn start(config: Config) -> Result<Running, StartError> {
    let sql_store = open_store(&config.database_url).await?;
    let kernel = Arc::new(KernelHost::start(sql_store.clone(), &config).await?);
    let lifecycle_store: Arc<dyn LifecycleStore> = sql_store.clone();
    let store: Arc<dyn Store> = sql_store;
    create_account_from_env(store.as_ref()).await?;
    let (settings, bad) = Settings::from_pairs(&store.settings_all().await?);
    for key in bad {
        tracing::warn!(setting = %key, "stored setting is invalid; using its default");
    }
    let setup_needed = store.user_count().await? == 0;
    let mut ctx = AppContext::new(store.clone(), lifecycle_store, settings.clone());
    ctx.bus = Some(kernel.bus.clone());
    ctx.sign_in_provider = config.oidc.as_ref().map(|o| o.name.clone());
    ctx.auth_hooks = Some(Arc::new(MagAuthHooks::start(
        kernel.gateway.kernel().clone(),
        kernel.store.clone(),
        kernel.audit_writer.subscribe(),
    )));
    ctx.console = Some(magflock_app::server::Console {
        lifecycle: kernel.lifecycle.clone(),
        kernel: kernel.gateway.kernel().clone(),
        magds: kernel.magds.clone(),
        // The gateway's own keys: a revoke from MagUI is refused at once.
        keys: kernel.gateway.keys().clone(),
    });
    kernel
        .gateway
        .attach_admin_sessions(Arc::new(GatewaySessions { ctx: ctx.clone() }));

    let sessions = DbSessionStore::new(store.clone());
    sessions.spawn_sweeper(Duration::from_secs(600));
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(i64::from(
            settings.session_idle_minutes,
        ))));

    let listener = tokio::net::TcpListener::bind(config.site_addr()).await.map_err(|e| StartError::Bind {
        setting: ADDR_SETTING,
        addr: config.site_addr().to_string(),
        problem: if e.kind() == std::io::ErrorKind::AddrInUse {
            "the address is already in use (is MagFlock already running?); stop that program or choose another address".into()
        } else {
            e.to_string()
        },
    })?;
    let addr = listener.local_addr()?;
    let oidc_routes = match &config.oidc {
        Some(oidc) => {
            let base = config
                .public_origin
                .clone()
                .unwrap_or_else(|| format!("http://{addr}"));
            ctx.builtin_sign_in = Some(BuiltInProvider {
                name: oidc.name.clone(),
                issuer: oidc.issuer.clone(),
                client_id: oidc.client_id.clone(),
                redirect_uri: format!("{base}{}", crate::oidc::CALLBACK_PATH),
                confidential: oidc.client_secret.is_some(),
                default_role: oidc.default_role,
            });
            let oidc = Oidc::new(oidc.clone(), &base, ctx.clone())
                .map_err(|e| StartError::config("MAGFLOCK_OIDC_ISSUER", e))?;
            Arc::new(oidc).router()
        }
        None => Router::new(),
    };
    let layer_config = Arc::new(LayerConfig {
        trust_proxy: config.trust_proxy,
        public_origin: config.public_origin.clone(),
    });
    let options = config.leptos.clone();
    let routes = route_list();
    let provide = {
        let ctx = ctx.clone();
        move || provide_context(ctx.clone())
    };
    let app = Router::new()
        .leptos_routes_with_context(&options, routes, provide.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(
            file_and_error_handler_with_context(provide, shell)
                .layer(map_response(http_layers::revalidate_site_files)),
        )
        .with_state(options)
        .nest("/gateway", kernel.gateway.router())
        .nest("/realtime", crate::realtime::router(&kernel))
        .merge(oidc_routes)
        .merge(crate::audit_export::router(ctx.clone()))
        .layer(session_layer)
        .layer(from_fn_with_state(
            layer_config.clone(),
            http_layers::cross_origin_guard,
        ))
        .layer(from_fn_with_state(layer_config, http_layers::client_ip))
        .layer(from_fn(http_layers::security_headers));

    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .await
    });
    Ok(Running {
        addr,
        setup_needed,
        store,
        kernel,
        shutdown,
        task,
    })
}
