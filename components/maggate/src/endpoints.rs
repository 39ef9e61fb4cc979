//! Extension endpoints:
//! `[/<version>]/ext/<publisher>/<name>/<endpoint>[/<rest>][?query]` served
//! by the extension's `handle-request` export.
//!
//! Guarantees: a request reaches an extension only when, at that moment, the
//! extension is loaded and may run, its manifest contributes an endpoint whose
//! id is the first path segment in the API version asked for (`/v2/ext/...`;
//! without a version, the endpoint's lowest one), and it holds `api.register_endpoint` (the
//! policy gate decides per call); otherwise the answer is 404, so a revoked
//! grant takes effect at the next request. The body is read up to
//! [`crate::GateConfig::max_body_bytes`] (more is a 413 before any guest code
//! runs); the guest runs under its budgets, on the async thread while its
//! calls have been quick (see `GateKernel`), otherwise on a blocking thread,
//! where the gateway stops waiting one second after the guest's own deadline
//! (504; inline, the guest's own deadline stops it).
//! The guest sees the method, the path below its mount point with the query
//! string, the API version served in `x-magflock-api-version` (a client
//! cannot set it), the request headers except credentials (`authorization`,
//! `cookie`, `proxy-authorization`) and hop-by-hop headers, and the body. Its
//! response headers are passed on except `set-cookie`, hop-by-hop headers and
//! `content-length`.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode};
use magflock_kernel::Capability;
use magflock_kernel::manifest::{ContributionKind, Manifest, is_api_version};
use magflock_sandbox::{Header, HttpRequest, HttpResponse, LoadedExtension};
use std::sync::Arc;
use std::time::Duration;

use crate::kernel::runs_inline;
use crate::pipeline::MatchedRoute;
use crate::{GateError, GateKernel, Gateway};

/// Extension endpoints live under this prefix.
pub const MOUNT: &str = "/ext";
/// How long after the guest's deadline the gateway gives up waiting.
const GRACE: Duration = Duration::from_secs(1);
const DROPPED_RESPONSE_HEADERS: [&str; 9] = [
    "set-cookie",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "proxy-authenticate",
];

/// The request header telling the guest which API version was asked for.
pub const API_VERSION_HEADER: &str = "x-magflock-api-version";

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    /// `Some("v2")` for `/v2/ext/...`; `None` for `/ext/...` (the endpoint's
    /// lowest version).
    version: Option<&'a str>,
    extension: String,
    endpoint: &'a str,
    /// The path below the extension's mount point (starting with the endpoint id).
    rest: &'a str,
}

/// Parses `[/<version>]/ext/<publisher>/<name>/<endpoint>[/...]`.
fn target(path: &str) -> Option<Target<'_>> {
    let (version, below) = match path.strip_prefix(MOUNT) {
        Some(below) => (None, below),
        None => {
            let (version, below) = path.strip_prefix('/')?.split_once('/')?;
            let below = below.strip_prefix(&MOUNT[1..])?;
            (Some(version).filter(|v| is_api_version(v))?.into(), below)
        }
    };
    let below = below.strip_prefix('/')?;
    let mut parts = below.splitn(3, '/');
    let (publisher, name, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let endpoint = rest.split('/').next().filter(|e| !e.is_empty())?;
    Some(Target {
        version,
        extension: format!("{publisher}/{name}"),
        endpoint,
        rest,
    })
}

/// The endpoint ids a manifest contributes.
pub fn contributed(
    manifest: &Manifest,
) -> impl Iterator<Item = &magflock_kernel::manifest::Contribution> {
    manifest
        .contributions
        .iter()
        .filter(|c| c.kind == ContributionKind::Endpoint)
}

/// The loaded extensions whose endpoints are served now (those holding
/// `api.register_endpoint` at this moment).
pub fn serving(kernel: &GateKernel) -> impl Iterator<Item = Arc<LoadedExtension>> + '_ {
    kernel.sandbox.loaded().into_iter().filter(|loaded| {
        kernel
            .gate
            .check(loaded.id(), Capability::ApiRegisterEndpoint)
            .is_ok()
    })
}

/// The extension serving `endpoint` of `id` in `version` now (and the
/// version it serves), or 404.
fn owner(
    kernel: &GateKernel,
    id: &str,
    endpoint: &str,
    version: Option<&str>,
) -> Result<(Arc<LoadedExtension>, String), GateError> {
    let not_found = || {
        let version = version.map(|v| format!(" in API {v}")).unwrap_or_default();
        GateError::NotFound(format!(
            "extension '{id}' serves no endpoint '{endpoint}'{version}"
        ))
    };
    let loaded = kernel.sandbox.get(id).map_err(|_| not_found())?;
    let served = contributed(loaded.manifest())
        .find(|c| c.id == endpoint)
        .and_then(|c| match version {
            None => c.versions.first().cloned(),
            Some(v) => c.versions.iter().find(|have| *have == v).cloned(),
        })
        .ok_or_else(not_found)?;
    kernel
        .gate
        .check(id, Capability::ApiRegisterEndpoint)
        .map_err(|_| not_found())?;
    Ok((loaded, served))
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, GateError> {
    to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            GateError::PayloadTooLarge { limit }
        } else {
            GateError::BadRequest(format!("cannot read the request body: {e}"))
        }
    })
}

