//! MagGate, the API layer: an axum [`Router`] the server mounts.
//!
//! Guarantees (each module states its own in detail):
//! * Project API keys ([`keys`]): only hashes are stored, the key is shown
//!   once, and is never logged; a bad key is a 401 with a JSON error.
//! * MagUI sessions ([`admin`]): without a key, a signed-in admin's session
//!   authenticates; every platform route checks the role it needs.
//! * Projects ([`projects`], when MagDS is attached): list, create, delete,
//!   health and API keys of projects, every change audited.
//! * Personal access tokens ([`tokens`]) for the admin API and `mag`: they
//!   act as their user with the user's current role.
//! * The admin API ([`admin_api`], when the lifecycle is attached):
//!   extensions, catalog, approvals, grants, audit, events and health.
//! * Rate limits ([`limit`]) per key, or per peer address without one; an
//!   extension's `rate_limit_strategy` can only make them stricter.
//! * Extension endpoints ([`endpoints`]) under `/ext/<publisher>/<name>/…`
//!   and per API version under `/<version>/ext/…`, served only while the
//!   policy gate allows, with body and time limits; `register_endpoint` and
//!   `add_version` hear of new mounts and versions ([`versions`]).
//! * Filters ([`filters`], [`pipeline`]): `wrap_request` and `rbac_resolver`
//!   before routing, `transform_response` after, on every route, each under
//!   the failure policy its extension declared.
//! * Events ([`events`]) `api.request.received`, `api.response.sent`,
//!   `api.error.occurred`, `api.rate_limit.exceeded` on the kernel's bus;
//!   usage analytics ([`usage`]) for `usage_analytics_emitter`.
//! * `GET /openapi.json` ([`openapi`]) describes the live routes.
//! * One error type, [`GateError`], mapped to HTTP status in one place.
//!
//! Mount the router with connection info
//! (`into_make_service_with_connect_info::<SocketAddr>()`) so clients without
//! a key are told apart by address; behind a proxy every such client shares
//! the proxy's address (forwarding headers are not trusted).

pub mod admin;
pub mod admin_api;
pub mod endpoints;
mod error;
pub mod events;
pub mod filters;
mod kernel;
pub mod keys;
pub mod limit;
pub mod openapi;
pub mod pipeline;
pub mod projects;
pub mod tokens;
pub mod usage;
pub mod versions;

pub use admin::{AdminCaller, AdminSessions};
pub use error::{ErrorCode, GateError};
pub use kernel::{GateKernel, PermissionDenial};
pub use keys::{ApiKeys, Holder, IssuedKey, Principal};
pub use limit::Quota;
pub use usage::RouteUsage;

use axum::extract::State;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Extension, Json, Router};
use magflock_magds::MagDs;
use magflock_store::Store;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::events::EventSink;
use crate::limit::RateLimits;
use crate::pipeline::Caller;
use crate::usage::Usage;

/// The gateway's settings.
#[derive(Clone, Debug)]
pub struct GateConfig {
    /// The platform's quota per client (default 600 requests per 60 s).
    pub rate_limit: Quota,
    /// The largest request body an extension endpoint accepts (default 1 MiB).
    pub max_body_bytes: usize,
    /// The largest response `transform_response` filters can buffer (default 8 MiB).
    pub max_response_bytes: usize,
    /// Whether non-public routes need an API key (default true).
    pub require_api_key: bool,
    /// How often usage is offered to `usage_analytics_emitter` (default 60 s).
    pub usage_interval: Duration,
    /// Events waiting for the bus before new ones are dropped (default 10 000).
    pub event_queue: usize,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            rate_limit: Quota::new(600, 60),
            max_body_bytes: 1024 * 1024,
            max_response_bytes: 8 * 1024 * 1024,
            require_api_key: true,
            usage_interval: Duration::from_secs(60),
            event_queue: 10_000,
        }
    }
}

/// Routes anyone may call without a key.
const PUBLIC: [&str; 1] = ["/openapi.json"];

struct Inner {
    kernel: GateKernel,
    keys: ApiKeys,
    limits: RateLimits,
    usage: Usage,
    events: EventSink,
    config: GateConfig,
    sessions: std::sync::OnceLock<Arc<dyn AdminSessions>>,
    magds: Option<Arc<MagDs>>,
    lifecycle: Option<Arc<magflock_lifecycle::Lifecycle>>,
    store: Arc<dyn Store>,
    /// Serialises [`Gateway::sync_routes`].
    route_sync: tokio::sync::Mutex<()>,
    /// What the last route sync saw.
    seen_mounts: Mutex<versions::Mounts>,
}

