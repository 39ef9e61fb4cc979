//! The layers every request passes, outermost first:
//! [`observe`] → [`authenticate`] → [`rate_limit`] → [`filter`] → the routes.
//!
//! Guarantees:
//! * Every request gets an id (`x-request-id` on the response, the `trace_id`
//!   of its events), one `api.request.received` and one `api.response.sent`
//!   (route template, status, duration_ms), plus `api.error.occurred` for a
//!   5xx, and is counted in the usage analytics, whatever answered it.
//! * A request presenting a key is served only if the key is valid (a
//!   personal token acts as its user, with the user's current role); without
//!   a key (or a MagUI session) only public routes are served (unless the configuration does not
//!   require keys). Failed authentications count against the peer address's
//!   rate limit, so keys cannot be guessed at full speed.
//! * Every request is counted against its client's quota before any filter or
//!   route runs; over the limit it gets a 429 with `Retry-After` and
//!   `api.rate_limit.exceeded` is published.
//! * `wrap_request` (and `rbac_resolver` for key holders) run before routing,
//!   so a rewritten path is routed anew; a denial is a 403 with the
//!   extension's reason. `transform_response` runs on every response.
//!   Filters run only when some extension handles them.

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, header};
use magflock_kernel::dispatch::Dispatched;
use magflock_kernel::event::Context;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Instant;

use crate::admin::AdminCaller;
use crate::events::{ERROR_OCCURRED, RATE_LIMIT_EXCEEDED, REQUEST_RECEIVED, RESPONSE_SENT};
use crate::filters::{self, ResponseView};
use crate::keys::{Holder, Principal};
use crate::limit::{Quota, retry_after_secs};
use crate::{ErrorCode, GateError, Gateway};

/// Who is calling (set by [`authenticate`], on the request and the response).
#[derive(Clone, Debug)]
pub struct Caller {
    /// The API key presented, if any.
    pub principal: Option<Principal>,
    /// The MagUI user: from the session when no key was presented, or from
    /// a personal access token.
    pub admin: Option<AdminCaller>,
    /// The personal access token's id when `admin` came from one.
    pub token_id: Option<String>,
    /// `key:<key id>`, `user:<user id>` or `ip:<peer address>`.
    pub client_id: String,
    /// The path routed (after `wrap_request`), as role checks offer it to
    /// `permission_resolver`, e.g. `/v1/audit/verify`.
    pub resource: String,
}

impl Caller {
    fn anonymous(client_id: String, resource: &str) -> Caller {
        Caller {
            principal: None,
            admin: None,
            token_id: None,
            client_id,
            resource: resource.to_string(),
        }
    }

    /// Whether a key or a session identified the caller.
    pub fn is_authenticated(&self) -> bool {
        self.principal.is_some() || self.admin.is_some()
    }
}

/// The request's id (a UUID v7), also its events' `trace_id`.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The route that answered (a response extension): the route template, or
/// `/ext/<extension>/<endpoint>` for extension endpoints. Responses without
/// one (refused before routing: 401, 429, a filter's 403; or no route) are
/// counted under [`UNMATCHED`].
#[derive(Clone, Debug)]
pub struct MatchedRoute(pub String);

pub const UNMATCHED: &str = "unmatched";

fn peer(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| format!("ip:{}", addr.ip()))
        .unwrap_or_else(|| "ip:unknown".into())
}

fn context(request_id: &str, caller: Option<&Caller>) -> Context {
    Context {
        project_id: caller.and_then(|c| c.principal.as_ref().map(|p| p.project.clone())),
        user_id: caller.and_then(|c| c.admin.as_ref().map(|a| a.user_id.clone())),
        trace_id: Some(request_id.to_string()),
    }
}

fn with_caller(mut response: Response, caller: Caller) -> Response {
    response.extensions_mut().insert(caller);
    response
}

