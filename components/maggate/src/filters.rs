//! The JSON payloads of the MagGate filters (`wrap_request`,
//! `transform_response`, `rbac_resolver`, `rate_limit_strategy`) and how a
//! filter's modification is applied back.
//!
//! Guarantees: filters never see credentials: `authorization`,
//! `proxy-authorization` and `cookie` request headers (and `set-cookie` on
//! responses) are left out of payloads, and a modification can neither read,
//! set nor remove them. A modification replaces exactly what the payload
//! showed (method, path with query, headers; status, headers, body) and
//! nothing else; one that is not well formed (unknown method, a path not
//! starting with `/`, a status outside 100..=599, a header that is not valid)
//! is refused as a bad gateway rather than half applied. A response body is
//! shown (and can be replaced) only when it is UTF-8 text of at most
//! [`MAX_FILTER_BODY`] bytes; otherwise `body` is `null` and the body is kept.

use axum::body::Bytes;
use axum::extract::Request;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use serde_json::{Map, Value, json};

use crate::GateError;
use crate::limit::Quota;
use crate::pipeline::Caller;

const HIDDEN_REQUEST: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];
const HIDDEN_RESPONSE: [&str; 1] = ["set-cookie"];
/// The largest response body a `transform_response` filter sees.
pub const MAX_FILTER_BODY: usize = 256 * 1024;
/// The request header carrying a `wrap_request` filter's `tagged_by`.
pub const TAGGED_BY_HEADER: &str = "x-magflock-tagged-by";

fn invalid(hook: &str, problem: impl std::fmt::Display) -> GateError {
    GateError::BadGateway(format!(
        "a {hook} filter returned an invalid modification: {problem}"
    ))
}

fn headers_json(headers: &HeaderMap, hidden: &[&str]) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        if hidden.contains(&name.as_str()) {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        match map.get_mut(name.as_str()) {
            Some(Value::String(seen)) => {
                seen.push_str(", ");
                seen.push_str(value);
            }
            _ => {
                map.insert(name.as_str().to_string(), json!(value));
            }
        }
    }
    Value::Object(map)
}

/// Replaces the visible headers with `modified` (an object of strings).
fn apply_headers(
    hook: &str,
    headers: &mut HeaderMap,
    modified: &Value,
    hidden: &[&str],
) -> Result<(), GateError> {
    let object = modified
        .as_object()
        .ok_or_else(|| invalid(hook, "headers must be an object"))?;
    let mut next = HeaderMap::new();
    for (name, value) in headers.iter() {
        if hidden.contains(&name.as_str()) {
            next.append(name.clone(), value.clone());
        }
    }
    for (name, value) in object {
        let name = HeaderName::try_from(name.as_str()).map_err(|e| invalid(hook, e))?;
        if hidden.contains(&name.as_str()) {
            continue;
        }
        let value = value
            .as_str()
            .ok_or_else(|| invalid(hook, format!("header {name} must be a string")))?;
        next.insert(
            name,
            HeaderValue::try_from(value).map_err(|e| invalid(hook, e))?,
        );
    }
    *headers = next;
    Ok(())
}

fn parse(hook: &str, payload: &str) -> Result<Value, GateError> {
    serde_json::from_str(payload).map_err(|e| invalid(hook, e))
}

fn path_and_query(uri: &Uri) -> String {
    uri.path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string())
}

/// The `wrap_request` payload of a request.
pub fn wrap_request_payload(request: &Request, caller: &Caller) -> Value {
    json!({
        "method": request.method().as_str(),
        "path": path_and_query(request.uri()),
        "headers": headers_json(request.headers(), &HIDDEN_REQUEST),
        "client_id": caller.client_id,
        "project_id": caller.principal.as_ref().map(|p| p.project.clone()),
    })
}

/// Applies a `wrap_request` filter's (possibly modified) payload.
pub fn apply_wrap_request(request: &mut Request, payload: &str) -> Result<(), GateError> {
    const HOOK: &str = "wrap_request";
    let value = parse(HOOK, payload)?;
    let method = value["method"].as_str().unwrap_or_default();
    *request.method_mut() = Method::from_bytes(method.as_bytes()).map_err(|e| invalid(HOOK, e))?;
    let path = value["path"].as_str().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(invalid(HOOK, "the path must start with '/'"));
    }
    if path != path_and_query(request.uri()) {
        *request.uri_mut() = path.parse::<Uri>().map_err(|e| invalid(HOOK, e))?;
    }
    apply_headers(
        HOOK,
        request.headers_mut(),
        &value["headers"],
        &HIDDEN_REQUEST,
    )?;
    if let Some(tag) = value.get("tagged_by").and_then(Value::as_str) {
        let tag = HeaderValue::try_from(tag).map_err(|e| invalid(HOOK, e))?;
        request
            .headers_mut()
            .insert(HeaderName::from_static(TAGGED_BY_HEADER), tag);
    }
    Ok(())
}