/// The gateway: cheap to clone (one shared state).
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl Gateway {
    /// A gateway over the running kernel and the control-plane store. Needs a
    /// Tokio runtime (it starts the event writer).
    pub fn new(kernel: GateKernel, store: Arc<dyn Store>, config: GateConfig) -> Gateway {
        let events = EventSink::spawn(kernel.bus.clone(), config.event_queue);
        Gateway {
            inner: Arc::new(Inner {
                keys: ApiKeys::new(store.clone()),
                limits: RateLimits::new(config.rate_limit),
                usage: Usage::default(),
                events,
                kernel,
                config,
                sessions: std::sync::OnceLock::new(),
                magds: None,
                lifecycle: None,
                store: store.clone(),
                route_sync: tokio::sync::Mutex::new(()),
                seen_mounts: Mutex::new(versions::Mounts::new()),
            }),
        }
    }

    fn configure(&mut self) -> &mut Inner {
        Arc::get_mut(&mut self.inner).expect("configure the gateway before cloning it")
    }

    /// Lets MagUI sessions authenticate (the server resolves them); once.
    pub fn attach_admin_sessions(&self, sessions: Arc<dyn AdminSessions>) {
        if self.inner.sessions.set(sessions).is_err() {
            tracing::warn!("admin sessions were already attached to the gateway");
        }
    }

    /// Serves the projects API over `magds`.
    pub fn with_projects(mut self, magds: Arc<MagDs>) -> Gateway {
        self.configure().magds = Some(magds);
        self
    }

    pub fn magds(&self) -> Option<&Arc<MagDs>> {
        self.inner.magds.as_ref()
    }

    /// Serves the admin API ([`admin_api`]) over `lifecycle`.
    pub fn with_lifecycle(mut self, lifecycle: Arc<magflock_lifecycle::Lifecycle>) -> Gateway {
        self.configure().lifecycle = Some(lifecycle);
        self
    }

    pub fn lifecycle(&self) -> Option<&Arc<magflock_lifecycle::Lifecycle>> {
        self.inner.lifecycle.as_ref()
    }

    /// The control-plane store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The signed-in MagUI user of a request, if sessions are attached.
    pub async fn admin_session(
        &self,
        request: &http::Extensions,
    ) -> Result<Option<AdminCaller>, GateError> {
        match self.inner.sessions.get() {
            Some(sessions) => sessions.admin(request).await,
            None => Ok(None),
        }
    }

    pub(crate) fn route_sync(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.route_sync
    }
    pub(crate) fn seen_mounts(&self) -> versions::Mounts {
        self.inner.seen_mounts.lock().expect("mounts lock").clone()
    }
    pub(crate) fn remember_mounts(&self, mounts: versions::Mounts) {
        *self.inner.seen_mounts.lock().expect("mounts lock") = mounts;
    }

    pub fn keys(&self) -> &ApiKeys {
        &self.inner.keys
    }
    pub fn config(&self) -> &GateConfig {
        &self.inner.config
    }
    pub fn kernel(&self) -> &GateKernel {
        &self.inner.kernel
    }
    pub fn events(&self) -> &EventSink {
        &self.inner.events
    }
    pub fn usage(&self) -> &Usage {
        &self.inner.usage
    }
    pub(crate) fn limits(&self) -> &RateLimits {
        &self.inner.limits
    }

    pub fn is_public(&self, path: &str) -> bool {
        PUBLIC.contains(&path)
    }

    /// The OpenAPI document of the routes served now.
    pub fn openapi(&self) -> Value {
        openapi::document(self.kernel(), self.magds().is_some())
    }

    /// The router: platform routes and extension endpoints, inside the
    /// gateway's layers.
    pub fn router(&self) -> Router {
        let mut routes = Router::new()
            .route("/openapi.json", get(openapi_json))
            .route("/v1/whoami", get(whoami))
            .route("/ext/{publisher}/{name}/{*path}", any(endpoints::serve))
            .route(
                "/{version}/ext/{publisher}/{name}/{*path}",
                any(endpoints::serve),
            )
            .merge(tokens::routes());
        if self.magds().is_some() {
            routes = routes.merge(projects::routes());
        }
        if self.lifecycle().is_some() {
            routes = routes.merge(admin_api::routes());
        }
        let routes = routes
            .route_layer(from_fn(pipeline::tag_route))
            .fallback(not_found)
            .with_state(self.clone());
        Router::new()
            .fallback_service(routes)
            .layer(from_fn_with_state(self.clone(), pipeline::filter))
            .layer(from_fn_with_state(self.clone(), pipeline::rate_limit))
            .layer(from_fn_with_state(self.clone(), pipeline::authenticate))
            .layer(from_fn_with_state(self.clone(), pipeline::observe))
    }

    /// Offers every route's usage to `usage_analytics_emitter` now; returns
    /// how many routes were reported (0 when no extension handles the hook).
    pub async fn emit_usage(&self) -> Result<usize, GateError> {
        if !self.kernel().has_handlers("usage_analytics_emitter") {
            return Ok(0);
        }
        let routes = self.usage().snapshot();
        for route in &routes {
            let payload = route.payload(self.usage().since_ms());
            self.kernel()
                .dispatch("usage_analytics_emitter", &payload)
                .await?;
        }
        Ok(routes.len())
    }

    /// Reports usage every [`GateConfig::usage_interval`] until aborted.
    pub fn spawn_usage_emitter(&self) -> tokio::task::JoinHandle<()> {
        let gateway = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(gateway.config().usage_interval);
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(e) = gateway.emit_usage().await {
                    tracing::warn!("usage report failed: {e}");
                }
            }
        })
    }
}

async fn openapi_json(State(gw): State<Gateway>) -> Json<Value> {
    Json(gw.openapi())
}

async fn whoami(
    Extension(caller): Extension<Caller>,
    headers: http::HeaderMap,
) -> Result<Json<Value>, GateError> {
    let tagged_by = headers
        .get(filters::TAGGED_BY_HEADER)
        .and_then(|v| v.to_str().ok());
    let kind = if caller.token_id.is_some() {
        "personal_token"
    } else {
        "session"
    };
    match (caller.principal, caller.admin) {
        (Some(key), _) => Ok(Json(json!({
            "kind": "api_key",
            "key_id": key.key_id,
            "project": key.project,
            "name": key.name,
            "prefix": key.prefix,
            "tagged_by": tagged_by,
        }))),
        (None, Some(admin)) => Ok(Json(json!({
            "kind": kind,
            "user_id": admin.user_id,
            "email": admin.email,
            "role": admin.role.as_str(),
            "tagged_by": tagged_by,
        }))),
        (None, None) => Err(GateError::MissingKey),
    }
}

async fn not_found(uri: http::Uri) -> impl IntoResponse {
    GateError::NotFound(format!("no route for {}", uri.path()))
}
