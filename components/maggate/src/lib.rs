//! MagGate, the API layer: an axum [`Router`] the server mounts.
//!
//! Guarantees (each module states its own in detail):
//! * Project API keys ([`keys`]): only hashes are stored, the key is shown
//!   once, and is never logged; a bad key is a 401 with a JSON error.
//! * Rate limits ([`limit`]) per key, or per peer address without one; an
//!   extension's `rate_limit_strategy` can only make them stricter.
//! * Extension endpoints ([`endpoints`]) under `/ext/<publisher>/<name>/…`,
//!   served only while the policy gate allows, with body and time limits.
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

pub mod endpoints;
mod error;
pub mod events;
pub mod filters;
mod kernel;
pub mod keys;
pub mod limit;
pub mod openapi;
pub mod pipeline;
pub mod usage;

pub use error::{ErrorCode, GateError};
pub use kernel::GateKernel;
pub use keys::{ApiKeys, IssuedKey, Principal};
pub use limit::Quota;
pub use usage::RouteUsage;

use axum::extract::State;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Extension, Json, Router};
use magflock_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;
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
                keys: ApiKeys::new(store),
                limits: RateLimits::new(config.rate_limit),
                usage: Usage::default(),
                events,
                kernel,
                config,
            }),
        }
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
        openapi::document(self.kernel())
    }

    /// The router: platform routes and extension endpoints, inside the
    /// gateway's layers.
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route("/openapi.json", get(openapi_json))
            .route("/v1/whoami", get(whoami))
            .route("/ext/{publisher}/{name}/{*path}", any(endpoints::serve))
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
    let principal = caller.principal.ok_or(GateError::MissingKey)?;
    let tagged_by = headers
        .get(filters::TAGGED_BY_HEADER)
        .and_then(|v| v.to_str().ok());
    Ok(Json(json!({
        "key_id": principal.key_id,
        "project": principal.project,
        "name": principal.name,
        "prefix": principal.prefix,
        "tagged_by": tagged_by,
    })))
}

async fn not_found(uri: http::Uri) -> impl IntoResponse {
    GateError::NotFound(format!("no route for {}", uri.path()))
}