/// The `rbac_resolver` payload: an API key acts with the role `api_key`, a
/// MagUI user with their role; the platform's decision so far is `allow` (the
/// caller was authenticated). Each route still applies its own role check
/// afterwards, which no filter can lift: a filter can only turn `allow` into
/// `deny`.
pub fn rbac_payload(request: &Request, caller: &Caller) -> Value {
    let role = caller.admin.as_ref().map_or("api_key", |a| a.role.as_str());
    json!({
        "user_id": caller.client_id,
        "roles": [role],
        "method": request.method().as_str(),
        "path": request.uri().path(),
        "decision": "allow",
        "project_id": caller.principal.as_ref().map(|p| p.project.clone()),
    })
}

/// Whether a (possibly modified) `rbac_resolver` payload still allows.
pub fn rbac_allows(payload: &str) -> bool {
    serde_json::from_str::<Value>(payload)
        .ok()
        .and_then(|v| v["decision"].as_str().map(|d| d == "allow"))
        .unwrap_or(false)
}

/// The `rate_limit_strategy` payload with the platform's quota.
pub fn rate_limit_payload(caller: &Caller, route: &str, platform: Quota) -> Value {
    json!({
        "client_id": caller.client_id,
        "route": route,
        "limit": platform.limit,
        "window_s": platform.window_s,
        "project_id": caller.principal.as_ref().map(|p| p.project.clone()),
    })
}

/// The quota a (possibly modified) `rate_limit_strategy` payload asks for.
pub fn rate_limit_quota(payload: &str) -> Option<Quota> {
    let value: Value = serde_json::from_str(payload).ok()?;
    let limit = u32::try_from(value["limit"].as_u64()?).ok()?;
    Some(Quota::new(limit, value["window_s"].as_u64()?))
}

/// What a `transform_response` filter sees and may change.
pub struct ResponseView {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

fn shown_body(body: &Bytes) -> Value {
    match std::str::from_utf8(body) {
        Ok(text) if body.len() <= MAX_FILTER_BODY => json!(text),
        _ => Value::Null,
    }
}

/// The `transform_response` payload.
pub fn response_payload(method: &Method, path: &str, view: &ResponseView) -> Value {
    json!({
        "method": method.as_str(),
        "path": path,
        "status": view.status.as_u16(),
        "headers": headers_json(&view.headers, &HIDDEN_RESPONSE),
        "body": shown_body(&view.body),
    })
}

/// Applies a `transform_response` filter's (possibly modified) payload.
pub fn apply_transform(view: &mut ResponseView, payload: &str) -> Result<(), GateError> {
    const HOOK: &str = "transform_response";
    let value = parse(HOOK, payload)?;
    let status = value["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| invalid(HOOK, "status must be 100..=599"))?;
    let mut headers = view.headers.clone();
    apply_headers(HOOK, &mut headers, &value["headers"], &HIDDEN_RESPONSE)?;
    if let Some(text) = value["body"].as_str()
        && shown_body(&view.body).as_str() != Some(text)
    {
        view.body = Bytes::from(text.to_string());
    }
    headers.remove(http::header::CONTENT_LENGTH);
    view.status = status;
    view.headers = headers;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            principal: None,
            admin: None,
            token_id: None,
            client_id: "ip:127.0.0.1".into(),
            resource: "/v1/x".into(),
        }
    }

    #[test]
    fn credentials_never_reach_filters_and_cannot_be_changed() {
        let mut request = Request::builder()
            .uri("/v1/x?a=1")
            .header("authorization", "Bearer mf_secret")
            .header("x-a", "1")
            .body(axum::body::Body::empty())
            .unwrap();
        let payload = wrap_request_payload(&request, &caller());
        assert!(!payload.to_string().contains("mf_secret"));
        assert_eq!(payload["path"], "/v1/x?a=1");
        let modified = json!({
            "method": "POST",
            "path": "/v1/y",
            "headers": {"x-b": "2", "authorization": "Bearer mf_other"},
            "tagged_by": "acme/tagger",
        });
        apply_wrap_request(&mut request, &modified.to_string()).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri().path(), "/v1/y");
        assert_eq!(request.headers()["authorization"], "Bearer mf_secret");
        assert!(request.headers().get("x-a").is_none());
        assert_eq!(request.headers()["x-b"], "2");
        assert_eq!(request.headers()[TAGGED_BY_HEADER], "acme/tagger");
        let bad = json!({"method": "GET", "path": "nope", "headers": {}});
        assert!(apply_wrap_request(&mut request, &bad.to_string()).is_err());
    }

    #[test]
    fn a_transform_changes_status_headers_and_text_bodies() {
        let mut view = ResponseView {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"{\"a\":1}"),
        };
        let payload = response_payload(&Method::GET, "/x", &view);
        assert_eq!(payload["body"], "{\"a\":1}");
        let modified = json!({"method": "GET", "path": "/x", "status": 201,
            "headers": {"x-t": "yes"}, "body": "changed"});
        apply_transform(&mut view, &modified.to_string()).unwrap();
        assert_eq!(view.status, StatusCode::CREATED);
        assert_eq!(view.headers["x-t"], "yes");
        assert_eq!(&view.body[..], b"changed");
        let binary = ResponseView {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(&[0xff, 0xfe]),
        };
        assert_eq!(
            response_payload(&Method::GET, "/x", &binary)["body"],
            Value::Null
        );
    }
}