/// Outermost: request id, events, usage analytics.
pub async fn observe(State(gw): State<Gateway>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::now_v7().to_string();
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    gw.events().emit(
        REQUEST_RECEIVED,
        json!({"request_id": request_id, "method": method.as_str(), "path": path, "client_id": peer(&request)}),
        context(&request_id, None),
    );
    let mut response = next.run(request).await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let route = response
        .extensions()
        .get::<MatchedRoute>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| UNMATCHED.into());
    let status = response.status().as_u16();
    gw.usage().record(&route, status, duration_ms);
    let caller = response.extensions().get::<Caller>();
    let data = json!({
        "request_id": request_id, "method": method.as_str(), "path": path, "route": route,
        "status": status, "duration_ms": duration_ms,
        "client_id": caller.map(|c| c.client_id.clone()),
    });
    let ctx = context(&request_id, caller);
    if response.status().is_server_error() {
        let mut error = data.clone();
        error["error"] = json!(response.extensions().get::<ErrorCode>().map(|c| c.0));
        gw.events().emit(ERROR_OCCURRED, error, ctx.clone());
    }
    gw.events().emit(RESPONSE_SENT, data, ctx);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Resolves the API key, or else the MagUI session, if any; refuses a bad key.
pub async fn authenticate(State(gw): State<Gateway>, mut request: Request, next: Next) -> Response {
    let ip = peer(&request);
    let resource = request.uri().path().to_string();
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    let caller = match header {
        Some(_) => match gw.keys().authenticate_any(header).await {
            Ok(Holder::Project(principal)) => Caller {
                client_id: format!("key:{}", principal.key_id),
                principal: Some(principal),
                admin: None,
                token_id: None,
                resource,
            },
            Ok(Holder::User { admin, token_id }) => Caller {
                client_id: format!("user:{}", admin.user_id),
                principal: None,
                admin: Some(admin),
                token_id: Some(token_id),
                resource,
            },
            Err(e) => {
                let caller = Caller::anonymous(ip, &resource);
                let error = gw.charge_failed_auth(&caller, request.uri().path(), e);
                return with_caller(error.into_response(), caller);
            }
        },
        None => match gw.admin_session(request.extensions()).await {
            Ok(Some(admin)) => Caller {
                client_id: format!("user:{}", admin.user_id),
                principal: None,
                admin: Some(admin),
                token_id: None,
                resource,
            },
            Ok(None) => Caller::anonymous(ip, &resource),
            Err(e) => {
                return with_caller(e.into_response(), Caller::anonymous(ip, &resource));
            }
        },
    };
    let open = !gw.config().require_api_key || gw.is_public(request.uri().path());
    if !caller.is_authenticated() && !open {
        let error = gw.charge_failed_auth(&caller, request.uri().path(), GateError::MissingKey);
        return with_caller(error.into_response(), caller);
    }
    request.extensions_mut().insert(caller.clone());
    with_caller(next.run(request).await, caller)
}

fn caller_of(request: &Request) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller::anonymous(peer(request), request.uri().path()))
}