async fn call_guest(
    loaded: Arc<LoadedExtension>,
    request: HttpRequest,
) -> Result<HttpResponse, GateError> {
    let extension = loaded.id().to_string();
    if runs_inline(&loaded) {
        return loaded.handle_request(&request).map_err(GateError::from);
    }
    let wait = Duration::from_millis(loaded.manifest().budgets.deadline_ms) + GRACE;
    let call = tokio::task::spawn_blocking(move || loaded.handle_request(&request));
    match tokio::time::timeout(wait, call).await {
        Err(_) => Err(GateError::Timeout { extension }),
        Ok(Err(e)) => Err(GateError::Internal(format!("extension '{extension}': {e}"))),
        Ok(Ok(answer)) => answer.map_err(GateError::from),
    }
}

fn into_response(extension: &str, answer: HttpResponse) -> Result<Response, GateError> {
    let status = StatusCode::from_u16(answer.status).map_err(|_| {
        GateError::BadGateway(format!(
            "extension '{extension}' answered status {}",
            answer.status
        ))
    })?;
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = status;
    for header in answer.headers {
        let name = header.name.to_ascii_lowercase();
        if DROPPED_RESPONSE_HEADERS.contains(&name.as_str()) {
            continue;
        }
        match (
            HeaderName::try_from(name),
            HeaderValue::try_from(header.value),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => tracing::debug!(extension, "dropped an invalid response header"),
        }
    }
    Ok(response)
}

/// The handler of `/ext/{publisher}/{name}/{*path}` and
/// `/{version}/ext/{publisher}/{name}/{*path}`. Once the endpoint is known,
/// its answer (success or error) is counted under
/// `[/<version>]/ext/<extension>/<endpoint>`.
pub async fn serve(State(gw): State<Gateway>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let Some(target) = target(&path) else {
        return GateError::NotFound(format!("no route for {path}")).into_response();
    };
    let (loaded, version) = match owner(
        gw.kernel(),
        &target.extension,
        target.endpoint,
        target.version,
    ) {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let mut response = match call(&gw, loaded, &target, &version, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    let route = format!("{MOUNT}/{}/{}", target.extension, target.endpoint);
    let route = match target.version {
        Some(v) => format!("/{v}{route}"),
        None => route,
    };
    response.extensions_mut().insert(MatchedRoute(route));
    response
}

async fn call(
    gw: &Gateway,
    loaded: Arc<LoadedExtension>,
    target: &Target<'_>,
    version: &str,
    request: Request,
) -> Result<Response, GateError> {
    let (parts, body) = request.into_parts();
    let body = read_body(body, gw.config().max_body_bytes).await?;
    let below = match parts.uri.query() {
        Some(query) => format!("{}?{query}", target.rest),
        None => target.rest.to_string(),
    };
    let mut headers = guest_headers(&parts.headers);
    headers.push(Header {
        name: API_VERSION_HEADER.into(),
        value: version.into(),
    });
    let guest_request = HttpRequest {
        method: parts.method.to_string(),
        path: below,
        headers,
        body: body.to_vec(),
    };
    into_response(&target.extension, call_guest(loaded, guest_request).await?)
}

/// Request headers an extension may see: never credentials, never
/// hop-by-hop headers; values that are not text are left out.
fn guest_headers(headers: &http::HeaderMap) -> Vec<Header> {
    const HIDDEN: [&str; 10] = [
        API_VERSION_HEADER,
        "authorization",
        "cookie",
        "proxy-authorization",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    headers
        .iter()
        .filter(|(name, _)| !HIDDEN.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            value.to_str().ok().map(|value| Header {
                name: name.as_str().to_string(),
                value: value.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guests_never_see_credentials() {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "Bearer mf_secret".parse().unwrap());
        headers.insert("cookie", "magflock_session=abc".parse().unwrap());
        headers.insert("accept", "application/json".parse().unwrap());
        headers.insert("x-trace", "t-1".parse().unwrap());
        let seen: Vec<(String, String)> = guest_headers(&headers)
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect();
        assert_eq!(
            seen,
            [
                ("accept".to_string(), "application/json".to_string()),
                ("x-trace".to_string(), "t-1".to_string())
            ]
        );
    }

    #[test]
    fn paths_name_the_version_the_extension_the_endpoint_and_the_rest() {
        let found = |path| target(path).map(|t| (t.version, t.extension, t.endpoint, t.rest));
        assert_eq!(
            found("/ext/magflock/naming-policy/check"),
            Some((None, "magflock/naming-policy".into(), "check", "check"))
        );
        assert_eq!(
            found("/ext/a/b/items/42/x"),
            Some((None, "a/b".into(), "items", "items/42/x"))
        );
        assert_eq!(
            found("/v2/ext/a/b/items/42"),
            Some((Some("v2"), "a/b".into(), "items", "items/42"))
        );
        assert_eq!(found("/v0/ext/a/b/items"), None);
        assert_eq!(found("/x2/ext/a/b/items"), None);
        assert_eq!(found("/v2/other/a/b/items"), None);
        assert_eq!(found("/ext/a/b/"), None);
        assert_eq!(found("/ext/a"), None);
        assert_eq!(found("/other/a/b/c"), None);
    }
}