/// Counts the request against its client's quota (and an extension's stricter one).
pub async fn rate_limit(State(gw): State<Gateway>, request: Request, next: Next) -> Response {
    let caller = caller_of(&request);
    let route = request.uri().path().to_string();
    match gw.admit(&caller, &route).await {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// `wrap_request` and `rbac_resolver` before, `transform_response` after.
pub async fn filter(State(gw): State<Gateway>, request: Request, next: Next) -> Response {
    match filtered(&gw, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn filtered(gw: &Gateway, mut request: Request, next: Next) -> Result<Response, Response> {
    let caller = caller_of(&request);
    let wrapped = offered(gw.kernel().offer("wrap_request", || {
        filters::wrap_request_payload(&request, &caller)
    }))
    .await;
    if let Some(payload) = proceed(wrapped).map_err(IntoResponse::into_response)? {
        filters::apply_wrap_request(&mut request, &payload).map_err(IntoResponse::into_response)?;
    }
    if caller.is_authenticated() {
        let resolved = offered(
            gw.kernel()
                .offer("rbac_resolver", || filters::rbac_payload(&request, &caller)),
        )
        .await;
        let decided = proceed(resolved).map_err(IntoResponse::into_response)?;
        if decided.is_some_and(|d| !filters::rbac_allows(&d)) {
            return Err(GateError::Denied {
                extension: "rbac_resolver".into(),
                reason: "an rbac_resolver filter changed the decision to deny".into(),
            }
            .into_response());
        }
    }
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    if let Some(caller) = request.extensions_mut().get_mut::<Caller>() {
        caller.resource = path.clone();
    }
    let response = next.run(request).await;
    Ok(transform(gw, &method, &path, response)
        .await
        .unwrap_or_else(IntoResponse::into_response))
}

/// Waits for a hook offered with `GateKernel::offer` (`None`: nobody
/// handles it).
async fn offered(
    offer: Option<impl Future<Output = Result<Dispatched, GateError>>>,
) -> Result<Option<Dispatched>, GateError> {
    match offer {
        Some(dispatch) => dispatch.await.map(Some),
        None => Ok(None),
    }
}

/// The payload to go ahead with (`None`: nobody handled the hook), or the
/// denial as a 403.
fn proceed(dispatched: Result<Option<Dispatched>, GateError>) -> Result<Option<String>, GateError> {
    match dispatched? {
        None => Ok(None),
        Some(Dispatched::Proceed { payload }) => Ok(Some(payload)),
        Some(Dispatched::Denied { extension, reason }) => {
            Err(GateError::Denied { extension, reason })
        }
    }
}

/// Runs `transform_response` over a buffered response (only when handled).
async fn transform(
    gw: &Gateway,
    method: &Method,
    path: &str,
    response: Response,
) -> Result<Response, GateError> {
    if !gw.kernel().has_handlers("transform_response") {
        return Ok(response);
    }
    let (mut parts, body) = response.into_parts();
    let body = to_bytes(body, gw.config().max_response_bytes)
        .await
        .map_err(|e| GateError::BadGateway(format!("cannot read the response: {e}")))?;
    let mut view = ResponseView {
        status: parts.status,
        headers: parts.headers.clone(),
        body,
    };
    let transformed = offered(gw.kernel().offer("transform_response", || {
        filters::response_payload(method, path, &view)
    }))
    .await;
    if let Some(modified) = proceed(transformed)? {
        filters::apply_transform(&mut view, &modified)?;
    }
    parts.status = view.status;
    parts.headers = view.headers;
    Ok(Response::from_parts(parts, Body::from(view.body)))
}

/// Innermost (a route layer): names the route that answered.
pub async fn tag_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let mut response = next.run(request).await;
    if let Some(route) = route
        && response.extensions().get::<MatchedRoute>().is_none()
    {
        response.extensions_mut().insert(MatchedRoute(route));
    }
    response
}

impl Gateway {
    /// Decides whether `caller` may make one more request to `route`.
    pub(crate) async fn admit(&self, caller: &Caller, route: &str) -> Result<(), GateError> {
        let platform = self.limits().platform();
        let chosen = offered(self.kernel().offer("rate_limit_strategy", || {
            filters::rate_limit_payload(caller, route, platform)
        }))
        .await?;
        let chosen = match chosen {
            None => None,
            Some(Dispatched::Proceed { payload }) => filters::rate_limit_quota(&payload),
            Some(Dispatched::Denied { extension, reason }) => {
                let error = GateError::RateLimited {
                    retry_after_s: platform.window_s,
                    reason: Some(format!("{extension}: {reason}")),
                };
                self.exceeded(caller, route, platform, platform.window_s);
                return Err(error);
            }
        };
        self.limits()
            .check(&caller.client_id, chosen)
            .map_err(|wait| {
                let retry_after_s = retry_after_secs(wait);
                let quota = chosen
                    .map(|q| q.no_looser_than(platform))
                    .unwrap_or(platform);
                self.exceeded(caller, route, quota, retry_after_s);
                GateError::RateLimited {
                    retry_after_s,
                    reason: None,
                }
            })
    }

    /// A failed authentication costs the peer one request of its quota.
    pub(crate) fn charge_failed_auth(
        &self,
        caller: &Caller,
        route: &str,
        error: GateError,
    ) -> GateError {
        match self.limits().check(&caller.client_id, None) {
            Ok(()) => error,
            Err(wait) => {
                let retry_after_s = retry_after_secs(wait);
                self.exceeded(caller, route, self.limits().platform(), retry_after_s);
                GateError::RateLimited {
                    retry_after_s,
                    reason: None,
                }
            }
        }
    }

    fn exceeded(&self, caller: &Caller, route: &str, quota: Quota, retry_after_s: u64) {
        self.events().emit(
            RATE_LIMIT_EXCEEDED,
            json!({
                "client_id": caller.client_id, "route": route, "limit": quota.limit,
                "window_s": quota.window_s, "retry_after_s": retry_after_s,
            }),
            Context {
                project_id: caller.principal.as_ref().map(|p| p.project.clone()),
                ..Context::default()
            },
        );
    }
}
